"""``runs compare``: evaluations of several runs side by side.

Runs are labelled A, B, C... in argument order; every delta is against A.
"""

from __future__ import annotations

import string
from collections.abc import Sequence
from typing import Any

from tzrec.tools.runs.config import config_diff, fmt_config_value
from tzrec.tools.runs.load import Run, better, finite, metric_direction
from tzrec.tools.runs.show import status_line
from tzrec.tools.runs.table import fmt_delta, fmt_int, fmt_value, shorten, table

_BETTER_WORD = {"max": "higher", "min": "lower", "one": "near 1"}


def labels(n: int) -> list[str]:
    """``A``, ``B``, ... ``Z``, ``R27``, ..."""
    return [string.ascii_uppercase[i] if i < 26 else f"R{i + 1}" for i in range(n)]


def direction_of(runs: Sequence[Run], metric: str) -> str:
    """A's export direction for its export metric, else by the metric's name."""
    if metric == runs[0].best.metric:
        return "max" if runs[0].best.larger_is_better else "min"
    return metric_direction(metric)


def _best_last(run: Run, metric: str, direction: str) -> dict[str, Any]:
    best: tuple[int, float] | None = None
    last: tuple[int, float | None] | None = None
    for rec in run.evals:
        if metric not in rec:
            continue
        step, value = rec["global_step"], finite(rec.get(metric))
        last = (step, value)
        if value is not None and (
            best is None or better(metric, value, best[1], direction)
        ):
            best = (step, value)
    return {
        "best_step": best[0] if best else None,
        "best": best[1] if best else None,
        "last_step": last[0] if last else None,
        "last": last[1] if last else None,
    }


def _delta(a: float | None, b: float | None) -> float | None:
    return None if a is None or b is None else b - a


def summary(runs: Sequence[Run]) -> dict[str, Any]:
    """Best and last value of every metric per run, with deltas vs A."""
    names: dict[str, None] = {}
    for r in runs:
        names.update((n, None) for n in r.metric_names)
    out = {}
    for metric in names:
        d = direction_of(runs, metric)
        per = [_best_last(r, metric, d) for r in runs]
        for p in per:
            p["delta_best"] = _delta(per[0]["best"], p["best"])
            p["delta_last"] = _delta(per[0]["last"], p["last"])
        out[metric] = {"better": _BETTER_WORD[d], "runs": per}
    return out


def aligned(runs: Sequence[Run], by: str) -> list[dict[str, Any]]:
    """Rows keyed by step (``by="step"``) or samples seen (``"samples"``).

    Each row: ``{by: key, "values": [{metric: value} or None per run]}``.
    """
    table_: dict[int, list[Any]] = {}
    for i, r in enumerate(runs):
        for rec in r.evals:
            step = rec["global_step"]
            key = step if by == "step" else r.samples_at(step)
            row = table_.setdefault(key, [None] * len(runs))
            row[i] = {
                "global_step": step,
                **{m: finite(rec.get(m)) for m in r.metric_names},
            }
    return [{by: k, "values": table_[k]} for k in sorted(table_)]


def compare_data(runs: Sequence[Run]) -> dict[str, Any]:
    """Everything ``compare`` prints, JSON-ready."""
    labs = labels(len(runs))
    return {
        "runs": [
            {
                "label": lab,
                "run": r.path,
                "status": r.status["state"],
                "best_metric": r.best.metric,
                "best_step": r.best.step,
                "best_value": r.best.value,
                "rows_per_step": r.batch_size * r.segments[-1][1],
            }
            for lab, r in zip(labs, runs)
        ],
        "metrics": summary(runs),
        "by_step": aligned(runs, "step"),
        "by_samples": aligned(runs, "samples"),
        "config_diff": config_diff([r.config for r in runs]),
    }


def _summary_lines(data: dict[str, Any], labs: list[str]) -> list[str]:
    rows = []
    for metric, m in data["metrics"].items():
        for i, (lab, p) in enumerate(zip(labs, m["runs"])):
            rows.append(
                [
                    metric if i == 0 else "",
                    m["better"] if i == 0 else "",
                    lab,
                    fmt_value(p["best"]) if p["best_step"] is not None else "-",
                    "" if p["best_step"] is None else str(p["best_step"]),
                    fmt_delta(p["delta_best"]) if i else "",
                    fmt_value(p["last"]) if p["last_step"] is not None else "-",
                    "" if p["last_step"] is None else str(p["last_step"]),
                    fmt_delta(p["delta_last"]) if i else "",
                ]
            )
    headers = [
        "metric",
        "better",
        "run",
        "best",
        "step",
        "Δ best",
        "last",
        "step",
        "Δ last",
    ]
    return ["best and last value per metric (Δ = run - A)"] + table(
        headers, rows, align="lllrrrrrr"
    )


def _aligned_lines(
    rows: list[dict[str, Any]], by: str, metric: str, labs: list[str]
) -> list[str]:
    out = []
    for row in rows:
        vals = [v.get(metric) if v else None for v in row["values"]]
        cells = [fmt_value(v) if row["values"][i] else "" for i, v in enumerate(vals)]
        deltas = [
            fmt_delta(_delta(vals[0], v)) if row["values"][0] else "" for v in vals[1:]
        ]
        steps = (
            [str(v["global_step"]) if v else "" for v in row["values"]]
            if by == "samples"
            else []
        )
        out.append([fmt_int(row[by])] + steps + cells + deltas)
    head = [by] + ([f"step {lab}" for lab in labs] if by == "samples" else [])
    head += labs + [f"Δ {lab}" for lab in labs[1:]]
    return table(head, out, align="r" * len(head))


def compare_text(runs: Sequence[Run], metrics: Sequence[str] = ()) -> str:
    """The terminal report comparing ``runs``."""
    data = compare_data(runs)
    labs = labels(len(runs))
    rows = [[lab, r.path, status_line(r.status)] for lab, r in zip(labs, runs)]
    out = ["runs"] + table(["", "model_dir", "status"], rows, align="lll")
    out += [""] + _summary_lines(data, labs)
    shown = list(metrics) or [runs[0].best.metric]
    same = len({tuple(r.samples_at(s) for s in (1, 10**6)) for r in runs}) == 1
    for metric in shown:
        out += ["", f"{metric} by step"]
        out += _aligned_lines(data["by_step"], "step", metric, labs)
        if same:
            out.append(
                "  (every run sees the same rows per step: aligned by samples too)"
            )
        else:
            out += ["", f"{metric} by samples seen"]
            out += _aligned_lines(data["by_samples"], "samples", metric, labs)
    out += [""] + _diff_lines(data["config_diff"], labs)
    return "\n".join(out)


def _diff_lines(diff: list[dict[str, Any]], labs: list[str]) -> list[str]:
    if not diff:
        return ["config differences: none (model_dir aside)"]
    rows = [
        [d["path"]] + [shorten(fmt_config_value(v)) for v in d["values"]] for d in diff
    ]
    head = f"config differences ({len(diff)} field(s); model_dir aside)"
    return [head] + table(["field"] + labs, rows, align="l" * (len(labs) + 1))
