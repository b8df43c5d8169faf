"""The best checkpoint by the eval log (``train_eval_result.jsonl``).

The eval log is the only source; ranking is :class:`tzrec.run_dir.best.BestSoFar`
(NaN, null, inf and a missing metric never win; ties go to the earliest step;
a step evaluated twice counts with its last line). A killed run may leave a
torn last line: it is skipped with a warning instead of failing the export.
"""

from __future__ import annotations

import logging
from typing import Any

from tzrec.run_dir.best import BestSoFar
from tzrec.run_dir.eval_log import read_records
from tzrec.run_dir.jsonl import read_jsonl as _read_jsonl
from tzrec.utils.errors import CheckpointError

logger = logging.getLogger("tzrec")


def read_jsonl(path: str) -> list[dict[str, Any]]:
    """The JSON objects of a JSONL file; torn lines skipped with a warning.

    Kept for callers of this module; the reading itself is
    :func:`tzrec.run_dir.jsonl.read_jsonl`, shared with the writer's side.
    """
    return _read_jsonl(path)


def best_step(
    eval_log_path: str,
    metric: str = "auc",
    larger_is_better: bool = True,
    complete_steps: set[int] | None = None,
) -> tuple[int, float] | None:
    """Finds the evaluated step with the best value of ``metric``.

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
    records = read_records(eval_log_path)
    if not records:
        return None
    check_metric_logged(records, metric, eval_log_path)
    best = BestSoFar.from_records(
        metric, larger_is_better, records, steps=complete_steps
    )
    if best.step is None or best.value is None:
        logger.warning(
            'no qualifying evaluation has a finite "%s" in %s', metric, eval_log_path
        )
        return None
    return best.step, best.value


def check_metric_logged(
    records: list[dict[str, Any]], metric: str, eval_log_path: str
) -> None:
    """Raises unless some record has ``metric`` (a misspelt export metric).

    Raises:
        CheckpointError: listing the metric names the log does have.

    """
    if any(metric in rec for rec in records):
        return
    names = {k for rec in records for k in rec if k != "global_step"}
    raise CheckpointError(
        f'metric "{metric}" is in no evaluation',
        eval_log_path,
        "set export_config.best_exporter_metric to one of: "
        + (", ".join(sorted(names)) or "(no metrics logged)"),
    )
