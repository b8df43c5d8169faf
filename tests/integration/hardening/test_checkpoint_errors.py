"""Damaged or mismatched checkpoints: one line naming the file, run untouched.

The protected run's checkpoint is damaged first; the resume (or eval) must
refuse it with a clear line and change nothing else in model_dir: restore is
checked before the resolved config or anything else is written.
"""

from __future__ import annotations

import json
import shutil

from tests.cli import TINY_CONFIG, run_in_process
from tests.integration.hardening.helpers import (
    assert_intact,
    assert_one_error,
    snapshot,
    train_flags,
)

CKPT = "model.ckpt-10"


def _garble(path, start=100, count=2000):
    raw = bytearray(path.read_bytes())
    for i in range(start, min(len(raw), start + count)):
        raw[i] = (raw[i] * 31 + 7) % 256
    path.write_bytes(bytes(raw))


def _without_checksums(ckpt):
    """The marker as written before checksums: sizes only (still accepted)."""
    marker = json.loads((ckpt / "DONE").read_text())
    del marker["checksums"], marker["checksum"]
    (ckpt / "DONE").write_text(json.dumps(marker))


def _resume(tiny_data, model_dir, config=TINY_CONFIG):
    flags = train_flags(tiny_data, model_dir, "--continue_train", config=config)
    return run_in_process("tzrec.train_eval", *flags)


def test_corrupt_tensor_file(tiny_data, run_copy):
    model_dir, _ = run_copy
    _without_checksums(model_dir / CKPT)
    _garble(model_dir / CKPT / "model" / "__0_0.distcp")
    before = snapshot(model_dir)
    proc = _resume(tiny_data, model_dir)
    assert_one_error(
        proc, "cannot read checkpoint data", f"{CKPT}/model", "use another checkpoint"
    )
    assert_intact(before, model_dir)


def test_corrupt_train_state(tiny_data, run_copy):
    model_dir, _ = run_copy
    _without_checksums(model_dir / CKPT)
    _garble(model_dir / CKPT / "train_state.pt", start=10, count=300)
    before = snapshot(model_dir)
    proc = _resume(tiny_data, model_dir)
    line = assert_one_error(
        proc, "cannot load checkpoint file", f"{CKPT}/train_state.pt", "corrupt"
    )
    assert "internal miniz error" not in line  # torch's run-on explanation cut
    assert_intact(before, model_dir)


def test_truncated_file(tiny_data, run_copy):
    model_dir, _ = run_copy
    with open(model_dir / CKPT / "optimizer" / "__0_0.distcp", "r+b") as f:
        f.truncate(1000)
    before = snapshot(model_dir)
    proc = _resume(tiny_data, model_dir)
    assert_one_error(
        proc, "checkpoint file has 1000 bytes, the marker says", "optimizer/__0_0"
    )
    assert_intact(before, model_dir)


def test_checkpoint_of_another_model(tiny_data, run_copy, tmp_path):
    model_dir, before = run_copy
    config = tmp_path / "wider.config"
    config.write_text(
        TINY_CONFIG.read_text().replace(
            "hidden_units: [16, 8]", "hidden_units: [32, 8]"
        )
    )
    proc = _resume(tiny_data, model_dir, config)
    assert_one_error(
        proc,
        "checkpoint does not match the model",
        "[16] vs [32]",
        "restore with the config that wrote it",
    )
    assert_intact(before, model_dir)


def test_missing_optimizer_state(tiny_data, run_copy):
    model_dir, _ = run_copy
    ckpt = model_dir / CKPT
    shutil.rmtree(ckpt / "optimizer")
    marker = json.loads((ckpt / "DONE").read_text())
    for key in ("files", "checksums"):  # as if saved without an optimizer
        marker[key] = {
            k: v for k, v in marker[key].items() if not k.startswith("optimizer/")
        }
    (ckpt / "DONE").write_text(json.dumps(marker))
    before = snapshot(model_dir)
    proc = _resume(tiny_data, model_dir)
    assert_one_error(
        proc, "missing optimizer state", f"{CKPT}/optimizer", "fine_tune_checkpoint"
    )
    assert_intact(before, model_dir)


def test_eval_of_a_corrupt_checkpoint(run_copy):
    model_dir, _ = run_copy
    _without_checksums(model_dir / CKPT)
    _garble(model_dir / CKPT / "model" / ".metadata", start=50, count=500)
    before = snapshot(model_dir)
    proc = run_in_process(
        "tzrec.eval", "--pipeline_config_path", str(model_dir / "pipeline.config")
    )
    assert_one_error(proc, "cannot read checkpoint metadata", f"{CKPT}/model/.metadata")
    assert_intact(before, model_dir)
