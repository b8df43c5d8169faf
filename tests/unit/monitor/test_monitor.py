import dataclasses
import glob
import json
import logging
import math
import os
import time

import pytest
import torch
from tb_utils import hparams_data, read_tb, scalar_points
from torch import nn

from tzrec.config.settings import MonitorSettings, monitor_settings
from tzrec.metrics.means import MeanAbsoluteError
from tzrec.metrics.train_metric_wrapper import TrainMetricWrapper
from tzrec.monitor import keys
from tzrec.monitor.events import read_jsonl, read_records
from tzrec.monitor.monitor import Monitor, StepTimings
from tzrec.monitor.sinks import MemorySink
from tzrec.protos import pipeline_pb2
from tzrec.run_dir import names


class Lines(logging.Handler):
    def __init__(self):
        super().__init__(logging.DEBUG)
        self.lines = []

    def emit(self, record):
        self.lines.append(record.getMessage())


@pytest.fixture
def console():
    handler = Lines()
    logger = logging.getLogger("tzrec")
    old_level = logger.level
    logger.addHandler(handler)
    logger.setLevel(logging.DEBUG)
    yield handler.lines
    logger.removeHandler(handler)
    logger.setLevel(old_level)


def events(model_dir):
    return read_jsonl(os.path.join(model_dir, names.EVENTS_FILE))


def run_steps(mon, clock, steps, metric=None, model=None):
    for step in steps:
        clock.advance(0.1)
        mon.on_step(
            step,
            epoch=0,
            losses={"bce": torch.tensor(float(step))},
            lrs=[0.1, 0.01],
            train_metrics={"mean_absolute_error": metric} if metric else None,
            timings=StepTimings(0.01, 0.05, 0.02),
            model=model,
        )


_SETTINGS = {f.name for f in dataclasses.fields(MonitorSettings)}


def make(tmp_path, clock, **kw):
    """A Monitor; keyword arguments naming MonitorSettings fields go there."""
    args = dict(
        is_rank0=True,
        hparams={"lr": 0.1, "model": "deepfm"},
        eval_metric_names=["auc", "loss_bce"],
        total_steps=12,
        clock=clock,
    )
    settings = dict(
        batch_size=10,
        log_every_steps=5,
        log_every_secs=1.0,
        config_hash="abc123",
        config_text="",
        best=None,
    )
    for name, value in kw.items():
        (settings if name in _SETTINGS else args)[name] = value
    settings["summaries"] = frozenset(settings.get("summaries", ()))
    defaults = monitor_settings(pipeline_pb2.EasyRecConfig())
    return Monitor(str(tmp_path), dataclasses.replace(defaults, **settings), **args)


def test_fake_run_logs_interval_means_at_log_steps(tmp_path, clock, console):
    train, ev = MemorySink(), MemorySink()
    mon = make(tmp_path, clock, sinks=(train, ev))
    mon.on_train_start()
    metric = TrainMetricWrapper(MeanAbsoluteError(), decay_rate=0.5, decay_step=2)
    for step in range(1, 13):
        metric.update(torch.tensor([0.5]), torch.tensor([1.0]))
        run_steps(mon, clock, [step], metric=metric)
    assert train.steps("loss/bce") == [1, 5, 10, 12]  # first, every 5, last
    assert train.values("loss/bce") == [1.0, 3.5, 8.0, 11.5]  # interval means
    # issue 15: one loss, so no loss/total repeating it; lr under optimizer/
    assert "loss/total" not in train.tags()
    assert train.values("optimizer/lr/g1") == [0.01] * 4
    # nothing to show before the metric's first window of 2 batches
    assert train.steps("metric/mean_absolute_error") == [5, 10, 12]
    assert train.values("metric/mean_absolute_error")[0] == pytest.approx(0.5)
    assert train.values(keys.PERF_SAMPLES_PER_SEC)[1] == pytest.approx(100.0)
    assert train.values(keys.step_time_tag("data_wait"))[1] == pytest.approx(10.0)
    assert train.values(keys.step_time_tag("forward_backward"))[1] == pytest.approx(
        50.0
    )
    assert train.values(keys.step_time_tag("total"))[1] == pytest.approx(100.0)
    assert train.values(keys.PERF_RSS_MB)[0] > 1
    # issue 15: the hparams session lives in eval_val/, whose scalars are its
    # metrics; TensorBoard infers the experiment across runs
    assert train.hparams_log == []
    ((hp, start, trial),) = ev.hparams_log
    assert hp == {"lr": 0.1, "model": "deepfm"} and start > 1e9
    assert trial == os.path.normpath(tmp_path)
    progress = [line for line in console if line.startswith("[train]")]
    # 0.1 s per step, at most one line per second: steps 1 and 12
    assert [line.split()[2] for line in progress] == ["1/12", "12/12"]
    assert progress[1].endswith(
        "lr_g0=0.1 lr_g1=0.01 loss_bce=11.5 total_loss=11.5 mean_absolute_error=0.5"
    )
    mon.close()


