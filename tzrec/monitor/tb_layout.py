"""TensorBoard custom-scalars layout and the best-so-far eval value.

Train scalars live in ``model_dir/`` and eval scalars in ``model_dir/eval_val/``
under the same tags, so a custom-scalars chart whose regex matches one tag
draws the train and the eval curve of that metric in one chart. The hparams
view shows, per run, the last value of each linked tag; writing the best
value so far as ``best/<metric>`` at every evaluation makes that last value
the run's best.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Mapping
from typing import Any

from tzrec.monitor import keys

Layout = dict[str, dict[str, list[Any]]]

CATEGORY_TRAIN_EVAL = "train vs eval"
CATEGORY_BEST = "best so far"
CATEGORY_PERF = "throughput and memory"


def _exact(tag: str) -> str:
    return f"^{re.escape(tag)}$"


def custom_scalars_layout(
    eval_names: Iterable[str], best_metric: str | None = None
) -> Layout:
    """Charts for TensorBoard's custom-scalars dashboard.

    Args:
        eval_names: eval-log keys (``auc``, ``loss_<name>``, ...).
        best_metric: the export metric; its chart pairs the eval value with
            ``best/<metric>``.

    Returns:
        ``{category: {chart title: ["Multiline", [tag regex, ...]]}}``, the
        form ``SummaryWriter.add_custom_scalars`` takes.
    """
    names = list(eval_names)
    tags = [keys.eval_tag(n) for n in names]
    # Losses first: total (train only) and each loss (train and eval).
    tags.sort(key=lambda t: not t.startswith("loss/"))
    charts: dict[str, list[Any]] = {
        keys.LOSS_TOTAL: ["Multiline", [_exact(keys.LOSS_TOTAL)]]
    }
    for tag in tags:
        charts[tag] = ["Multiline", [_exact(tag)]]
    if not tags:  # no eval metrics known: one chart per family
        charts["loss"] = ["Multiline", ["^loss/"]]
        charts["metric"] = ["Multiline", ["^metric/"]]
    layout: Layout = {CATEGORY_TRAIN_EVAL: charts}
    if best_metric and best_metric in names:
        eval_tag, best = keys.eval_tag(best_metric), keys.best_tag(best_metric)
        layout[CATEGORY_BEST] = {best: ["Multiline", [_exact(best), _exact(eval_tag)]]}
    layout[CATEGORY_PERF] = {
        keys.PERF_SAMPLES_PER_SEC: ["Multiline", [_exact(keys.PERF_SAMPLES_PER_SEC)]],
        "perf/step_time_ms": ["Multiline", ["^perf/step_time_ms/"]],
        "perf/memory_mb": ["Multiline", ["^perf/.*_mb$"]],
    }
    return layout


class BestSoFar:
    """The best value of one eval metric so far (NaN/None never wins).

    Args:
        metric: eval-log key, e.g. ``auc``.
        larger_is_better: ranking direction.
        records: earlier eval-log records (resume), to start from their best.
    """

    def __init__(
        self,
        metric: str,
        larger_is_better: bool = True,
        records: Iterable[Mapping[str, Any]] = (),
    ) -> None:
        self.metric = metric
        self.larger_is_better = larger_is_better
        self.value: float | None = None
        self.step: int | None = None
        for rec in records:
            self.update(rec.get("global_step"), rec.get(metric))

    def update(self, step: Any, value: Any) -> bool:
        """Takes one evaluation; returns whether it is the new best."""
        if isinstance(value, bool) or not isinstance(value, int | float):
            return False
        value = float(value)
        if not math.isfinite(value):
            return False
        if self.value is not None and not (
            value > self.value if self.larger_is_better else value < self.value
        ):
            return False
        self.value, self.step = value, step if isinstance(step, int) else None
        return True
