"""TensorBoard tells the story: custom-scalars layout, best-so-far, a live server."""

from __future__ import annotations

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
from runs_helpers import REPO

from tzrec.monitor import keys
from tzrec.monitor.monitor import Monitor
from tzrec.monitor.tb_layout import CATEGORY_BEST, CATEGORY_TRAIN_EVAL


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
    return Monitor(
        str(model_dir),
        is_rank0=True,
        batch_size=8,
        hparams={"lr": 0.1},
        eval_metric_names=["auc", "loss_bce"],
        best_metric="auc",
        start_step=start_step,
    )


def evaluate(mon: Monitor, values: dict[int, float]) -> None:
    for step, auc in values.items():
        mon.on_eval(step, 0, {"auc": auc, "loss_bce": 1.0 / step})


def test_layout_best_so_far_and_hparams_written_to_tensorboard(tmp_path):
    with monitor(tmp_path) as mon:
        mon.on_train_start()
        evaluate(mon, {10: 0.6, 20: 0.7, 30: 0.65, 40: math.nan})
    train, ev = read_tb(tmp_path), read_tb(tmp_path / keys.EVAL_VAL_DIR)
    best = [(e.step, round(e.value, 6)) for e in ev.Scalars("best/auc")]
    assert best == [(10, 0.6), (20, 0.7), (30, 0.7), (40, 0.7)]
    layout = layout_of(train)
    charts = layout[CATEGORY_TRAIN_EVAL]
    assert list(charts)[:2] == ["loss/total", "loss/bce"]  # losses first
    for chart, tags in charts.items():
        assert [t for t in tags if re.search(t, chart)] == tags  # regex hits its tag
        assert not any(re.search(t, "metric/auc_ctr") for t in tags)
    assert charts["metric/auc"] == ["^metric/auc$"]
    assert layout[CATEGORY_BEST] == {"best/auc": ["^best/auc$", "^metric/auc$"]}
    from tensorboard.plugins.hparams.plugin_data_pb2 import HParamsPluginData

    content = train.PluginTagToContent("hparams")
    exp = HParamsPluginData.FromString(content["_hparams_/experiment"]).experiment
    names = [(m.name.group, m.name.tag) for m in exp.metric_infos]
    assert names[0] == ("eval_val", "best/auc")
    assert ("eval_val", "metric/auc") in names and ("eval_val", "loss/bce") in names


def test_best_so_far_survives_a_resume(tmp_path):
    with monitor(tmp_path) as mon:
        mon.on_train_start()
        evaluate(mon, {10: 0.6, 20: 0.7, 30: 0.9})
    # resumed from the step-20 checkpoint: the 0.9 at step 30 never happened
    with monitor(tmp_path, start_step=20) as mon:
        mon.on_train_start()
        evaluate(mon, {30: 0.66, 40: 0.71})
    ev = read_tb(tmp_path / keys.EVAL_VAL_DIR)
    best = [(e.step, round(e.value, 6)) for e in ev.Scalars("best/auc")]
    assert best == [(10, 0.6), (20, 0.7), (30, 0.7), (40, 0.71)]


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


def wait_for_tags(base: str, proc, log, deadline_s: float = 60.0) -> dict:
    """Polls the scalars tag list until both the train and eval runs show."""
    deadline = time.monotonic() + deadline_s
    tags: dict = {}
    while time.monotonic() < deadline:
        assert proc.poll() is None, f"tensorboard exited:\n{log.read_text()[-2000:]}"
        try:
            tags = get_json(f"{base}/data/plugin/scalars/tags")
        except (urllib.error.URLError, ConnectionError, TimeoutError):
            tags = {}
        if tags.get(".") and tags.get(keys.EVAL_VAL_DIR):
            return tags
        time.sleep(0.5)
    pytest.fail(f"tensorboard had no train and eval tags in {deadline_s}s: {tags}")


@pytest.mark.slow
def test_real_tensorboard_serves_the_run(two_runs, tmp_path):
    port, log = free_port(), tmp_path / "tensorboard.log"
    cmd = [tensorboard_binary(), "--logdir", str(two_runs.a), "--port", str(port)]
    cmd += ["--host", "127.0.0.1", "--load_fast", "false", "--reload_interval", "1"]
    with open(log, "w") as out:
        proc = subprocess.Popen(cmd, stdout=out, stderr=subprocess.STDOUT, cwd=REPO)
    try:
        base = f"http://127.0.0.1:{port}"
        tags = wait_for_tags(base, proc, log)
        assert {
            "loss/total",
            "loss/binary_cross_entropy",
            "perf/samples_per_sec",
        } <= set(tags["."])
        assert {"metric/auc", "loss/binary_cross_entropy"} <= set(tags["eval_val"])
        query = urllib.parse.urlencode({"run": "eval_val", "tag": "metric/auc"})
        points = get_json(f"{base}/data/plugin/scalars/scalars?{query}")
        with open(two_runs.a / keys.EVAL_RESULT_FILE) as f:
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
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=15)
    assert proc.poll() is not None  # stopped
