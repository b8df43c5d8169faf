"""Bad flags, directories and environment: one line, exit 2, nothing damaged."""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys

import pytest

from tests.cli import run_cli, run_in_process
from tests.integration.hardening.helpers import (
    assert_intact,
    assert_one_error,
    train_flags,
)


def test_unknown_flag(tiny_data, run_copy):
    model_dir, before = run_copy
    flags = train_flags(tiny_data, model_dir, "--continue_train", "--modle_dir", "x")
    proc = run_cli("tzrec.train_eval", *flags)
    assert_one_error(proc, "unknown flag --modle_dir", "did you mean --model_dir?")
    assert_intact(before, model_dir)


def test_missing_required_flag(run_copy):
    model_dir, before = run_copy
    proc = run_in_process("tzrec.train_eval", "--model_dir", str(model_dir))
    assert_one_error(proc, "required: --pipeline_config_path", "--help")
    assert_intact(before, model_dir)


def test_model_dir_is_a_file(tiny_data, tmp_path):
    path = tmp_path / "a_file"
    path.write_text("keep me\n")
    proc = run_in_process("tzrec.train_eval", *train_flags(tiny_data, path))
    assert_one_error(proc, "model_dir is a file", str(path), "pass a directory")
    assert path.read_text() == "keep me\n"


@contextlib.contextmanager
def _read_only(folder):
    """``folder`` unwritable, also for root (immutable attribute)."""
    if os.geteuid() != 0:
        folder.chmod(0o555)
        try:
            yield
        finally:
            folder.chmod(0o755)
        return
    if subprocess.run(["chattr", "+i", str(folder)], capture_output=True).returncode:
        pytest.skip("cannot make a directory read-only for root here (chattr)")
    try:
        yield
    finally:
        subprocess.run(["chattr", "-i", str(folder)], check=True)


def test_model_dir_not_writable(tiny_data, tmp_path):
    model_dir = tmp_path / "ro"
    model_dir.mkdir()
    with _read_only(model_dir):
        proc = run_in_process("tzrec.train_eval", *train_flags(tiny_data, model_dir))
    assert_one_error(proc, "model_dir is not writable", "choose a writable path")
    assert list(model_dir.iterdir()) == []


def test_model_dir_with_checkpoints_needs_continue_train(tiny_data, run_copy):
    model_dir, before = run_copy
    proc = run_in_process("tzrec.train_eval", *train_flags(tiny_data, model_dir))
    assert_one_error(proc, "model_dir already holds checkpoints", "--continue_train")
    assert_intact(before, model_dir)


HOLD_LOCK = """
import fcntl, os, sys
fd = os.open(sys.argv[1], os.O_RDWR | os.O_CREAT)
fcntl.flock(fd, fcntl.LOCK_EX)
os.ftruncate(fd, 0)
os.write(fd, b'{"pid": %d, "host": "other"}' % os.getpid())
print("locked", flush=True)
sys.stdin.read()
"""


def test_model_dir_in_use_by_another_run(tiny_data, run_copy):
    model_dir, before = run_copy
    holder = subprocess.Popen(
        [sys.executable, "-c", HOLD_LOCK, str(model_dir / ".tzrec.lock")],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout.readline().strip() == "locked"
        flags = train_flags(tiny_data, model_dir, "--continue_train")
        proc = run_in_process("tzrec.train_eval", *flags)
    finally:
        holder.communicate("")
    line = assert_one_error(proc, "another run is writing this model_dir")
    assert f"pid {holder.pid} on other" in line
    assert_intact(before, model_dir)


def test_bad_log_level(tiny_data, run_copy):
    model_dir, before = run_copy
    flags = train_flags(tiny_data, model_dir, "--continue_train")
    proc = run_in_process("tzrec.train_eval", *flags, env={"LOG_LEVEL": "LOUD"})
    assert_one_error(proc, "unknown log level 'LOUD'", "LOG_LEVEL", "use one of")
    assert_intact(before, model_dir)


def test_export_dir_exists(run_copy, tmp_path):
    model_dir, before = run_copy
    export_dir = tmp_path / "exported"
    export_dir.mkdir()
    (export_dir / "keep.txt").write_text("old export")
    proc = run_cli(
        "tzrec.export",
        "--pipeline_config_path",
        str(model_dir / "pipeline.config"),
        "--export_dir",
        str(export_dir),
    )
    assert_one_error(proc, "export directory already exists", str(export_dir))
    assert [p.name for p in export_dir.iterdir()] == ["keep.txt"]
    assert_intact(before, model_dir)


def test_eval_checkpoint_path_missing(run_copy):
    model_dir, before = run_copy
    missing = str(model_dir / "model.ckpt-99")
    proc = run_cli(
        "tzrec.eval",
        "--pipeline_config_path",
        str(model_dir / "pipeline.config"),
        "--checkpoint_path",
        missing,
    )
    assert_one_error(proc, "checkpoint path does not exist", "model.ckpt-99")
    assert_intact(before, model_dir)


def test_predict_needs_exactly_one_model(run_copy, tiny_data, tmp_path):
    model_dir, before = run_copy
    proc = run_cli(
        "tzrec.predict",
        "--predict_input_path",
        str(tiny_data / "eval"),
        "--predict_output_path",
        str(tmp_path / "out.parquet"),
    )
    assert_one_error(proc, "pass exactly one of --scripted_model_path and")
    assert not (tmp_path / "out.parquet").exists()


@pytest.mark.parametrize(
    ("flags", "needles"),
    [
        (["--asset_files", "no/such/vocab.txt"], ["asset file not found"]),
        (
            ["--additional_export_config", "{cand_seq_pk: 1}"],
            ["not valid JSON", "(--additional_export_config)"],
        ),
    ],
    ids=["missing_asset", "bad_additional_export_config"],
)
def test_export_extras_are_checked_first(run_copy, tmp_path, flags, needles):
    model_dir, before = run_copy
    export_dir = tmp_path / "exported"
    proc = run_in_process(
        "tzrec.export",
        "--pipeline_config_path",
        str(model_dir / "pipeline.config"),
        "--export_dir",
        str(export_dir),
        *flags,
    )
    assert_one_error(proc, *needles)
    assert not export_dir.exists()
    assert_intact(before, model_dir)


def test_predict_edit_config_json_unknown_field(run_copy, tiny_data, tmp_path):
    model_dir, before = run_copy
    proc = run_in_process(
        "tzrec.predict",
        "--pipeline_config_path",
        str(model_dir / "pipeline.config"),
        "--predict_input_path",
        str(tiny_data / "eval"),
        "--predict_output_path",
        str(tmp_path / "out.parquet"),
        "--edit_config_json",
        '{"data_config.batch_sise": 64}',
    )
    assert_one_error(proc, "batch_sise", "(edit_config_json: data_config.batch_sise)")
    assert not (tmp_path / "out.parquet").exists()
    assert_intact(before, model_dir)
