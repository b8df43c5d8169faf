"""A signal that reaches one rank alone stops every rank at the same step.

A scheduler or a user may signal one rank's process only. That rank saves a
checkpoint; unless the others stop at the same step they wait in a collective
until a timeout. The stop is agreed across ranks after every step.
"""

from __future__ import annotations

import json
import signal

import pytest

from tests.hardening.test_rank_supervision import (
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
