"""Per-file checksums in DONE, verified on use; model_dir/artifacts.json."""

from __future__ import annotations

import json
import os
import shutil

import ckpt_dmp_model as tiny
import pytest

from tzrec.checkpoint import artifacts
from tzrec.checkpoint.manager import (
    CheckpointManager,
    load_model_weights,
    resolve_checkpoint_path,
    validate_checkpoint,
)
from tzrec.run_dir import marker as run_marker
from tzrec.utils.errors import CheckpointError


@pytest.fixture(scope="module")
def run(process_group, tmp_path_factory):
    """Checkpoints at steps 2 and 4 (with optimizer, plan and extra state)."""
    model_dir = str(tmp_path_factory.mktemp("run"))
    dmp, opt = tiny.build(seed=0)
    manager = CheckpointManager(model_dir)
    for step in (2, 4):
        tiny.train(dmp, opt, steps=2)
        manager.save(step, dmp, opt, {"step": step}, plan=dmp.plan)
    return model_dir


def _flip(path: str) -> None:
    """Flips one byte in the middle: the size stays the same."""
    with open(path, "r+b") as f:
        f.seek(os.path.getsize(path) // 2)
        byte = f.read(1)
        f.seek(-1, os.SEEK_CUR)
        f.write(bytes([byte[0] ^ 0x40]))


def _copy_run(run: str, tmp_path) -> str:
    model_dir = str(tmp_path / "md")
    shutil.copytree(run, model_dir)
    return model_dir


def test_marker_records_a_checksum_per_file(run):
    marker = run_marker.read_marker(os.path.join(run, "model.ckpt-4"))
    assert marker["checksum"] == "xxh3_64"
    assert sorted(marker["checksums"]) == sorted(marker["files"])
    kinds = {rel.split("/")[0] for rel in marker["files"]}
    assert {"model", "optimizer", "rng", "train_state.pt", "plan.txt"} <= kinds
    for rel, digest in marker["checksums"].items():
        path = os.path.join(run, "model.ckpt-4", rel)
        assert run_marker.file_checksum(path) == digest and len(digest) == 16


def _kinds(run: str) -> list[str]:
    return sorted(run_marker.read_marker(os.path.join(run, "model.ckpt-4"))["files"])


def test_a_byte_flip_in_any_file_is_refused_naming_it(run, tmp_path):
    """Every file kind: model/optimizer data and metadata, rng, state, plan."""
    for rel in _kinds(run):
        model_dir = _copy_run(run, tmp_path / rel.replace("/", "_"))
        ckpt = os.path.join(model_dir, "model.ckpt-4")
        _flip(os.path.join(ckpt, rel))
        with pytest.raises(CheckpointError) as info:
            validate_checkpoint(ckpt)
        line = info.value.one_line()
        assert line.startswith("checkpoint file is corrupt (xxh3_64 "), line
        assert f"model.ckpt-4/{rel})" in line, line
        assert f"previous complete checkpoint {model_dir}/model.ckpt-2" in line
        assert "\n" not in line


def test_restore_and_fine_tune_verify_the_checksums(run, tmp_path):
    model_dir = _copy_run(run, tmp_path)
    ckpt = os.path.join(model_dir, "model.ckpt-4")
    _flip(os.path.join(ckpt, "model", "__0_0.distcp"))
    dmp, opt = tiny.build(seed=1)
    with pytest.raises(CheckpointError, match=r"corrupt.*model/__0_0\.distcp"):
        CheckpointManager(model_dir).restore(ckpt, dmp, opt)
    with pytest.raises(CheckpointError, match=r"corrupt.*model/__0_0\.distcp"):
        load_model_weights(model_dir, dmp)
    with pytest.raises(CheckpointError, match="corrupt"):
        resolve_checkpoint_path(ckpt)
    # The previous checkpoint is intact and restores.
    CheckpointManager(model_dir).restore(os.path.join(model_dir, "model.ckpt-2"), dmp)


def test_first_checkpoint_corrupt_says_there_is_no_earlier_one(run, tmp_path):
    model_dir = _copy_run(run, tmp_path)
    ckpt = os.path.join(model_dir, "model.ckpt-2")
    _flip(os.path.join(ckpt, "train_state.pt"))
    with pytest.raises(CheckpointError, match="no earlier complete checkpoint"):
        validate_checkpoint(ckpt)


def test_marker_without_checksums_is_checked_by_size(run, tmp_path):
    """Checkpoints written before checksums still restore."""
    model_dir = _copy_run(run, tmp_path)
    ckpt = os.path.join(model_dir, "model.ckpt-4")
    marker = run_marker.read_marker(ckpt)
    del marker["checksums"], marker["checksum"]
    with open(os.path.join(ckpt, "DONE"), "w") as f:
        json.dump(marker, f)
    dmp, opt = tiny.build(seed=1)
    CheckpointManager(model_dir).restore(ckpt, dmp, opt)


def test_missing_file_names_the_previous_checkpoint(run, tmp_path):
    model_dir = _copy_run(run, tmp_path)
    os.remove(os.path.join(model_dir, "model.ckpt-4", "model", ".metadata"))
    with pytest.raises(CheckpointError) as info:
        validate_checkpoint(os.path.join(model_dir, "model.ckpt-4"))
    line = info.value.one_line()
    assert line.startswith("checkpoint file is missing (") and "model.ckpt-2" in line


def test_artifacts_json_lists_the_complete_checkpoints(run):
    entries = artifacts.read(run)
    assert [(e["kind"], e["path"], e["step"]) for e in entries] == [
        ("checkpoint", "model.ckpt-2", 2),
        ("checkpoint", "model.ckpt-4", 4),
    ]
    for e in entries:
        marker = run_marker.read_marker(os.path.join(run, e["path"]))
        assert e["bytes"] == sum(marker["files"].values())
        assert e["checksum"] == run_marker.digest_of(marker)
        assert e["created"].startswith("20")


def test_artifacts_json_follows_prune_and_keeps_exports(process_group, tmp_path):
    model_dir = str(tmp_path)
    dmp, opt = tiny.build(seed=0)
    manager = CheckpointManager(model_dir, keep_max=1)
    manager.save(1, dmp, opt, {"step": 1})
    export = {"path": "/x/export", "kind": "export", "bytes": 1, "checksum": "ab"}
    artifacts.refresh(model_dir, export)
    manager.save(2, dmp, opt, {"step": 2})
    manager.prune()
    entries = artifacts.read(model_dir)
    assert [e["path"] for e in entries] == ["model.ckpt-2", "/x/export"]
    assert not [n for n in os.listdir(model_dir) if n.startswith("artifacts.json.")]