def test_eval_checkpoint_events_and_close(tmp_path, clock, console):
    train, ev = MemorySink(), MemorySink()
    mon = make(tmp_path, clock, sinks=(train, ev))
    mon.on_train_start()
    run_steps(mon, clock, range(1, 6))
    mon.on_eval_start(5, total_eval_steps=3, batch_size=4)
    for i in (1, 2, 3):
        clock.advance(1.0)
        mon.on_eval_progress(i)
    record = mon.on_eval(
        5, 0, {"auc": torch.tensor(0.75), "loss_bce": 0.3, "grouped_auc": math.nan}
    )
    assert ev.scalar_log == [(5, "metric/auc", 0.75), (5, "loss/bce", 0.3)]
    assert ev.flushes == 1
    assert record["global_step"] == 5 and record["grouped_auc"] is None
    (rec,) = read_records(os.path.join(tmp_path, names.EVAL_RESULT_FILE))
    assert list(rec)[:3] == ["global_step", "epoch", "wall_time"] and rec["auc"] == 0.75
    assert [
        line.split(" |")[0] for line in console if line.startswith("[eval] step")
    ] == [
        "[eval] step 1/3 (33.3%)",
        "[eval] step 5 done in 3.0s",
    ]
    mon.on_checkpoint_start(5, "model.ckpt-5")
    clock.advance(0.5)
    mon.on_checkpoint(5, "model.ckpt-5", nbytes=2**21, seconds=0.5)
    run_steps(mon, clock, range(6, 11))
    # eval (3 s) and checkpoint (0.5 s) time is left out of the rate
    assert train.values(keys.PERF_STEPS_PER_SEC)[-1] == pytest.approx(10.0)
    mon.on_event(keys.EVENT_BEST_CHANGED, step=5, metric="auc", value=0.75)
    mon.close("stopped", "early stop")
    mon.close("failed", "again")  # no-op
    assert train.closed and ev.closed
    evs = events(tmp_path)
    assert [e["event"] for e in evs] == [
        "run_started",
        "eval_started",
        "eval_finished",
        "checkpoint_started",
        "checkpoint_finished",
        "best_changed",
        "run_finished",
    ]
    start, finish = evs[0], evs[-1]
    assert start["config_hash"] == "abc123" and start["world_size"] == 1
    assert start["host"] and start["torch_version"] == torch.__version__
    assert evs[2]["metrics"]["auc"] == 0.75 and evs[2]["seconds"] == pytest.approx(3.0)
    assert evs[4]["bytes"] == 2**21 and evs[4]["mb_per_s"] == 4.0
    assert (finish["status"], finish["reason"], finish["step"]) == (
        "stopped",
        "early stop",
        10,
    )
    info = json.loads((tmp_path / names.RUN_INFO_FILE).read_text())
    assert info["config_hash"] == "abc123" and info["python_version"]
    assert (tmp_path / names.VERSION_FILE).read_text().strip()


def test_gradient_and_parameter_summaries_only_on_log_steps(tmp_path, clock):
    train = MemorySink()
    mon = make(
        tmp_path, clock, sinks=(train, MemorySink()), summaries=keys.SUMMARY_NAMES
    )
    mon.on_train_start()
    model = nn.Linear(2, 1)
    model.weight.grad = torch.tensor([[3.0, 0.0]])
    model.bias.grad = torch.tensor([4.0])
    assert mon.wants_gradients(1) and not mon.wants_gradients(2)
    mon.on_gradients(1, model)
    run_steps(mon, clock, [1, 2], model=model)
    assert train.values("global_gradient_norm") == [5.0]
    assert train.values("weight/gradient_norm") == [3.0]
    assert train.values("bias/gradient_norm") == [4.0]
    assert [(s, t) for s, t, _ in train.histogram_log] == [
        (1, "weight/gradient"),
        (1, "bias/gradient"),
        (1, "weight"),
        (1, "bias"),
    ]
    plain = MemorySink()
    mon2 = make(tmp_path, clock, sinks=(plain, MemorySink()))
    assert not mon2.wants_gradients(1)
    run_steps(mon2, clock, [1], model=model)
    assert plain.histogram_log == []


def test_non_finite_loss_event(tmp_path, clock):
    mon = make(tmp_path, clock, sinks=(MemorySink(), MemorySink()))
    mon.on_train_start()
    mon.on_step(1, 0, {"bce": torch.tensor(float("nan"))}, [0.1])
    (bad,) = [e for e in events(tmp_path) if e["event"] == "non_finite_loss"]
    assert bad["step"] == 1 and bad["losses"] == {"bce": None}


def test_other_ranks_write_nothing(tmp_path, clock, console):
    mon = make(tmp_path, clock, is_rank0=False, sinks=(MemorySink(), MemorySink()))
    mon.on_train_start()
    run_steps(mon, clock, range(1, 13))
    mon.on_eval_start(12)
    mon.on_eval(12, 0, {"auc": 0.5})
    mon.on_checkpoint(12, "p", 10, 0.1)
    mon.close()
    assert os.listdir(tmp_path) == [] and console == []


