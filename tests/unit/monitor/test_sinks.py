import os

import pytest
import torch
from tb_utils import hparams_data, read_tb, scalar_points

from tzrec.monitor.sinks import MemorySink, NullSink, TensorBoardSink


def test_tensorboard_sink_scalars_histograms_read_back(tmp_path):
    with TensorBoardSink(str(tmp_path)) as sink:
        sink.scalars(1, {"loss/total": 0.5, "lr/g0": 0.01})
        sink.scalars(2, {"loss/total": 0.25})
        sink.histogram(2, "w/gradient", torch.tensor([1.0, 2.0, float("nan"), 3.0]))
    acc = read_tb(str(tmp_path))
    assert scalar_points(acc, "loss/total") == [(1, 0.5), (2, 0.25)]
    assert scalar_points(acc, "lr/g0") == [(1, pytest.approx(0.01))]
    (hist,) = acc.Histograms("w/gradient")
    assert hist.step == 2 and hist.histogram_value.num == 3  # NaN dropped


def test_close_is_idempotent_and_later_writes_are_ignored(tmp_path):
    sink = TensorBoardSink(str(tmp_path))
    sink.scalars(1, {"a": 1.0})
    sink.close()
    sink.close()
    sink.scalars(2, {"a": 2.0})
    sink.flush()
    assert scalar_points(read_tb(str(tmp_path)), "a") == [(1, 1.0)]


def test_hparams_session_start_and_end_in_the_runs_own_folder(tmp_path):
    # issue 15: a session with start/end time and status, no experiment
    # summary (TensorBoard infers the experiment and marks what differs)
    with TensorBoardSink(str(tmp_path)) as sink:
        hp = {"lr": 0.001, "model": "deepfm", "use_bn": True, "none": None}
        sink.hparams(hp, 1000.0, trial_id="runs/a")
        sink.session_end("failed", 1060.0)
    assert [d for d in os.listdir(tmp_path) if os.path.isdir(tmp_path / d)] == []
    data = hparams_data(read_tb(str(tmp_path)))
    assert "_hparams_/experiment" not in data
    start = data["_hparams_/session_start_info"].session_start_info
    assert start.hparams["lr"].number_value == pytest.approx(0.001)
    assert start.hparams["model"].string_value == "deepfm"
    assert start.hparams["use_bn"].bool_value is True
    assert "none" not in start.hparams
    assert (start.start_time_secs, start.group_name) == (1000.0, "runs/a")
    end = data["_hparams_/session_end_info"].session_end_info
    assert (end.status, end.end_time_secs) == (2, 1060.0)  # STATUS_FAILURE


def test_scalars_carry_descriptions_once_per_tag(tmp_path):
    with TensorBoardSink(str(tmp_path), eval_run=True) as sink:
        sink.describe({"metric/auc": "custom words"})
        sink.scalars(1, {"metric/auc": 0.5, "loss/bce": 0.7})
        sink.scalars(2, {"metric/auc": 0.6})
    acc = read_tb(str(tmp_path))
    assert acc.SummaryMetadata("metric/auc").summary_description == "custom words"
    assert "Eval loss bce" in acc.SummaryMetadata("loss/bce").summary_description
    assert scalar_points(acc, "metric/auc") == [
        (1, pytest.approx(0.5)),
        (2, pytest.approx(0.6)),
    ]


def test_purge_step_hides_the_lost_future(tmp_path):
    with TensorBoardSink(str(tmp_path)) as sink:
        for step in (100, 200, 300):
            sink.scalars(step, {"loss/total": float(step)})
    # crash after 300, resumed from the checkpoint at 200
    with TensorBoardSink(str(tmp_path), purge_step=201) as sink:
        sink.scalars(300, {"loss/total": 3.0})
    assert scalar_points(read_tb(str(tmp_path)), "loss/total") == [
        (100, 100.0),
        (200, 200.0),
        (300, 3.0),
    ]


def test_memory_and_null_sinks():
    mem = MemorySink()
    mem.scalars(3, {"a": 1, "b": 2.5})
    mem.histogram(3, "h", torch.ones(2))
    mem.hparams({"x": 1}, ["metric/auc"])
    mem.flush()
    mem.close()
    assert mem.steps("a") == [3] and mem.values("b") == [2.5]
    assert mem.tags() == {"a", "b"} and mem.closed and mem.flushes == 1
    null = NullSink()
    null.scalars(1, {"a": 1.0})
    null.close()
