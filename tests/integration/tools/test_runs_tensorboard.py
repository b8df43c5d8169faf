"""TensorBoard tells the story: custom-scalars layout, best step, a live server."""

from __future__ import annotations

import dataclasses
import json
import math
import re
import shutil
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path

import pytest

from tests.cli import REPO
from tzrec.config.settings import MetricGoal, monitor_settings
from tzrec.monitor import keys
from tzrec.monitor.monitor import Monitor
from tzrec.monitor.tb_layout import (
    CATEGORY_STEP_TIME,
    CATEGORY_TRAIN_EVAL,
    custom_scalars_layout,
)
from tzrec.protos import pipeline_pb2
from tzrec.run_dir import names


def read_tb(log_dir):
    from tensorboard.backend.event_processing.event_accumulator import (
        EventAccumulator,
    )

    acc = EventAccumulator(str(log_dir), size_guidance={"scalars": 0, "tensors": 0})
    acc.Reload()
    return acc


def layout_of(acc) -> dict[str, dict[str, list[str]]]:
    """The custom-scalars layout in a run: category -> chart -> tag regexes."""
    from tensorboard.plugins.custom_scalar import layout_pb2

    raw = acc.Tensors("custom_scalars__config__")[-1].tensor_proto.string_val[0]
    layout = layout_pb2.Layout.FromString(raw)
    return {
        c.title: {ch.title: list(ch.multiline.tag) for ch in c.chart}
        for c in layout.category
    }


def monitor(model_dir, start_step=0) -> Monitor:
    settings = dataclasses.replace(
        monitor_settings(pipeline_pb2.EasyRecConfig()),
        batch_size=8,
        best=MetricGoal("auc"),
        config_hash="",
        config_text="",
    )
    return Monitor(
        str(model_dir),
        settings,
        is_rank0=True,
        hparams={"lr": 0.1},
        eval_metric_names=["auc", "loss_bce"],
        start_step=start_step,
    )


def evaluate(mon: Monitor, values: dict[int, float]) -> None:
    for step, auc in values.items():
        mon.on_eval(step, 0, {"auc": auc, "loss_bce": 1.0 / step})


def best_points(ev, tag="run/best_auc"):
    return [(e.step, round(e.value, 6)) for e in ev.Scalars(tag)]


def test_layout_best_and_hparams_written_to_tensorboard(tmp_path):
    # issue 15: the best is written when it changes (a marker at its step,
    # not a best-so-far line), with a text naming its step and metrics
    with monitor(tmp_path) as mon:
        mon.on_train_start()
        evaluate(mon, {10: 0.6, 20: 0.7, 30: 0.65, 40: math.nan})
    train, ev = read_tb(tmp_path), read_tb(tmp_path / names.EVAL_VAL_DIR)
    assert best_points(ev) == [(10, 0.6), (20, 0.7)]
    assert best_points(ev, keys.BEST_STEP) == [(10, 10), (20, 20)]
    assert best_points(ev, "run/best_loss_bce") == [(10, 0.1), (20, 0.05)]
    texts = ev.Tensors(keys.TEXT_BEST + "/text_summary")
    assert [t.step for t in texts] == [10, 20]
    assert "best step 20" in texts[-1].tensor_proto.string_val[0].decode()
    layout = layout_of(train)
    # issue 15: a train-vs-eval chart only where both sides exist (this run
    # logs no train metrics, so only the loss pairs)
    assert layout[CATEGORY_TRAIN_EVAL] == {"loss/bce": ["^loss/bce$"]}
    assert list(layout[CATEGORY_STEP_TIME]) == [
        keys.step_time_tag(p) for p in ("data_wait", "forward_backward", "optimizer")
    ] + [keys.step_time_tag("total")]
    for chart, tags in layout[CATEGORY_STEP_TIME].items():
        assert tags == [f"^{re.escape(chart)}$"]  # one phase per chart
    from tensorboard.plugins.hparams.plugin_data_pb2 import HParamsPluginData

    content = ev.PluginTagToContent("hparams")
    assert "_hparams_/experiment" not in content
    start = HParamsPluginData.FromString(content["_hparams_/session_start_info"])
    assert start.session_start_info.hparams["lr"].number_value == pytest.approx(0.1)
    text_tags = train.Tags()["tensors"]
    assert keys.TEXT_RUN_INFO + "/text_summary" in text_tags


def test_train_and_eval_chart_when_both_sides_exist():
    layout = custom_scalars_layout(["auc", "grouped_auc", "loss_bce"], ["auc"])
    assert list(layout[CATEGORY_TRAIN_EVAL]) == ["loss/bce", "metric/auc"]


def test_best_survives_a_resume(tmp_path):
    with monitor(tmp_path) as mon:
        mon.on_train_start()
        evaluate(mon, {10: 0.6, 20: 0.7, 30: 0.9})
    # resumed from the step-20 checkpoint: the 0.9 at step 30 never happened
    with monitor(tmp_path, start_step=20) as mon:
        mon.on_train_start()
        evaluate(mon, {30: 0.66, 40: 0.71})
    ev = read_tb(tmp_path / names.EVAL_VAL_DIR)
    assert best_points(ev) == [(10, 0.6), (20, 0.7), (40, 0.71)]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def get_json(url: str):
    with urllib.request.urlopen(url, timeout=5) as resp:
        return json.loads(resp.read().decode("utf-8"))


def tensorboard_binary() -> str:
    here = Path(sys.executable).parent / "tensorboard"
    found = str(here) if here.exists() else shutil.which("tensorboard")
    assert found, "the tensorboard command is not installed"
    return found


