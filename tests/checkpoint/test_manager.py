"""CheckpointManager on a real sharded torchrec model (gloo, one process)."""

from __future__ import annotations

import json
import os
import pickle
import shutil
import subprocess
import sys

import ckpt_dmp_model as tiny
import numpy as np
import pytest
import torch

from tzrec.checkpoint.best import best_step
from tzrec.checkpoint.manager import (
    CheckpointManager,
    load_model_weights,
    resolve_checkpoint_path,
)
from tzrec.run_dir import marker as run_marker
from tzrec.utils.errors import CheckpointError

TRAIN_STATE = {"step": 3, "epoch": 0, "pos": {"file": "a.parquet", "row": 17}}


@pytest.fixture(scope="module")
def saved(process_group, tmp_path_factory):
    """A model trained 3 steps, saved at step 3, and snapshots of its state."""
    model_dir = str(tmp_path_factory.mktemp("run"))
    dmp, opt = tiny.build(seed=0)
    tiny.train(dmp, opt, steps=3)
    state = dict(TRAIN_STATE, metric=torch.tensor([0.5, 2.0]))
    result = CheckpointManager(model_dir).save(3, dmp, opt, state, plan=dmp.plan)
    return {
        "dir": model_dir,
        "result": result,
        "model": tiny.snapshot(dmp.state_dict()),
        "optim": tiny.snapshot(opt.state_dict()),
        "dmp": dmp,
        "opt": opt,
    }


def _assert_same(actual: dict, expected: dict) -> None:
    assert sorted(actual) == sorted(expected)
    for key in expected:
        assert torch.equal(actual[key], expected[key]), key


def _copy(saved: dict, tmp_path) -> str:
    """A private copy of the saved checkpoint to damage; returns its path."""
    path = str(tmp_path / "model.ckpt-3")
    shutil.copytree(saved["result"].path, path)
    return path


def _refresh_marker(ckpt: str) -> None:
    """Re-records file sizes and checksums after a test replaced a file."""
    with open(os.path.join(ckpt, "DONE")) as f:
        marker = json.load(f)
    os.remove(os.path.join(ckpt, "DONE"))
    fresh = run_marker.build_marker(ckpt)
    marker["files"], marker["checksums"] = fresh["files"], fresh["checksums"]
    with open(os.path.join(ckpt, "DONE"), "w") as f:
        json.dump(marker, f)


class _Evil:
    """Unpickling this runs a command: a checkpoint must never do that."""

    def __init__(self, flag: str) -> None:
        self.flag = flag

    def __reduce__(self):
        return (os.system, (f"touch {self.flag}",))


def test_restore_into_fresh_model_equals_saved(saved):
    dmp, opt = tiny.build(seed=1)  # other weights, dense Adam state not yet built
    with pytest.raises(AssertionError):
        _assert_same(tiny.snapshot(dmp.state_dict()), saved["model"])
    state = CheckpointManager(saved["dir"]).restore(saved["result"].path, dmp, opt)
    _assert_same(tiny.snapshot(dmp.state_dict()), saved["model"])
    _assert_same(tiny.snapshot(opt.state_dict()), saved["optim"])
    assert state["pos"] == TRAIN_STATE["pos"] and state["step"] == 3
    assert torch.equal(state["metric"], torch.tensor([0.5, 2.0]))
    assert set(state["rng"]) >= {"python", "numpy", "torch"}
    # Exact resume: both continue identically from the same state.
    tiny.train(saved["dmp"], saved["opt"], steps=2, seed=9)
    tiny.train(dmp, opt, steps=2, seed=9)
    _assert_same(
        tiny.snapshot(dmp.state_dict()), tiny.snapshot(saved["dmp"].state_dict())
    )
    _assert_same(
        tiny.snapshot(opt.state_dict()), tiny.snapshot(saved["opt"].state_dict())
    )
    # Restoring into the trained-on model brings it back too.
    CheckpointManager(saved["dir"]).restore(saved["result"].path, dmp, opt)
    _assert_same(tiny.snapshot(dmp.state_dict()), saved["model"])
    _assert_same(tiny.snapshot(opt.state_dict()), saved["optim"])


