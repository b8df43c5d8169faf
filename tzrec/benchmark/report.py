"""Medians, spreads and ratios of the repeated runs; the table and JSON line.

Every case ran once per repeat, interleaved, so a ratio between two cases is
taken per repeat (the two ran seconds apart, under the same machine load)
and the median of those ratios is reported.
"""

from __future__ import annotations

import json
import math
import statistics
from typing import Any

Runs = dict[str, list[dict[str, float]]]  # case key -> one result per repeat


def summary(values: list[float]) -> dict[str, float]:
    """Median, min, max and spread ((max - min) / median, percent)."""
    med = statistics.median(values)
    spread = 100.0 * (max(values) - min(values)) / med if med else math.nan
    return {
        "median": med,
        "min": min(values),
        "max": max(values),
        "spread_pct": spread,
        "n": len(values),
    }


def case_summary(runs: list[dict[str, float]], rate_key: str) -> dict[str, float]:
    """``rate_key``'s summary plus the median of each other field."""
    s = summary([r[rate_key] for r in runs])
    out = {rate_key: s["median"], **{k: v for k, v in s.items() if k != "median"}}
    for key in runs[0]:
        if key != rate_key and all(key in r for r in runs):
            out[key] = statistics.median(r[key] for r in runs)
    return out


def paired_ratio(
    a: list[dict], b: list[dict], key: str, key_b: str | None = None
) -> float | None:
    """Median over repeats of ``a[i][key] / b[i][key_b]`` (``key_b``: ``key``)."""
    kb = key_b or key
    pairs = [x[key] / y[kb] for x, y in zip(a, b) if key in x and y.get(kb)]
    return statistics.median(pairs) if pairs else None


def build_result(runs: Runs, meta: dict[str, Any], primary: int, workers: int) -> dict:
    """The JSON result: per-case summaries, ratios and the run's context."""
    sizes = sorted({int(k.split("/")[1]) for k in runs if k.startswith("train/")})
    train = {str(b): case_summary(runs[f"train/{b}"], "samples_per_s") for b in sizes}
    lean = {
        str(b): case_summary(runs[f"lean/{b}"], "samples_per_s")
        for b in sizes
        if f"lean/{b}" in runs
    }
    ratios = {
        str(b): paired_ratio(runs[f"train/{b}"], runs[f"lean/{b}"], "samples_per_s")
        for b in sizes
        if f"lean/{b}" in runs
    }
    # CPU work per sample is less sensitive to other load than wall time.
    cpu_ratios = {
        str(b): paired_ratio(runs[f"lean/{b}"], runs[f"train/{b}"], "cpu_us_per_sample")
        for b in sizes
        if f"lean/{b}" in runs
    }
    reference = {
        str(b): case_summary(runs[f"reference/{b}"], "samples_per_s")
        for b in sizes
        if f"reference/{b}" in runs
    }
    vs_reference = {
        str(b): paired_ratio(
            runs[f"train/{b}"], runs[f"reference/{b}"], "samples_per_s"
        )
        for b in sizes
        if f"reference/{b}" in runs
    }
    default, off = runs.get(f"train/{primary}"), runs.get(f"train_off/{primary}")
    overhead = None
    if default and off:  # (t_default - t_off) / t_off, t = 1 / rate
        ratio = paired_ratio(off, default, "samples_per_s")
        overhead = None if ratio is None else 100.0 * (ratio - 1.0)
    data = {
        k.removeprefix("data/"): case_summary(v, "rows_per_s")
        for k, v in runs.items()
        if k.startswith("data/")
    }
    data_vs_train = None
    main_data = runs.get(f"data/parquet_w{workers}")
    if main_data and default:
        data_vs_train = paired_ratio(main_data, default, "rows_per_s", "samples_per_s")
    evals = [r for r in default or [] if "eval_samples_per_s" in r]
    return {
        **meta,
        "train": train,
        "reference": reference,
        "train_vs_reference": vs_reference,
        "eval_auc": _aucs(runs, primary),
        "lean": lean,
        "train_vs_lean": ratios,
        "train_vs_lean_cpu": cpu_ratios,
        "train_monitoring_off": case_summary(off, "samples_per_s") if off else None,
        "monitor_overhead_pct": overhead,
        "data": data,
        "data_vs_train": data_vs_train,
        "eval": case_summary(
            [{"samples_per_s": r["eval_samples_per_s"]} for r in evals], "samples_per_s"
        )
        if evals
        else None,
    }


