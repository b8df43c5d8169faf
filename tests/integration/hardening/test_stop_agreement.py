"""Ranks stop together: on a signal to one rank, and on a launcher lost early.

A scheduler or a user may signal one rank's process only. That rank saves a
checkpoint; unless the others stop at the same step they wait in a collective
until a timeout. The stop is agreed across ranks after every step. A launcher
killed while its ranks still import and rendezvous takes its store with it;
the ranks watch it from before the process group exists.
"""

from __future__ import annotations

import json
import os
import signal
import time

import psutil
import pytest

from tests.integration.hardening.test_rank_supervision import (
    _lock_is_free,
    _ranks_after_first_checkpoint,
    _start,
    _stop_all,
)

pytestmark = pytest.mark.slow


def test_sigterm_to_one_rank_stops_every_rank(tiny_data, tmp_path):
    model_dir = tmp_path / "md"
    launcher = _start(model_dir, tiny_data)
    ranks = _ranks_after_first_checkpoint(launcher, model_dir)
    try:
        ranks[1].send_signal(signal.SIGTERM)
        stderr = launcher.communicate(timeout=120)[1]
    finally:
        _stop_all(launcher, ranks)
    assert launcher.returncode == 0, stderr[-3000:]
    assert "a signal to another rank" in stderr, stderr[-3000:]
    done = sorted(
        int(p.name.split("-")[1])
        for p in model_dir.glob("model.ckpt-*")
        if (p / "DONE").exists()
    )
    assert done, "no complete checkpoint"
    lines = (model_dir / "events.jsonl").read_text().splitlines()
    events = [json.loads(x) for x in lines]
    finished = [e for e in events if e["event"] == "run_finished"]
    assert finished and finished[-1]["status"] == "stopped", finished


def test_launcher_killed_while_ranks_start(tiny_data, tmp_path):
    model_dir = tmp_path / "md"
    # Both ranks stop themselves (SIGSTOP) just before the process group forms.
    launcher = _start(
        model_dir, tiny_data, {"TZREC_FAILPOINT": "before_process_group::stop"}
    )
    ranks: list[psutil.Process] = []
    try:
        deadline = time.monotonic() + 120
        while len(ranks) < 2 or any(r.status() != psutil.STATUS_STOPPED for r in ranks):
            assert time.monotonic() < deadline, "ranks never reached the failpoint"
            assert launcher.poll() is None, launcher.stderr.read()[-3000:]
            time.sleep(0.2)
            ranks = psutil.Process(launcher.pid).children()
        os.kill(launcher.pid, signal.SIGKILL)
        launcher.wait()
        for rank in ranks:
            rank.send_signal(signal.SIGCONT)
        _, alive = psutil.wait_procs(ranks, timeout=30)
        assert not alive, f"ranks still running 30 s after the launcher died: {alive}"
    finally:
        for proc in ranks:
            try:
                proc.kill()
            except psutil.Error:
                pass
    stderr = launcher.stderr.read()
    assert "error: the launcher died" in stderr, stderr[-3000:]
    assert _lock_is_free(model_dir)
