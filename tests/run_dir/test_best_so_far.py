"""BestSoFar: the one ranking rule for best checkpoint, TensorBoard, early stop."""

from __future__ import annotations

import json
import logging
import math

import pytest

from tzrec.run_dir.best import BestSoFar, EvalLogBest
from tzrec.run_dir.eval_log import EvalLog


def _feed(best: BestSoFar, values: list[float | None]) -> list[bool]:
    return [best.update((i + 1) * 10, v) for i, v in enumerate(values)]


def test_ties_keep_the_earliest_step():
    best = BestSoFar("auc", higher_is_better=True)
    assert _feed(best, [0.7, 0.8, 0.8, 0.6]) == [True, True, False, False]
    assert (best.step, best.value) == (20, 0.8)
    low = BestSoFar("loss", higher_is_better=False)
    assert _feed(low, [0.5, 0.3, 0.3]) == [True, True, False]
    assert (low.step, low.value) == (20, 0.3)


def test_lower_is_better():
    best = BestSoFar("logloss", higher_is_better=False)
    assert _feed(best, [0.50, 0.40, 0.45, 0.39]) == [True, True, False, True]
    assert (best.step, best.value) == (40, 0.39)


@pytest.mark.parametrize(
    "bad", [math.nan, math.inf, -math.inf, None, True, "0.9", [0.9]]
)
def test_non_finite_or_non_numbers_never_win(bad):
    for higher in (True, False):
        best = BestSoFar("auc", higher)
        assert not best.update(10, bad)
        assert (best.step, best.value) == (None, None)
        assert best.update(20, 0.5)
        assert not best.update(30, bad)
        assert (best.step, best.value) == (20, 0.5)


def test_min_delta_is_the_margin_an_improvement_needs():
    best = BestSoFar("auc", True, min_delta=0.01)
    assert _feed(best, [0.70, 0.705, 0.711]) == [True, False, True]
    assert (best.step, best.value) == (30, 0.711)
    low = BestSoFar("loss", False, min_delta=0.1)
    assert _feed(low, [1.0, 0.95, 0.85]) == [True, False, True]


def test_a_step_evaluated_again_counts_with_its_last_value():
    best = BestSoFar("auc", True)
    assert _feed(best, [0.7, 0.9]) == [True, True]
    assert not best.update(20, 0.6)  # step 20 again, now worse: 10 is best
    assert (best.step, best.value) == (10, 0.7)
    assert best.update(20, 0.95)  # and better again
    assert (best.step, best.value) == (20, 0.95)
    assert not best.update(30, 0.95)  # a tie with the re-ranked best


def test_record_keeps_the_metrics_of_the_best_evaluation():
    best = BestSoFar("auc", True)
    best.update_record(
        {"global_step": 5, "epoch": 0, "wall_time": 1.0, "samples": 64, "auc": 0.6}
    )
    best.update_record({"global_step": 9, "auc": 0.5, "ne": 0.9})
    assert best.step == 5 and best.record == {"auc": 0.6}


def _write_log(path, records, tail=""):
    text = "".join(json.dumps(r) + "\n" for r in records)
    path.write_text(text + tail)
    return str(path)


def test_from_eval_log_skips_a_torn_last_line(tmp_path, caplog):
    log = _write_log(
        tmp_path / "train_eval_result.jsonl",
        [
            {"global_step": 10, "auc": 0.70},
            {"global_step": 20, "auc": None},  # NaN when written
            {"global_step": 30, "auc": 0.75},
        ],
        tail='{"global_step": 40, "auc": 0.9',  # killed mid-write
    )
    with caplog.at_level(logging.WARNING, logger="tzrec"):
        best = BestSoFar.from_eval_log(log, "auc", True)
    assert (best.step, best.value) == (30, 0.75)
    assert any("unreadable line 4" in r.getMessage() for r in caplog.records)
    assert BestSoFar.from_eval_log(str(tmp_path / "missing"), "auc", True).step is None


def test_resume_from_the_log_equals_an_uninterrupted_run(tmp_path):
    values = [0.61, 0.66, 0.64, 0.70, 0.69, 0.72]
    whole = BestSoFar("auc", True)
    whole_improved = _feed(whole, values)
    log = EvalLog(str(tmp_path / "train_eval_result.jsonl"))
    for i, v in enumerate(values[:4]):
        log.append((i + 1) * 10, {"auc": v})
    log.append(50, {"auc": 0.99})  # evaluated after the checkpoint we resume from
    resumed = BestSoFar.from_eval_log(log.path, "auc", True, up_to_step=40)
    assert (resumed.step, resumed.value) == (40, 0.70)
    improved = [resumed.update(50, values[4]), resumed.update(60, values[5])]
    assert improved == whole_improved[4:]
    assert (resumed.step, resumed.value) == (whole.step, whole.value) == (60, 0.72)


def test_only_given_steps_qualify(tmp_path):
    log = _write_log(
        tmp_path / "log.jsonl",
        [{"global_step": s, "auc": v} for s, v in ((10, 0.8), (20, 0.9), (30, 0.85))],
    )
    best = BestSoFar.from_eval_log(log, "auc", True, steps={10, 30})
    assert (best.step, best.value) == (30, 0.85)


def test_eval_log_best_reads_each_line_once_and_follows_a_rewrite(tmp_path):
    log = EvalLog(str(tmp_path / "train_eval_result.jsonl"))
    tracked = EvalLogBest(log.path, "auc", True)
    assert tracked.best_step() is None  # no log yet
    log.append(10, {"auc": 0.7})
    log.append(20, {"auc": 0.8})
    assert tracked.best_step() == 20
    assert tracked._tail.read_new() == ([], False)  # nothing new: nothing read
    log.append(30, {"auc": 0.75})
    assert tracked.best_step() == 20
    log.truncate_after(10)  # a resume from step 10 rewrites the log
    log.append(20, {"auc": 0.65})
    assert tracked.best_step() == 10
    assert tracked.refresh().value == 0.7
