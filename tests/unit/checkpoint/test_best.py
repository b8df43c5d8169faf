"""best_step: choosing the best checkpoint from train_eval_result.jsonl."""

from __future__ import annotations

import json
import logging

import pytest

from tzrec.checkpoint.best import best_step, read_jsonl
from tzrec.utils.errors import CheckpointError


def _write(path, records, tail: str = "") -> str:
    text = "".join((r if isinstance(r, str) else json.dumps(r)) + "\n" for r in records)
    path.write_text(text + tail)
    return str(path)


def test_nan_null_and_torn_last_line(tmp_path, caplog):
    log = _write(
        tmp_path / "train_eval_result.jsonl",
        [
            {"global_step": 100, "auc": 0.70},
            '{"global_step": 200, "auc": NaN}',
            {"global_step": 300, "auc": None},
            {"global_step": 400, "auc": 0.75},
            "",
        ],
        tail='{"global_step": 500, "auc": 0.9',  # killed mid-write
    )
    with caplog.at_level(logging.WARNING, logger="tzrec"):
        assert best_step(log) == (400, 0.75)
    warnings = [r.getMessage() for r in caplog.records if r.name == "tzrec"]
    assert any("unreadable line 6" in w for w in warnings)  # the blank 5 is skipped


def test_non_default_metric_and_direction(tmp_path):
    log = _write(
        tmp_path / "eval.jsonl",
        [
            {"global_step": 1, "auc": 0.9, "logloss": 0.50},
            {"global_step": 2, "auc": 0.6, "logloss": 0.30},
            {"global_step": 3, "auc": 0.7, "logloss": float("nan")},
            {"global_step": 4, "auc": 0.8},  # metric missing: worst
        ],
    )
    assert best_step(log, "logloss", larger_is_better=False) == (2, 0.30)
    assert best_step(log, "auc") == (1, 0.9)
    assert best_step(log, "auc", larger_is_better=False) == (2, 0.6)


def test_only_complete_steps_qualify_and_ties_go_to_earliest(tmp_path):
    log = _write(
        tmp_path / "eval.jsonl",
        [
            {"global_step": 10, "auc": 0.8},
            {"global_step": 20, "auc": 0.9},
            {"global_step": 30, "auc": 0.8},
        ],
    )
    assert best_step(log, complete_steps={10, 30}) == (10, 0.8)
    assert best_step(log, complete_steps={30}) == (30, 0.8)
    assert best_step(log, complete_steps=set()) is None


def test_repeated_step_uses_its_last_evaluation(tmp_path):
    log = _write(
        tmp_path / "eval.jsonl",
        [
            {"global_step": 5, "auc": 0.99},
            {"global_step": 6, "auc": 0.5},
            {"global_step": 5, "auc": 0.1},
        ],
    )
    assert best_step(log) == (6, 0.5)


def test_unknown_metric_lists_known_names(tmp_path):
    log = _write(
        tmp_path / "eval.jsonl", [{"global_step": 1, "gauc": 0.7, "logloss": 0.4}]
    )
    with pytest.raises(CheckpointError, match=r'"auc".*gauc, logloss'):
        best_step(log, "auc")


def test_missing_empty_or_all_nan_log_gives_none(tmp_path):
    assert best_step(str(tmp_path / "absent.jsonl")) is None
    assert best_step(_write(tmp_path / "empty.jsonl", [])) is None
    nan_log = _write(tmp_path / "nan.jsonl", [{"global_step": 1, "auc": None}])
    assert best_step(nan_log) is None


def test_read_jsonl_skips_non_objects(tmp_path):
    path = _write(tmp_path / "x.jsonl", ["[1, 2]", {"global_step": 1}, "{bad"])
    assert list(read_jsonl(path)) == [{"global_step": 1}]
