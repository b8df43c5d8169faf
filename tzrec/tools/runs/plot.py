"""``runs plot``: loss, metric and throughput curves of runs in one PNG.

Each run has one colour. Eval values (from the eval log) are solid lines
with dots, train values (TensorBoard) dashed; a star marks the best step of
the export metric and a dotted vertical line marks it on every panel.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

from tzrec.monitor import keys
from tzrec.tools.runs.compare import labels
from tzrec.tools.runs.load import Run, finite
from tzrec.tools.runs.tb import run_scalars, total_loss_series
from tzrec.tools.runs.timeline import event_time

Series = list[tuple[int, float]]
_STYLE: dict[str, dict[str, Any]] = {
    "eval": {"marker": "o", "markersize": 3, "linewidth": 1.6},
    "train": {"linestyle": "--", "linewidth": 1.0, "alpha": 0.8},
    "perf": {"linewidth": 1.2},
}


def throughput_from_events(run: Run) -> Series:
    """Samples/s between checkpoints, eval and save time left out.

    Used when the run wrote no ``perf/samples_per_sec`` scalars.
    """
    out: Series = []
    prev: tuple[int, float] | None = None
    paused = 0.0
    for ev in run.events:
        name, t, step = ev.get("event"), event_time(ev), ev.get("step")
        if t is None or not isinstance(step, int):
            continue
        if name == keys.EVENT_RUN_STARTED:
            prev, paused = (step, t), 0.0
        elif name in (keys.EVENT_EVAL_FINISHED, keys.EVENT_CHECKPOINT_FINISHED):
            paused += float(ev.get("seconds") or 0.0)
        elif name == keys.EVENT_CHECKPOINT_STARTED and prev is not None:
            secs = t - prev[1] - paused
            rows = run.samples_at(step) - run.samples_at(prev[0])
            if secs > 0 and rows > 0:
                out.append((step, rows / secs))
            prev, paused = (step, t), 0.0
    return out


def _eval_series(run: Run, metric: str) -> Series:
    return [
        (r["global_step"], v)
        for r in run.evals
        if (v := finite(r.get(metric))) is not None
    ]


def panels_for(runs: Sequence[Run]) -> list[str]:
    """Panel keys: ``loss``, one per non-loss eval metric, ``throughput``."""
    names: dict[str, None] = {}
    for r in runs:
        names.update(
            (n, None) for n in r.metric_names if not n.startswith(keys.EVAL_LOSS_PREFIX)
        )
    return ["loss", *names, "throughput"]


def plot_runs(
    runs: Sequence[Run], output: str, x_axis: str = "step", dpi: int = 100
) -> dict[str, Any]:
    """Draws the curves of ``runs`` into the PNG ``output``.

    Args:
        runs: loaded runs; colours follow this order.
        output: PNG path.
        x_axis: ``step`` or ``samples`` (rows seen, for different batch sizes).
        dpi: resolution.

    Returns:
        What was drawn: ``{"output", "panels", "runs": [{"label", "run",
        "best_step", "series": {panel: number of points}}]}``.
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    panels = panels_for(runs)
    ncols = 2
    nrows = math.ceil(len(panels) / ncols)
    fig, axes = plt.subplots(nrows, ncols, figsize=(13, 3.6 * nrows), squeeze=False)
    colors = plt.rcParams["axes.prop_cycle"].by_key()["color"]
    ax_of = {p: axes[i // ncols][i % ncols] for i, p in enumerate(panels)}
    for extra in range(len(panels), nrows * ncols):
        axes[extra // ncols][extra % ncols].set_visible(False)
    drawn = []
    for i, (lab, run) in enumerate(zip(labels(len(runs)), runs)):
        color = colors[i % len(colors)]
        counts = _draw_run(run, f"{lab}: {run.name}", color, ax_of, x_axis)
        drawn.append(
            {
                "label": lab,
                "run": run.path,
                "best_step": run.best.step,
                "series": counts,
            }
        )
    _style(fig, ax_of, runs, x_axis)
    fig.savefig(output, dpi=dpi)
    plt.close(fig)
    return {"output": output, "panels": panels, "x_axis": x_axis, "runs": drawn}


def _draw_run(
    run: Run, name: str, color: str, ax_of: dict[str, Any], x_axis: str
) -> dict[str, int]:
    def xs(series: Series) -> list[float]:
        if x_axis == "samples":
            return [run.samples_at(s) for s, _ in series]
        return [s for s, _ in series]

    def line(panel: str, series: Series, kind: str, label: str) -> None:
        if not series:
            return
        ax_of[panel].plot(
            xs(series), [v for _, v in series], color=color, label=label, **_STYLE[kind]
        )
        counts[panel] = counts.get(panel, 0) + len(series)

    counts: dict[str, int] = {}
    train, _ = run_scalars(run.path)
    line("loss", total_loss_series(train), "train", f"{name} train")
    for metric in run.metric_names:
        series = _eval_series(run, metric)
        if metric.startswith(keys.EVAL_LOSS_PREFIX):
            line("loss", series, "eval", f"{name} eval {metric}")
            continue
        line(metric, series, "eval", f"{name} eval")
        line(metric, train.get(keys.metric_tag(metric), []), "train", f"{name} train")
    perf = train.get(keys.PERF_SAMPLES_PER_SEC) or throughput_from_events(run)
    line("throughput", perf, "perf", name)
    _mark_best(run, color, ax_of, xs)
    return counts


def _mark_best(run: Run, color: str, ax_of: dict[str, Any], xs: Any) -> None:
    b = run.best
    if b.step is None:
        return
    x = xs([(b.step, 0.0)])[0]
    for ax in ax_of.values():
        ax.axvline(x, color=color, linestyle=":", linewidth=1.0, alpha=0.7)
    if b.metric in ax_of and b.value is not None:
        ax_of[b.metric].plot(
            [x],
            [b.value],
            marker="*",
            markersize=15,
            color=color,
            markeredgecolor="black",
            zorder=5,
            linestyle="none",
        )


def _style(fig: Any, ax_of: dict[str, Any], runs: Sequence[Run], x_axis: str) -> None:
    best = runs[0].best
    for panel, ax in ax_of.items():
        title = panel
        if panel == "throughput":
            title = "throughput (samples/s, train)"
        elif panel == "loss":
            title = "loss (dashed: train total, solid: eval)"
        elif panel == best.metric:
            title = f"{panel} (solid: eval, dashed: train; * best step)"
        if panel.startswith("calibration"):
            title = f"{panel} (best near 1)"
            ax.axhline(1.0, color="gray", linewidth=0.8)
        ax.set_title(title, fontsize=10)
        ax.set_xlabel("samples seen" if x_axis == "samples" else "step", fontsize=9)
        ax.grid(True, alpha=0.3)
        ax.tick_params(labelsize=8)
        if ax.get_legend_handles_labels()[0]:
            ax.legend(fontsize=7, loc="best")
    names = ", ".join(f"{lab}: {r.name}" for lab, r in zip(labels(len(runs)), runs))
    fig.suptitle(f"tzrec runs - {names}", fontsize=11)
    fig.tight_layout()
