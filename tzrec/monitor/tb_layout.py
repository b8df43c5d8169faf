"""TensorBoard custom-scalars layout and how the best evaluation so far is drawn.

Train scalars live in ``model_dir/`` and eval scalars in ``model_dir/eval_val/``
under the same tags, so a custom-scalars chart whose regex matches one tag
draws the train and the eval curve of that metric in one chart. Such a chart
is made only where both sides exist: a chart with one curve says nothing a
Time Series card does not.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable
from typing import Any

from tzrec.monitor import keys
from tzrec.run_dir.best import BestSoFar

Layout = dict[str, dict[str, list[Any]]]

CATEGORY_TRAIN_EVAL = "train vs eval"
CATEGORY_STEP_TIME = "step time split (ms)"
CATEGORY_PERF = "throughput and memory"


def _exact(tag: str) -> str:
    return f"^{re.escape(tag)}$"


def custom_scalars_layout(
    eval_names: Iterable[str], train_metric_names: Iterable[str] = ()
) -> Layout:
    """Charts for TensorBoard's custom-scalars dashboard.

    Custom Scalars colours lines by run, not by tag, so every chart holds one
    tag (one line per run, train and eval of one metric overlaid); the step
    time phases get a chart each.

    Args:
        eval_names: eval-log keys (``auc``, ``loss_<name>``, ...).
        train_metric_names: decayed train metrics logged (``auc``, ...).

    Returns:
        ``{category: {chart title: ["Multiline", [tag regex, ...]]}}``, the
        form ``SummaryWriter.add_custom_scalars`` takes.
    """
    train = set(train_metric_names)
    paired = [
        n for n in eval_names if n.startswith(keys.EVAL_LOSS_PREFIX) or n in train
    ]
    # Losses first, then metrics.
    paired.sort(key=lambda n: not n.startswith(keys.EVAL_LOSS_PREFIX))
    layout: Layout = {}
    if paired:
        layout[CATEGORY_TRAIN_EVAL] = {
            keys.eval_tag(n): ["Multiline", [_exact(keys.eval_tag(n))]] for n in paired
        }
    layout[CATEGORY_STEP_TIME] = {
        keys.step_time_tag(p): ["Multiline", [_exact(keys.step_time_tag(p))]]
        for p in (*keys.STEP_PHASES, "total")
    }
    layout[CATEGORY_PERF] = {
        "samples/s (train and eval)": [
            "Multiline",
            [_exact(keys.PERF_SAMPLES_PER_SEC), _exact(keys.PERF_EVAL_SAMPLES_PER_SEC)],
        ],
        keys.PERF_RSS_MB: ["Multiline", [_exact(keys.PERF_RSS_MB)]],
    }
    return layout


def best_scalars(best: BestSoFar) -> dict[str, float]:
    """``run/best_step`` and every finite metric of the best evaluation."""
    out = {keys.BEST_STEP: float(best.step or 0)}
    for name, v in best.record.items():
        if isinstance(v, float) and math.isfinite(v):
            out[keys.best_tag(name)] = v
    return out


def best_markdown(best: BestSoFar) -> str:
    """The best step and its metrics, as a markdown table (TensorBoard text)."""
    better = "larger" if best.higher_is_better else "smaller"
    rows = "\n".join(
        f"| {k} | {v:.6g} |" if isinstance(v, int | float) else f"| {k} | - |"
        for k, v in best.record.items()
    )
    return (
        f"**best step {best.step}** by {best.metric} ({better} is better)\n\n"
        f"| metric | value |\n|---|---|\n{rows}"
    )
