"""A full disk while checkpointing or appending the eval log, then a resume.

The disk is simulated with a file-size limit (RLIMIT_FSIZE, SIGXFSZ ignored,
so writes past it fail with EFBIG): either from the start, so the next
checkpoint cannot be written, or lowered from outside while the process is
stopped in the middle of an evaluation, so its eval-log line cannot be
appended. Either way: one clear line, exit 2, the earlier checkpoints and
every earlier eval line intact, and a resume without the limit finishes.
"""

from __future__ import annotations

import json
import os
import resource
import shutil
import signal
import subprocess
import sys
import time

import pytest

from tests.cli import run_cli, run_in_process, start_cli
from tests.integration.hardening.helpers import (
    assert_intact,
    assert_one_error,
    eval_steps,
    snapshot,
    train_flags,
)

pytestmark = pytest.mark.slow
# Checkpoint and evaluate every 2 steps: a run killed at step 15 leaves an
# eval log (7 lines) larger than anything the evaluation writes before it.
EDIT = json.dumps({"train_config.save_checkpoints_steps": 2})
ATTEMPT = ("run.json", "version")


def _flags(tiny_data, model_dir, *extra):
    return train_flags(tiny_data, model_dir, "--edit_config_json", EDIT, *extra)


@pytest.fixture(scope="module")
def evaluated_run(tiny_data, tmp_path_factory):
    model_dir = tmp_path_factory.mktemp("disk") / "md"
    proc = run_cli(
        "tzrec.train_eval",
        *_flags(tiny_data, model_dir),
        env={"TZREC_FAILPOINT": "after_step:15"},
    )
    assert proc.returncode == -signal.SIGKILL, proc.stderr[-3000:]
    assert eval_steps(model_dir) == [2, 4, 6, 8, 10, 12, 14]
    return model_dir


@pytest.fixture
def run(evaluated_run, tmp_path):
    model_dir = tmp_path / "md"
    shutil.copytree(evaluated_run, model_dir)
    return model_dir


def _ignore_sigxfsz() -> None:
    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)


def _limited(limit: int):
    def preexec() -> None:
        _ignore_sigxfsz()
        resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))

    return preexec


def _resume_completes(tiny_data, model_dir):
    flags = _flags(tiny_data, model_dir, "--continue_train")
    proc = run_in_process("tzrec.train_eval", *flags)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert eval_steps(model_dir) == list(range(2, 21, 2))
    assert sorted(p.name for p in model_dir.glob("model.ckpt-*"))[-1] == "model.ckpt-20"
    assert not list(model_dir.glob(".tmp-*"))


def test_checkpoint_write_fails(tiny_data, run):
    before = snapshot(run)
    flags = _flags(tiny_data, run, "--continue_train")
    proc = run_cli("tzrec.train_eval", *flags, preexec_fn=_limited(20_000))
    assert_one_error(
        proc,
        "checkpoint write failed",
        "File too large",
        f"({run}/model.ckpt-16)",
        "free disk space",
        "--continue_train",
    )
    # Checkpoints 12 and 14, the eval log and the resolved config unchanged;
    # the half-written checkpoint is gone.
    assert_intact(before, run, rewritten=ATTEMPT)
    _resume_completes(tiny_data, run)


def _wait_stopped(proc: subprocess.Popen) -> None:
    deadline = time.monotonic() + 240
    while time.monotonic() < deadline:
        assert proc.poll() is None, proc.stderr.read()[-3000:]
        with open(f"/proc/{proc.pid}/stat") as f:
            if f.read().rsplit(")", 1)[1].split()[0] == "T":
                return
        time.sleep(0.1)
    raise AssertionError("the run never reached its stop point")


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="uses /proc")
def test_eval_log_append_fails(tiny_data, run):
    log = run / "train_eval_result.jsonl"
    old_log = log.read_bytes()
    proc = start_cli(
        "tzrec.train_eval",
        *_flags(tiny_data, run, "--continue_train"),
        env={"TZREC_FAILPOINT": "mid_eval:2:stop"},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        preexec_fn=_ignore_sigxfsz,
    )
    try:
        _wait_stopped(proc)  # checkpoint 16 written, its evaluation under way
        limit = len(old_log) + 50  # the new line is cut after 50 bytes
        resource.prlimit(proc.pid, resource.RLIMIT_FSIZE, (limit, limit))
        os.kill(proc.pid, signal.SIGCONT)
        _, stderr = proc.communicate(timeout=240)
    finally:
        proc.kill()
    done = subprocess.CompletedProcess(proc.args, proc.returncode, "", stderr)
    assert_one_error(
        done, "cannot write: File too large", f"({log})", "--continue_train"
    )
    assert log.read_bytes() == old_log  # the torn line was cut off again
    assert (run / "model.ckpt-16" / "DONE").is_file()
    # The resume evaluates step 16 first, then trains on to 20.
    _resume_completes(tiny_data, run)