def test_layout_marker_and_result(saved):
    result = saved["result"]
    assert result.path == os.path.join(saved["dir"], "model.ckpt-3")
    with open(os.path.join(result.path, "DONE")) as f:
        marker = json.load(f)
    assert marker["step"] == 3 and marker["world_size"] == 1
    assert {"model/.metadata", "optimizer/.metadata", "train_state.pt"} <= set(
        marker["files"]
    )
    assert marker["files"] == {
        k: v for k, v in run_marker.list_files(result.path).items() if k != "DONE"
    }
    assert result.nbytes == sum(marker["files"].values()) and result.seconds > 0
    with open(os.path.join(result.path, "plan.txt")) as f:
        assert "table_wise" in f.read()
    assert [n for n in os.listdir(saved["dir"]) if n.startswith(".")] == []


def test_marker_less_dir_ignored_and_cleaned(saved, tmp_path):
    _copy(saved, tmp_path)
    os.rename(tmp_path / "model.ckpt-3", tmp_path / "model.ckpt-9")
    shutil.copytree(saved["result"].path, tmp_path / "model.ckpt-3")
    os.remove(tmp_path / "model.ckpt-9" / "DONE")
    manager = CheckpointManager(str(tmp_path))
    assert manager.latest() == (3, str(tmp_path / "model.ckpt-3"))
    assert resolve_checkpoint_path(str(tmp_path))[0] == 3
    with pytest.raises(CheckpointError, match="model.ckpt-9/DONE"):
        resolve_checkpoint_path(str(tmp_path / "model.ckpt-9"))
    assert manager.cleanup_incomplete() == [str(tmp_path / "model.ckpt-9")]
    assert sorted(os.listdir(tmp_path)) == ["model.ckpt-3"]


def test_temp_dir_of_killed_writer_ignored_then_cleaned(saved, tmp_path):
    code = (
        "import os, sys, time\n"
        "d = os.path.join(sys.argv[1], f'.tmp-model.ckpt-7-{os.getpid()}')\n"
        "os.makedirs(os.path.join(d, 'model'))\n"
        "open(os.path.join(d, 'model', '__0_0.distcp'), 'wb').write(b'x' * 100)\n"
        "print(d, flush=True)\n"
        "time.sleep(60)\n"
    )
    writer = subprocess.Popen(
        [sys.executable, "-c", code, str(tmp_path)], stdout=subprocess.PIPE, text=True
    )
    tmp_dir = writer.stdout.readline().strip()
    own = tmp_path / f".tmp-model.ckpt-5-{os.getpid()}"  # left by this pid earlier
    own.mkdir()
    manager = CheckpointManager(str(tmp_path))
    try:
        assert manager.list_complete() == [] and manager.latest() is None
        assert manager.cleanup_incomplete() == [str(own)]
        assert os.path.isdir(tmp_dir)  # its writer is alive: left alone
    finally:
        writer.kill()
        writer.wait()
    assert manager.cleanup_incomplete() == [tmp_dir]
    assert os.listdir(tmp_path) == []


_KILLED_SAVE = """
import sys, torch
from torchrec.optim.keyed import KeyedOptimizerWrapper
from tzrec.checkpoint.manager import CheckpointManager
model = torch.nn.Linear(4, 2)
opt = KeyedOptimizerWrapper(
    dict(model.named_parameters()), lambda p: torch.optim.Adam(p, lr=0.1)
)
model(torch.ones(3, 4)).sum().backward()
opt.step()
manager = CheckpointManager(sys.argv[1])
manager.save(1, model, opt, {"step": 1})
manager.save(2, model, opt, {"step": 2})  # TZREC_FAILPOINT kills this one
"""