def _aucs(runs: Runs, primary: int) -> dict[str, float | None]:
    """Median eval AUC of tzrec's train case and of the reference, and their gap."""

    def median_auc(key: str) -> float | None:
        values = [r["eval_auc"] for r in runs.get(key, []) if "eval_auc" in r]
        return statistics.median(values) if values else None

    train, ref = median_auc(f"train/{primary}"), median_auc(f"reference/{primary}")
    gap = None if train is None or ref is None else train - ref
    return {"train": train, "reference": ref, "train_minus_reference": gap}


def _fmt(x: float | None, digits: int = 0) -> str:
    return "-" if x is None else f"{x:,.{digits}f}"


def table(result: dict) -> str:
    """A short aligned table of the result, for humans."""
    rows = [("case", "median", "min", "max", "spread", "unit")]

    def add(name: str, s: dict | None, key: str, unit: str) -> None:
        if s:
            rows.append(
                (
                    name,
                    _fmt(s[key]),
                    _fmt(s["min"]),
                    _fmt(s["max"]),
                    f"{s['spread_pct']:.0f}%",
                    unit,
                )  # fmt: skip
            )

    for bs, s in result["train"].items():
        add(f"train_eval bs={bs}", s, "samples_per_s", "samples/s")
        add(
            f"reference  bs={bs}",
            result["reference"].get(bs),
            "samples_per_s",
            "samples/s",
        )
        add(f"lean loop  bs={bs}", result["lean"].get(bs), "samples_per_s", "samples/s")
    add(
        "train_eval, monitoring off",
        result["train_monitoring_off"],
        "samples_per_s",
        "samples/s",
    )
    add("eval", result["eval"], "samples_per_s", "samples/s")
    for name, s in result["data"].items():
        add(f"data {name.replace('_w', ' workers=')}", s, "rows_per_s", "rows/s")
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    lines = [
        "  ".join(
            c.ljust(w) if i == 0 else c.rjust(w)
            for i, (c, w) in enumerate(zip(r, widths))
        )
        for r in rows
    ]
    vs_ref = ", ".join(
        f"bs={b}: {_fmt(v, 3)}" for b, v in result["train_vs_reference"].items()
    )
    lines.append(f"train_eval / independent reference: {vs_ref or '-'}")
    aucs = result["eval_auc"]
    lines.append(
        f"  eval AUC: train_eval {_fmt(aucs['train'], 4)}, reference "
        f"{_fmt(aucs['reference'], 4)}"
    )
    for bs, s in result["train"].items():
        r = result["reference"].get(bs) or {}
        lines.append(
            f"  bs={bs} split (% of wall): train_eval data_wait "
            f"{_fmt(s.get('data_wait_pct'), 1)} fwd+bwd {_fmt(s.get('fwd_bwd_pct'), 1)}"
            f" optimizer {_fmt(s.get('optimizer_pct'), 1)}; reference forward "
            f"{_fmt(r.get('forward_pct'), 1)} backward {_fmt(r.get('backward_pct'), 1)}"
            f" optimizer {_fmt(r.get('optimizer_pct'), 1)}"
        )
        lines.append(
            f"  bs={bs} peak RSS MiB: train_eval {_fmt(s.get('peak_rss_mb'))}"
            f" (with workers), reference {_fmt(r.get('peak_rss_mb'))}"
        )
    ratios = ", ".join(
        f"bs={b}: {_fmt(v, 3)}" for b, v in result["train_vs_lean"].items()
    )
    lines.append(f"train_eval / lean loop (tzrec's own model): {ratios or '-'}")
    cpu = ", ".join(
        f"bs={b}: {_fmt(v, 3)}" for b, v in result["train_vs_lean_cpu"].items()
    )
    lines.append(f"  by CPU time per sample (lean / train_eval): {cpu or '-'}")
    lines.append(f"monitoring overhead: {_fmt(result['monitor_overhead_pct'], 1)}%")
    lines.append(f"data loading / training rate: {_fmt(result['data_vs_train'], 2)}x")
    lines.append(
        f"load average before {result['load_before']}, after {result['load_after']}"
    )
    return "\n".join(lines)


def json_line(result: dict) -> str:
    """The result as one JSON line (NaN written as null)."""
    return json.dumps(_clean(result), separators=(",", ":"))


def _clean(x: Any) -> Any:
    if isinstance(x, float):
        return round(x, 4) if math.isfinite(x) else None
    if isinstance(x, dict):
        return {k: _clean(v) for k, v in x.items()}
    if isinstance(x, list | tuple):
        return [_clean(v) for v in x]
    return x
