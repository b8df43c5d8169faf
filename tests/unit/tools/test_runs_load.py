"""Reading model_dirs written by hand: best step, status, timeline, samples."""

from __future__ import annotations

import os
import time

import pytest

from tests.unit.tools.runs_helpers import event, fake_run, runs_inproc
from tzrec import config as config_lib
from tzrec.export import select_checkpoint
from tzrec.run_dir import names
from tzrec.tools.runs.load import RunError, load_run
from tzrec.tools.runs.show import show_text

EVALS = [
    {"global_step": 10, "epoch": 0, "auc": 0.70, "loss_bce": 0.50},
    {"global_step": 20, "epoch": 0, "auc": 0.75, "loss_bce": 0.45},
    {"global_step": 30, "epoch": 1, "auc": 0.72, "loss_bce": 0.44},
    {"global_step": 40, "epoch": 1, "auc": None, "loss_bce": 0.43},
]


def export_step(model_dir) -> int:
    config = config_lib.load_pipeline_config(str(model_dir / "pipeline.config"))
    return select_checkpoint(config).step


def test_best_is_the_step_export_picks_among_checkpoints_on_disk(tmp_path):
    # step 20 is best but its checkpoint was pruned; 40's auc is NaN
    d = fake_run(tmp_path / "r", EVALS, ckpt_steps=[10, 30, 40])
    run = load_run(str(d))
    assert run.best.step == export_step(d) == 30
    assert run.best.value == pytest.approx(0.72) and run.best.has_checkpoint
    assert [c.step for c in run.checkpoints] == [10, 30, 40]
    assert run.metric_names == ["auc", "loss_bce"]


def test_best_follows_the_configured_metric_and_direction(tmp_path):
    edits = {
        "export_config.best_exporter_metric": "loss_bce",
        "export_config.metric_larger_is_better": False,
    }
    d = fake_run(tmp_path / "r", EVALS, ckpt_steps=[10, 20, 30, 40], edits=edits)
    run = load_run(str(d))
    assert run.best.step == export_step(d) == 40
    assert run.best.metric == "loss_bce" and not run.best.larger_is_better


def test_without_checkpoints_best_falls_back_to_the_eval_log(tmp_path):
    run = load_run(str(fake_run(tmp_path / "r", EVALS)))
    assert (run.best.step, run.best.has_checkpoint) == (20, False)
    assert "not on disk" in run.best.note
    text = show_text(run)
    assert "best auc 0.7500 at step 20" in text and "not on disk" in text
    assert "checkpoints: none complete on disk" in text


def test_missing_metric_is_a_note_not_a_crash(tmp_path):
    edits = {"export_config.best_exporter_metric": "gauc"}
    run = load_run(str(fake_run(tmp_path / "r", EVALS, [10], edits=edits)))
    assert run.best.step is None and "gauc" in run.best.note
    assert "no best gauc" in show_text(run)


def test_torn_last_line_and_repeated_step(tmp_path):
    d = fake_run(
        tmp_path / "r", EVALS[:2] + [{**EVALS[1], "auc": 0.6}], ckpt_steps=[20]
    )
    with open(d / names.EVAL_RESULT_FILE, "a") as f:
        f.write('{"global_step": 30, "au')
    run = load_run(str(d))
    assert [e["global_step"] for e in run.evals] == [10, 20]
    assert run.evals[1]["auc"] == 0.6  # the last line of a step counts


STARTED = {"step": 0, "world_size": 1, "resumed": False}


@pytest.mark.parametrize(
    "last, state, reason",
    [
        (event(50, "run_finished", status="ok", reason="finished", step=40),
         "finished", "finished"),
        (event(50, "run_finished", status="failed", reason="DataError: bad", step=40),
         "failed", "DataError: bad"),
        (event(50, "run_finished", status="interrupted", reason="KeyboardInterrupt"),
         "interrupted", "KeyboardInterrupt"),
    ],
)  # fmt: skip
def test_status_from_run_finished(tmp_path, last, state, reason):
    events = [event(0, "run_started", **STARTED), last]
    run = load_run(str(fake_run(tmp_path / "r", EVALS, events, [40])))
    assert run.status["state"] == state and run.status["reason"] == reason
    assert show_text(run).splitlines()[1].startswith(f"status      {state} at step")