def wait_for_tags(base: str, proc, log, runs, deadline_s: float = 60.0) -> dict:
    """Polls the scalars tag list until every run in ``runs`` shows."""
    deadline = time.monotonic() + deadline_s
    tags: dict = {}
    while time.monotonic() < deadline:
        assert proc.poll() is None, f"tensorboard exited:\n{log.read_text()[-2000:]}"
        try:
            tags = get_json(f"{base}/data/plugin/scalars/tags")
        except (urllib.error.URLError, ConnectionError, TimeoutError):
            tags = {}
        if all(tags.get(r) for r in runs):
            return tags
        time.sleep(0.5)
    pytest.fail(f"tensorboard had not every run {runs} in {deadline_s}s: {tags}")


def hparams_request(base: str, route: str, request: dict) -> dict:
    query = urllib.parse.urlencode({"request": json.dumps(request)})
    return get_json(f"{base}/data/plugin/hparams/{route}?{query}")


@pytest.mark.slow
def test_real_tensorboard_serves_the_runs_and_marks_differing_hparams(
    two_runs, tmp_path
):
    logdir = two_runs.a.parent  # run_a and run_b side by side, as users compare
    a, b = two_runs.a.name, two_runs.b.name
    port, log = free_port(), tmp_path / "tensorboard.log"
    cmd = [tensorboard_binary(), "--logdir", str(logdir), "--port", str(port)]
    cmd += ["--host", "127.0.0.1", "--load_fast", "false", "--reload_interval", "1"]
    with open(log, "w") as out:
        proc = subprocess.Popen(cmd, stdout=out, stderr=subprocess.STDOUT, cwd=REPO)
    try:
        base = f"http://127.0.0.1:{port}"
        ev_a = f"{a}/{names.EVAL_VAL_DIR}"
        tags = wait_for_tags(base, proc, log, [a, ev_a, b, f"{b}/{names.EVAL_VAL_DIR}"])
        assert {"loss/binary_cross_entropy", "perf/samples_per_sec"} <= set(tags[a])
        assert "loss/total" not in tags[a]  # one loss: no twin (issue 15)
        for run in (a, ev_a):  # every scalar says what it is
            assert all(t["description"] for t in tags[run].values()), tags[run]
        assert {"metric/auc", "loss/binary_cross_entropy"} <= set(tags[ev_a])
        assert keys.PERF_EVAL_SAMPLES_PER_SEC in tags[ev_a]
        query = urllib.parse.urlencode({"run": ev_a, "tag": "metric/auc"})
        points = get_json(f"{base}/data/plugin/scalars/scalars?{query}")
        with open(two_runs.a / names.EVAL_RESULT_FILE) as f:
            logged = [json.loads(line) for line in f]
        assert [p[1] for p in points] == [r["global_step"] for r in logged]
        assert [p[2] for p in points] == pytest.approx([r["auc"] for r in logged])
        layout = get_json(f"{base}/data/plugin/custom_scalars/layout")
        charts = {
            ch["title"]: ch["multiline"]["tag"]
            for cat in layout["category"]
            for ch in cat["chart"]
        }
        assert charts["metric/auc"] == ["^metric/auc$"]
        assert charts["loss/binary_cross_entropy"] == ["^loss/binary_cross_entropy$"]
        # HParams: the experiment TensorBoard serves marks what differs
        # between the two runs (batch size and dense lr), listed first.
        exp = hparams_request(
            base, "experiment", {"experimentName": "", "includeMetrics": True}
        )
        differs = {h["name"]: h.get("differs", False) for h in exp["hparamInfos"]}
        assert {n for n, d in differs.items() if d} == {"batch_size", "dense_lr"}
        assert [h["name"] for h in exp["hparamInfos"]][:2] == ["batch_size", "dense_lr"]
        assert differs["num_steps"] is False and "sparse_lr" in differs
        metrics = {m["name"]["tag"] for m in exp["metricInfos"]}
        assert {"metric/auc", keys.best_tag("auc"), keys.BEST_STEP} <= metrics
        assert "perf/rss_mb" not in metrics  # train scalars stay out of the table
        groups = hparams_request(
            base,
            "session_groups",
            {
                "experimentName": "",
                "allowedStatuses": ["STATUS_SUCCESS", "STATUS_UNKNOWN"],
                "colParams": [],
                "startIndex": 0,
                "sliceSize": 10,
            },
        )
        sessions = [s for g in groups["sessionGroups"] for s in g["sessions"]]
        assert len(sessions) == 2
        for session in sessions:
            assert session["status"] == "STATUS_SUCCESS"
            assert 0 < session["startTimeSecs"] <= session["endTimeSecs"]
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=15)
    assert proc.poll() is not None  # stopped


def test_best_from_an_eval_log_with_a_null_metric():
    from tzrec.monitor.tb_layout import best_markdown, best_scalars
    from tzrec.run_dir.best import BestSoFar

    records = [
        {"global_step": 10, "epoch": 0, "wall_time": 1.0, "auc": 0.6, "ne": 0.9},
        {"global_step": 20, "epoch": 0, "wall_time": 2.0, "auc": 0.7, "ne": None},
    ]
    best = BestSoFar.from_records("auc", True, records)
    assert best_scalars(best) == {keys.BEST_STEP: 20.0, keys.best_tag("auc"): 0.7}
    text = best_markdown(best)
    assert "best step 20" in text and "| ne | - |" in text and "wall_time" not in text
