"""Best checkpoint step from the eval log (``train_eval_result.jsonl``).

The eval log is the only source: one JSON object per evaluation, ``global_step``
first, NaN/inf written as ``null``. A killed run may leave a torn last line, so
unreadable lines are skipped with a warning instead of failing the export.
"""

from __future__ import annotations

import logging
import math
from typing import Any

from tzrec.monitor import events
from tzrec.utils.errors import CheckpointError

logger = logging.getLogger("tzrec")


def read_jsonl(path: str) -> list[dict[str, Any]]:
    """The JSON objects of a JSONL file; torn lines skipped with a warning.

    Kept for callers of this module; the reading itself is
    :func:`tzrec.monitor.events.read_jsonl`, shared with the writer's side.
    """
    return events.read_jsonl(path)


def _score(value: Any) -> float | None:
    """Returns the metric as a finite float, or None when it ranks worst."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    value = float(value)
    return value if math.isfinite(value) else None


def best_step(
    eval_log_path: str,
    metric: str = "auc",
    larger_is_better: bool = True,
    complete_steps: set[int] | None = None,
) -> tuple[int, float] | None:
    """Finds the evaluated step with the best value of ``metric``.

    NaN, null, inf and a missing metric rank worst and never win; ties go to
    the earliest step; when a step was evaluated twice its last line counts.

    Args:
        eval_log_path: path of ``train_eval_result.jsonl``.
        metric: metric key to rank by (``export_config.best_exporter_metric``).
        larger_is_better: ranking direction (``metric_larger_is_better``).
        complete_steps: when given, only these steps qualify (the steps of
            complete checkpoints).

    Returns:
        ``(step, value)`` of the best qualifying evaluation, or None when the
        log is missing/empty or no qualifying step has a finite value.

    Raises:
        CheckpointError: the log has evaluations but ``metric`` is in none of
            them; the message lists the metric names that do appear.

    """
    scores: dict[int, float | None] = {}
    names: set[str] = set()
    seen_metric = False
    for record in events.read_records(eval_log_path):
        step = record["global_step"]
        names.update(k for k in record if k != "global_step")
        seen_metric = seen_metric or metric in record
        scores[step] = _score(record.get(metric))
    if not scores:
        return None
    if not seen_metric:
        raise CheckpointError(
            f'metric "{metric}" is in no evaluation',
            eval_log_path,
            "set export_config.best_exporter_metric to one of: "
            + (", ".join(sorted(names)) or "(no metrics logged)"),
        )
    best: tuple[int, float] | None = None
    for step in sorted(scores):
        value = scores[step]
        if value is None or (complete_steps is not None and step not in complete_steps):
            continue
        if best is None or (value > best[1] if larger_is_better else value < best[1]):
            best = (step, value)
    if best is None:
        logger.warning(
            'no qualifying evaluation has a finite "%s" in %s', metric, eval_log_path
        )
    return best
