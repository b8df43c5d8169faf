"""Runs that stop early: early stopping and a non-finite loss."""

import json

import pytest

from tests.cli import run_in_process, train_args

pytestmark = pytest.mark.slow


def _events(model_dir):
    return [
        json.loads(x) for x in (model_dir / "events.jsonl").read_text().splitlines()
    ]


def test_early_stopping_stops_and_says_why(tiny_data, tmp_path):
    model_dir = tmp_path / "md"
    edits = {
        "train_config.num_steps": 200,
        "train_config.save_checkpoints_steps": 5,
        # No evaluation can improve AUC by more than 1.0: patience 2 ends at the third.
        "train_config.early_stopping": {
            "metric_name": "auc",
            "patience": 2,
            "min_delta": 1.0,
        },
    }
    proc = run_in_process(
        "tzrec.train_eval", *train_args(tiny_data, model_dir, **edits)
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    steps = [
        json.loads(x)["global_step"]
        for x in (model_dir / "train_eval_result.jsonl").read_text().splitlines()
    ]
    assert steps == [5, 10, 15]
    events = _events(model_dir)
    stop = [e for e in events if e["event"] == "early_stop"]
    assert (
        len(stop) == 1
        and stop[0]["step"] == 15
        and "did not improve" in stop[0]["reason"]
    )
    assert events[-1]["event"] == "run_finished" and events[-1]["status"] == "stopped"
    assert "early stop" in proc.stdout + proc.stderr


def test_non_finite_loss_stops_and_keeps_last_good_checkpoint(tiny_data, tmp_path):
    model_dir = tmp_path / "md"
    edits = {
        "train_config.num_steps": 60,
        "train_config.save_checkpoints_steps": 10,
        "train_config.log_step_count_steps": 10,
        # A learning rate this large overflows the dense weights within a few steps.
        "train_config.dense_optimizer": {
            "sgd_optimizer": {"lr": 1e30},
            "constant_learning_rate": {},
        },
    }
    proc = run_in_process(
        "tzrec.train_eval", *train_args(tiny_data, model_dir, **edits)
    )
    assert proc.returncode == 2, proc.stderr[-3000:]
    lines = [x for x in proc.stderr.splitlines() if x.startswith("error:")]
    assert len(lines) == 1 and "non-finite loss at step" in lines[0]
    bad_step = int(lines[0].split("non-finite loss at step ")[1].split()[0])
    ckpts = sorted(int(p.name.split("-")[1]) for p in model_dir.glob("model.ckpt-*"))
    # Every checkpoint on disk predates the first bad step.
    assert all(s < bad_step for s in ckpts)
    finished = _events(model_dir)[-1]
    assert finished["event"] == "run_finished" and finished["status"] == "failed"