def test_early_stop_reason_comes_from_its_event(tmp_path):
    events = [
        event(0, "run_started", **STARTED),
        event(40, "early_stop", step=30, metric="auc", patience=1, best_step=20),
        event(41, "run_finished", status="stopped", reason="early stop", step=30),
    ]
    run = load_run(str(fake_run(tmp_path / "r", EVALS, events, [20, 30])))
    assert run.status["state"] == "stopped"
    assert run.status["reason"] == (
        "early stop (step=30, metric=auc, patience=1, best_step=20)"
    )
    assert "early stop: step=30" in show_text(run)


def test_no_run_finished_is_running_while_events_change_else_died(tmp_path):
    events = [event(0, "run_started", **STARTED), event(9, "eval_finished", step=10)]
    d = fake_run(tmp_path / "r", EVALS[:1], events, [10])
    assert load_run(str(d)).status["state"] == "running"
    old = time.time() - 11 * 60
    os.utime(d / names.EVENTS_FILE, (old, old))
    status = load_run(str(d)).status
    assert status["state"] == "died" and "last event eval_finished" in status["reason"]


def test_timeline_and_samples_over_a_resume(tmp_path):
    events = [
        event(0, "run_started", step=0, world_size=1, resumed=False),
        event(10, "checkpoint_finished", step=20, bytes=3 * 2**20, seconds=1.5),
        event(12, "eval_finished", step=20, seconds=2.0),
        event(20, "non_finite_loss", step=27),
        # killed at step 30; resumed from 20 on two ranks
        event(100, "run_started", step=20, world_size=2, resumed=True),
        event(110, "checkpoint_finished", step=40, bytes=3 * 2**20, seconds=0.5),
        event(111, "eval_finished", step=40, seconds=1.0),
        event(115, "run_finished", status="ok", reason="finished", step=40),
    ]
    edits = {"data_config.batch_size": 100}
    run = load_run(str(fake_run(tmp_path / "r", EVALS, events, [20, 40], edits)))
    tl = run.timeline
    assert tl.launches == 2 and tl.wall_seconds == pytest.approx(20 + 15)
    assert tl.eval_seconds == 3.0 and tl.checkpoint_seconds == 2.0
    assert tl.train_seconds == pytest.approx(30.0)
    assert tl.checkpoint_mb_per_s == pytest.approx(3.0)
    assert tl.non_finite_steps == [27]
    assert run.samples_at(10) == 1000 and run.samples_at(40) == 20 * 100 + 20 * 200
    text = show_text(run)
    assert "2 launches (resumed)" in text and "non-finite loss at step(s) [27]" in text
    assert "4 saves" not in text and "2 saves, 6.0 MB, 3.0 MB/s" in text


def test_max_rows_keeps_the_best_row(tmp_path):
    evals = [{"global_step": s, "auc": 0.5 + (0.3 if s == 20 else s / 1e4)} for s in
             range(10, 410, 10)]  # fmt: skip
    run = load_run(str(fake_run(tmp_path / "r", evals, ckpt_steps=[20, 400])))
    lines = show_text(run, max_rows=5).splitlines()
    body = lines[lines.index(next(x for x in lines if "  step" in x)) + 2 :]
    body = body[: body.index("")]
    assert [x.split()[0] for x in body] == [
        "...",
        "*",
        "...",
        "370",
        "380",
        "390",
        "400",
    ]


def test_not_a_run_and_no_evals(tmp_path, capsys):
    with pytest.raises(RunError, match="is not a tzrec run"):
        load_run(str(tmp_path))
    d = fake_run(tmp_path / "r", [], [event(0, "run_started", **STARTED)])
    with pytest.raises(RunError, match=r"no evaluations yet \(run running, step 0\)"):
        load_run(str(d))
    code, out, err = runs_inproc(capsys, "plot", str(d), "--output", "x.png")
    assert code == 2 and out == "" and err.count("\n") == 1
