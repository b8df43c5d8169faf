"""Ranks under a real torchrun stop when their launcher or a peer is killed.

torchrun starts every rank in a session of its own, so nothing signals them
when the launcher dies; each rank watches its parent and its peers and stops
within seconds, saying which process died and where ``--continue_train``
resumes, and the model_dir lock is free again.
"""

from __future__ import annotations

import fcntl
import json
import os
import re
import signal
import subprocess
import time

import psutil
import pytest

from tests.cli import REPO, child_env, torchrun_cmd
from tests.integration.hardening.helpers import ERROR_LINE, record_line, train_flags

pytestmark = pytest.mark.slow
LONG_RUN = json.dumps({"train_config.num_steps": 100000, "data_config.num_workers": 1})


def _start(model_dir, tiny_data, extra_env=None) -> subprocess.Popen:
    flags = train_flags(tiny_data, model_dir, "--edit_config_json", LONG_RUN)
    return subprocess.Popen(
        torchrun_cmd(2, "-m", "tzrec.train_eval", *flags),
        cwd=REPO,
        env=child_env(extra_env),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )


def _ranks_after_first_checkpoint(launcher, model_dir) -> dict[int, psutil.Process]:
    """Waits for model.ckpt-10; returns rank -> process."""
    deadline = time.monotonic() + 180
    while not (model_dir / "model.ckpt-10" / "DONE").exists():
        assert launcher.poll() is None, launcher.stderr.read()[-3000:]
        assert time.monotonic() < deadline, "no checkpoint within 180 s"
        time.sleep(0.2)
    ranks = {}
    for child in psutil.Process(launcher.pid).children():
        ranks[int(child.environ()["RANK"])] = child
    assert sorted(ranks) == [0, 1]
    return ranks


def _lock_is_free(model_dir) -> bool:
    fd = os.open(model_dir / ".tzrec.lock", os.O_RDWR)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        return True
    except BlockingIOError:
        return False
    finally:
        os.close(fd)


def _stop_all(launcher, ranks) -> None:
    for proc in [launcher, *ranks.values()]:
        try:
            os.kill(proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass


def test_launcher_killed(tiny_data, tmp_path):
    model_dir = tmp_path / "md"
    launcher = _start(model_dir, tiny_data)
    ranks = _ranks_after_first_checkpoint(launcher, model_dir)
    try:
        assert not _lock_is_free(model_dir)
        os.kill(launcher.pid, signal.SIGKILL)
        killed = time.monotonic()
        _, alive = psutil.wait_procs(list(ranks.values()), timeout=30)
        took = time.monotonic() - killed
        assert not alive, f"ranks still running 30 s after the launcher died: {alive}"
        assert _lock_is_free(model_dir)
        stderr = launcher.communicate(timeout=30)[1]
    finally:
        _stop_all(launcher, ranks)
    lines = [x for x in stderr.splitlines() if x.startswith("error:")]
    assert len(lines) == 1, stderr[-3000:]
    (line,) = lines
    assert ERROR_LINE.fullmatch(line), line
    assert line.startswith(f"error: the launcher died (pid {launcher.pid}): rank 0 ")
    assert re.search(r"--continue_train resumes from step \d+$", line), line
    assert "Traceback" not in stderr and "internal error" not in stderr
    print(f"ranks exited {took:.1f}s after the launcher was killed")
    record_line(line)


def test_one_rank_killed(tiny_data, tmp_path):
    model_dir = tmp_path / "md"
    launcher = _start(model_dir, tiny_data)
    ranks = _ranks_after_first_checkpoint(launcher, model_dir)
    try:
        os.kill(ranks[1].pid, signal.SIGKILL)
        stderr = launcher.communicate(timeout=120)[1]
        _, alive = psutil.wait_procs(list(ranks.values()), timeout=30)
        assert not alive
    finally:
        _stop_all(launcher, ranks)
    assert launcher.returncode != 0
    lines = [x for x in stderr.splitlines() if x.startswith("error:")]
    assert len(lines) == 1, stderr[-3000:]
    (line,) = lines
    assert ERROR_LINE.fullmatch(line), line
    assert line.startswith(
        f"error: rank 1 died without an error line (pid {ranks[1].pid}): rank 0 "
    ), line
    assert re.search(r"--continue_train resumes from step \d+$", line), line
    assert "internal error" not in stderr and 'File "' not in stderr.split(line)[0]
    assert _lock_is_free(model_dir)
    record_line(line)
