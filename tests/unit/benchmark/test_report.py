"""Medians, paired ratios and the overhead sign of the benchmark report."""

from __future__ import annotations

import json
import math

import pytest

from tzrec.benchmark import report


def _runs(rates, key="samples_per_s"):
    return [{key: r} for r in rates]


def _result(**over):
    runs = {
        "train/4096": [
            {"samples_per_s": 90.0, "eval_samples_per_s": 300.0},
            {"samples_per_s": 45.0, "eval_samples_per_s": 100.0},
            {"samples_per_s": 99.0, "eval_samples_per_s": 200.0},
        ],
        "lean/4096": _runs([100.0, 50.0, 110.0]),
        "train_off/4096": _runs([99.0, 49.5, 108.9]),
        "data/parquet_w2": _runs([450.0, 225.0, 495.0], "rows_per_s"),
        **over,
    }
    meta = {"load_before": [1.0, 1.0, 1.0], "load_after": [2.0, 2.0, 2.0]}
    return report.build_result(runs, meta, primary=4096, workers=2)


def test_summary_median_and_spread():
    s = report.summary([3.0, 1.0, 2.0])
    assert s["median"] == 2.0 and s["min"] == 1.0 and s["max"] == 3.0
    assert s["spread_pct"] == pytest.approx(100.0)


def test_ratios_are_paired_per_repeat():
    result = _result()
    # Each repeat's train/lean is 0.9, although the medians differ by drift.
    assert result["train_vs_lean"]["4096"] == pytest.approx(0.9)
    # Off runs 10% faster per repeat: t_default is 10% over t_off.
    assert result["monitor_overhead_pct"] == pytest.approx(10.0)
    assert result["data_vs_train"] == pytest.approx(5.0)
    assert result["eval"]["samples_per_s"] == 200.0
    assert result["train"]["4096"]["samples_per_s"] == 90.0


def test_negative_overhead_when_monitoring_off_is_slower():
    result = _result(**{"train_off/4096": _runs([81.0, 40.5, 89.1])})
    assert result["monitor_overhead_pct"] == pytest.approx(-10.0)


def test_missing_cases_are_null_and_json_has_no_nan():
    runs = {"train/512": [{"samples_per_s": 1.0, "fwd_bwd_pct": math.nan}]}
    result = report.build_result(runs, {"load_before": [], "load_after": []}, 512, 2)
    assert result["lean"] == {} and result["monitor_overhead_pct"] is None
    assert result["eval"] is None and result["data_vs_train"] is None
    line = report.json_line(result)
    assert "\n" not in line and "NaN" not in line
    assert json.loads(line)["train"]["512"]["fwd_bwd_pct"] is None
    assert "train_eval bs=512" in report.table(result)