def test_exception_in_with_block_closes_as_failed(tmp_path, clock):
    with pytest.raises(RuntimeError):
        with make(tmp_path, clock) as mon:
            mon.on_train_start()
            raise RuntimeError("boom")
    finish = events(tmp_path)[-1]
    assert (finish["event"], finish["status"]) == ("run_finished", "failed")
    assert "boom" in finish["reason"]


def test_tensorboard_files_read_back(tmp_path, clock):
    with make(tmp_path, clock, summaries=["global_gradient_norm"]) as mon:
        mon.on_train_start()
        metric = TrainMetricWrapper(MeanAbsoluteError(), decay_rate=0.5, decay_step=1)
        metric.update(torch.tensor([0.2]), torch.tensor([0.0]))
        run_steps(mon, clock, range(1, 6), metric=metric)
        mon.on_eval_start(5)
        mon.on_eval(5, 0, {"auc": 0.7, "loss_bce": 0.4})
    train = read_tb(str(tmp_path))
    assert scalar_points(train, "loss/bce") == [(1, 1.0), (5, 3.5)]
    tags = set(train.Tags()["scalars"])
    assert {"optimizer/lr/g0", "optimizer/lr/g1", "metric/mean_absolute_error"} <= tags
    assert "loss/total" not in tags  # issue 15: one loss, no twin
    assert {
        keys.PERF_SAMPLES_PER_SEC,
        keys.PERF_RSS_MB,
        keys.step_time_tag("optimizer"),
    } <= tags
    ev = read_tb(str(tmp_path / names.EVAL_VAL_DIR))
    assert scalar_points(ev, "metric/auc") == [(5, pytest.approx(0.7))]
    assert scalar_points(ev, "loss/bce") == [(5, pytest.approx(0.4))]
    # issue 15: no experiment summary (TensorBoard infers it across runs); a
    # session start and end in eval_val/
    assert "hparams" not in train.Tags()["tensors"]
    with pytest.raises(KeyError):
        hparams_data(train)
    hp = hparams_data(ev)
    assert set(hp) == {"_hparams_/session_start_info", "_hparams_/session_end_info"}
    start = hp["_hparams_/session_start_info"].session_start_info
    assert set(start.hparams) == {"lr", "model"} and start.start_time_secs > 1e9
    end = hp["_hparams_/session_end_info"].session_end_info
    assert end.status == 1 and end.end_time_secs >= start.start_time_secs
    # every scalar carries a description; train metrics say they are decayed
    meta = train.SummaryMetadata("metric/mean_absolute_error")
    assert "decay_rate 0.5 every 1 steps" in meta.summary_description
    assert "sparse" in train.SummaryMetadata("optimizer/lr/g0").summary_description
    for acc in (train, ev):
        for tag in acc.Tags()["scalars"]:
            text = acc.SummaryMetadata(tag).summary_description
            assert text and text != tag, tag


def test_use_tensorboard_false_writes_no_event_files(tmp_path, clock):
    with make(tmp_path, clock, use_tensorboard=False) as mon:
        mon.on_train_start()
        run_steps(mon, clock, range(1, 13))
        mon.on_eval_start(12)
        mon.on_eval(12, 0, {"auc": 0.7})
    assert glob.glob(str(tmp_path / "**" / "*tfevents*"), recursive=True) == []
    assert not (tmp_path / names.EVAL_VAL_DIR).exists()
    assert read_records(str(tmp_path / names.EVAL_RESULT_FILE))[0]["auc"] == 0.7


def test_resume_truncates_eval_log_and_purges_tensorboard(tmp_path, clock):
    with make(tmp_path, clock) as mon:
        mon.on_train_start()
        for end in (5, 10):
            run_steps(mon, clock, range(end - 4, end + 1))
            mon.on_eval_start(end)
            mon.on_eval(end, 0, {"auc": end / 100})
    # crashed after 10; the last checkpoint is step 5. A new second: event
    # file names (time, pid, a process-wide writer count that is not zero-
    # padded) sort by launch only across seconds, and earlier in-process
    # trainings in the session may have pushed the count past 9.
    time.sleep(1.05)
    with make(tmp_path, clock, start_step=5) as mon:
        assert [
            r["global_step"]
            for r in read_records(str(tmp_path / names.EVAL_RESULT_FILE))
        ] == [5]
        mon.on_train_start()
        assert mon.should_log(6) and not mon.should_log(7)
        run_steps(mon, clock, range(6, 11))
        mon.on_eval_start(10)
        mon.on_eval(10, 0, {"auc": 0.2})
    steps = [s for s, _ in scalar_points(read_tb(str(tmp_path)), "loss/bce")]
    assert steps == [1, 5, 6, 10]
    assert scalar_points(read_tb(str(tmp_path / "eval_val")), "metric/auc") == [
        (5, pytest.approx(0.05)),
        (10, pytest.approx(0.2)),
    ]
    recs = read_records(str(tmp_path / names.EVAL_RESULT_FILE))
    assert [(r["global_step"], r["auc"]) for r in recs] == [(5, 0.05), (10, 0.2)]
    started = [e for e in events(tmp_path) if e["event"] == "run_started"]
    assert [e["resumed"] for e in started] == [False, True]
