"""python -m tzrec.benchmark --tiny: runs end to end and prints one JSON line.

Never asserts a timing: only that every case ran and reported a rate.
"""

from __future__ import annotations

import json
import math

import pytest

from tests.cli import run_cli, run_in_process

CASE_KEYS = {
    "train",
    "reference",
    "train_vs_reference",
    "eval_auc",
    "lean",
    "train_vs_lean",
    "train_vs_lean_cpu",
    "train_monitoring_off",
    "monitor_overhead_pct",
    "data",
    "data_vs_train",
    "eval",
    "load_before",
    "load_after",
}


def _json_lines(stdout: str) -> list[dict]:
    found = []
    for line in stdout.splitlines():
        if line.startswith("{"):
            found.append(json.loads(line))
    return found


def _rate(x) -> bool:
    return isinstance(x, float | int) and math.isfinite(x) and x > 0


def test_tiny_benchmark_prints_one_json_line(tmp_path):
    out_json = tmp_path / "result.json"
    proc = run_cli(
        "tzrec.benchmark",
        "--tiny",
        "--torch_threads",
        "1",
        "--data_dir",
        str(tmp_path / "data"),
        "--output_json",
        str(out_json),
        timeout=240,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    results = _json_lines(proc.stdout)
    assert len(results) == 1, proc.stdout
    result = results[0]
    assert proc.stdout.rstrip().splitlines()[-1].startswith("{")  # JSON is last
    assert CASE_KEYS <= result.keys()
    assert result["tiny"] is True and result["batch_sizes"] == [512]
    assert result["torch_threads"] == 1
    assert _rate(result["train"]["512"]["samples_per_s"])
    assert _rate(result["lean"]["512"]["samples_per_s"])
    # The independent reference ran on the same rows; the headline ratio and
    # both eval AUCs are there (values, never timings, are checked).
    reference = result["reference"]["512"]
    assert _rate(reference["samples_per_s"]) and _rate(reference["peak_rss_mb"])
    assert _rate(result["train_vs_reference"]["512"])
    assert {"forward_pct", "backward_pct", "optimizer_pct"} <= reference.keys()
    assert _rate(result["train"]["512"]["peak_rss_mb"])
    aucs = result["eval_auc"]
    assert 0 <= aucs["train"] <= 1 and 0 <= aucs["reference"] <= 1
    assert aucs["train_minus_reference"] == pytest.approx(
        aucs["train"] - aucs["reference"], abs=2e-4
    )
    assert _rate(result["train_vs_lean"]["512"])
    assert _rate(result["train_vs_lean_cpu"]["512"])
    assert _rate(result["train"]["512"]["cpu_us_per_sample"])
    assert _rate(result["train_monitoring_off"]["samples_per_s"])
    assert math.isfinite(result["monitor_overhead_pct"])
    assert set(result["data"]) == {"parquet_w2", "parquet_w0", "csv_w2", "csv_w0"}
    assert all(_rate(d["rows_per_s"]) for d in result["data"].values())
    assert _rate(result["eval"]["samples_per_s"])
    assert len(result["load_before"]) == 3
    # The table names every case; --output_json holds the same line.
    assert "reference  bs=512" in proc.stdout
    assert "lean loop  bs=512" in proc.stdout and "data csv workers=0" in proc.stdout
    assert json.loads(out_json.read_text()) == result
    # The data was generated in both formats, the CSV a copy of the Parquet rows.
    assert (tmp_path / "data" / "parquet" / "meta.json").exists()
    assert (tmp_path / "data" / "csv" / "meta.json").exists()


def test_bad_flag_is_a_user_error():
    proc = run_in_process("tzrec.benchmark", "--skip", "lean,everything")
    assert proc.returncode == 2
    assert "--skip" in proc.stderr and "everything" in proc.stderr
    assert proc.stdout == ""