@pytest.mark.parametrize(
    "point", ["checkpoint_mid_write:2", "checkpoint_before_rename:2"]
)
def test_save_killed_midway_leaves_previous_checkpoint_latest(point, tmp_path):
    env = dict(os.environ, TZREC_FAILPOINT=point)
    run = subprocess.run(
        [sys.executable, "-c", _KILLED_SAVE, str(tmp_path)],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert run.returncode == -9, run.stderr[-2000:]
    leftovers = [n for n in os.listdir(tmp_path) if n.startswith(".tmp-")]
    assert len(leftovers) == 1 and leftovers[0].startswith(".tmp-model.ckpt-2-")
    manager = CheckpointManager(str(tmp_path))
    assert manager.latest() == (1, str(tmp_path / "model.ckpt-1"))
    assert manager.cleanup_incomplete() == [str(tmp_path / leftovers[0])]
    model = torch.nn.Linear(4, 2)
    assert manager.restore(manager.latest()[1], model)["step"] == 1


def test_prune_keeps_newest_and_best(saved, tmp_path):
    log = tmp_path / "train_eval_result.jsonl"
    lines = [
        {"global_step": 1, "auc": 0.6},
        {"global_step": 2, "auc": 0.9},
        {"global_step": 3, "auc": None},
        {"global_step": 4, "auc": 0.7},
    ]
    log.write_text("".join(json.dumps(x) + "\n" for x in lines))

    def best():
        steps = {s for s, _ in manager.list_complete()}
        found = best_step(str(log), "auc", True, steps)
        return found[0] if found else None

    manager = CheckpointManager(str(tmp_path), keep_max=2, best_fn=best)
    for step in range(1, 6):
        manager.save(step, saved["dmp"], saved["opt"], {"step": step})
        manager.prune()
    assert [s for s, _ in manager.list_complete()] == [2, 4, 5]
    assert sorted(n for n in os.listdir(tmp_path) if n.startswith("model")) == [
        "model.ckpt-2",
        "model.ckpt-4",
        "model.ckpt-5",
    ]
    assert CheckpointManager(str(tmp_path)).prune() == []  # keep_max=0 keeps all


def test_resave_same_step_replaces_checkpoint(saved, tmp_path):
    manager = CheckpointManager(str(tmp_path))
    manager.save(4, saved["dmp"], saved["opt"], {"step": 4, "pos": 1})
    manager.save(4, saved["dmp"], saved["opt"], {"step": 4, "pos": 2})
    assert sorted(os.listdir(tmp_path)) == ["artifacts.json", "model.ckpt-4"]
    dmp, opt = tiny.build(seed=1)
    assert manager.restore(str(tmp_path / "model.ckpt-4"), dmp, opt)["pos"] == 2


def test_corrupt_train_state_names_the_file(saved, tmp_path):
    ckpt = _copy(saved, tmp_path)
    path = os.path.join(ckpt, "train_state.pt")
    data = bytearray(open(path, "rb").read())
    data[len(data) // 3 : len(data) // 3 + 64] = b"\xff" * 64  # same size
    open(path, "wb").write(bytes(data))
    dmp, _ = tiny.build(seed=1)
    with pytest.raises(CheckpointError, match="train_state.pt"):
        CheckpointManager(str(tmp_path)).restore(ckpt, dmp)
    open(path, "wb").write(bytes(data[:100]))  # truncated
    with pytest.raises(CheckpointError, match="train_state.pt.*truncated"):
        CheckpointManager(str(tmp_path)).restore(ckpt, dmp)


def test_malicious_pickles_are_refused_not_run(saved, tmp_path):
    ckpt = _copy(saved, tmp_path)
    flag = tmp_path / "pwned"
    torch.save({"step": _Evil(str(flag))}, os.path.join(ckpt, "train_state.pt"))
    _refresh_marker(ckpt)
    dmp, _ = tiny.build(seed=1)
    with pytest.raises(CheckpointError, match="weights-only.*train_state.pt"):
        CheckpointManager(str(tmp_path)).restore(ckpt, dmp)
    shutil.copy(os.path.join(saved["result"].path, "train_state.pt"), ckpt)
    with open(os.path.join(ckpt, "model", ".metadata"), "wb") as f:
        pickle.dump(_Evil(str(flag)), f)
    _refresh_marker(ckpt)
    with pytest.raises(CheckpointError, match=r"model/\.metadata.*corrupt"):
        CheckpointManager(str(tmp_path)).restore(ckpt, dmp)
    assert not flag.exists()


def test_corrupt_tensor_file_names_the_checkpoint(saved, tmp_path):
    ckpt = _copy(saved, tmp_path)
    path = os.path.join(ckpt, "model", "__0_0.distcp")
    size = os.path.getsize(path)
    open(path, "wb").write(b"\0" * size)
    _refresh_marker(ckpt)  # past the checksum: the loader names it too
    dmp, _ = tiny.build(seed=1)
    with pytest.raises(CheckpointError, match=r"model\.ckpt-3/model\)"):
        CheckpointManager(str(tmp_path)).restore(ckpt, dmp)


def test_wrong_model_lists_missing_and_reshaped_keys(saved):
    dmp, opt = tiny.build(seed=1, dim=4, hidden=6)
    with pytest.raises(CheckpointError) as info:
        CheckpointManager(saved["dir"]).restore(saved["result"].path, dmp, opt)
    message = str(info.value)
    assert "does not match the model" in message
    assert "ebc.embedding_bags.t1.weight [100, 8] vs [100, 4]" in message
    assert "mlp.0.weight [4, 16] vs [6, 8]" in message
    assert "model.ckpt-3/model" in message


def test_missing_optimizer_state_is_clear(saved, tmp_path):
    manager = CheckpointManager(str(tmp_path))
    result = manager.save(2, saved["dmp"], None, {"step": 2})
    dmp, opt = tiny.build(seed=1)
    with pytest.raises(CheckpointError, match="missing optimizer state"):
        manager.restore(result.path, dmp, opt)
    manager.restore(result.path, dmp)  # eval/export: weights only
    _assert_same(
        tiny.snapshot(dmp.state_dict()), tiny.snapshot(saved["dmp"].state_dict())
    )


def test_load_model_weights_lists_missing_and_extra(saved):
    dmp, _ = tiny.build(seed=1, hidden=6)  # MLP differs, tables match
    missing, unexpected = load_model_weights(saved["dir"], dmp)
    assert missing == ["mlp.0.bias", "mlp.0.weight", "mlp.2.weight"]
    assert unexpected == []
    got = tiny.snapshot(dmp.state_dict())
    for key in ("ebc.embedding_bags.t1.weight", "mlp.2.bias"):
        assert torch.equal(got[key], saved["model"][key])
    with pytest.raises(CheckpointError, match="mlp.0.weight"):
        load_model_weights(saved["result"].path, dmp, strict=True)


def test_unsafe_train_state_fails_the_save(saved, tmp_path):
    manager = CheckpointManager(str(tmp_path))
    with pytest.raises(CheckpointError, match=r"train_state\['auc'\]"):
        manager.save(1, saved["dmp"], saved["opt"], {"auc": np.float64(0.5)})
    assert os.listdir(tmp_path) == []


def test_resolve_checkpoint_path_errors(tmp_path):
    with pytest.raises(CheckpointError, match="no complete checkpoint"):
        resolve_checkpoint_path(str(tmp_path))
    with pytest.raises(CheckpointError, match="does not exist"):
        resolve_checkpoint_path(str(tmp_path / "nope"))


def test_checkpoint_from_before_first_step_restores(process_group, tmp_path):
    dmp, opt = tiny.build(seed=3)  # dense Adam state not built yet
    manager = CheckpointManager(str(tmp_path))
    result = manager.save(0, dmp, opt, {"step": 0})
    expected = tiny.snapshot(dmp.state_dict())
    other, other_opt = tiny.build(seed=4)
    assert manager.restore(result.path, other, other_opt)["step"] == 0
    _assert_same(tiny.snapshot(other.state_dict()), expected)
