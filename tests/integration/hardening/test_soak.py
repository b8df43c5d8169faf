"""Soak: many short runs killed at random points, resumed, checked after each.

Each trial trains the tiny model for 30 steps (checkpoint and evaluation
every 10, at most 2 checkpoints kept besides the best) in a fresh model_dir,
is killed once or twice at a seeded random point (a SIGKILL failpoint in
training, evaluation or the middle of a checkpoint write, or SIGTERM/SIGKILL
sent as an event appears in events.jsonl), and is then resumed to the end.
After every attempt: only complete checkpoints, a valid and strictly
increasing eval log, the best step (``best_step``) equal to the argmax of the
log among complete checkpoints and never pruned; at the end: step 30 reached
and the same final metrics as an uninterrupted run (nothing lost).

``TZREC_SOAK_TRIALS`` sets the number of trials (default 8).
"""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import time
from pathlib import Path

import pytest

from tests.cli import run_cli, run_in_process, start_cli
from tests.integration.hardening.helpers import train_flags
from tests.integration.hardening.soak_checks import check_invariants

pytestmark = pytest.mark.slow
TRIALS = int(os.environ.get("TZREC_SOAK_TRIALS", "8"))
SEED = 20240609
EDIT = json.dumps(
    {
        "train_config.num_steps": 30,
        "train_config.save_checkpoints_steps": 10,
        "train_config.keep_checkpoint_max": 2,
    }
)
FAILPOINTS = (
    "after_step",
    "mid_eval",
    "checkpoint_mid_write",
    "checkpoint_before_rename",
)
EVENTS = ("run_started", "checkpoint_finished", "eval_started", "eval_finished")


def _flags(tiny_data, model_dir, resume: bool) -> list[str]:
    extra = ["--continue_train"] if resume else []
    return train_flags(tiny_data, model_dir, "--edit_config_json", EDIT, *extra)


def _kill_at_event(args: list[str], sig: int, event: str, step: int | None) -> int:
    """Runs train_eval; sends ``sig`` when ``event`` (at ``step``) is logged."""
    proc = start_cli(
        "tzrec.train_eval",
        *args,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    events = Path(args[args.index("--model_dir") + 1]) / "events.jsonl"
    seen = events.read_text().count("\n") if events.exists() else 0
    deadline = time.monotonic() + 240
    try:
        while proc.poll() is None and time.monotonic() < deadline:
            lines = events.read_text().splitlines()[seen:] if events.exists() else []
            if any(_matches(line, event, step) for line in lines):
                proc.send_signal(sig)
                break
            time.sleep(0.05)
        return proc.wait(timeout=240)
    finally:
        proc.kill()


def _matches(line: str, event: str, step: int | None) -> bool:
    try:
        rec = json.loads(line)
    except json.JSONDecodeError:
        return False
    return rec.get("event") == event and step in (None, rec.get("step"))


def _attempt(rng: random.Random, tiny_data, model_dir: Path, resume: bool) -> str:
    """One run killed at a random point; returns what was done, for messages."""
    args = _flags(tiny_data, model_dir, resume)
    if rng.random() < 0.5:
        name = rng.choice(FAILPOINTS)
        where = rng.randint(1, 29) if name == "after_step" else rng.choice([10, 20, 30])
        if name == "mid_eval":
            where = rng.randint(1, 8)  # an eval batch of the next evaluation
        spec = f"{name}:{where}"
        proc = run_cli("tzrec.train_eval", *args, env={"TZREC_FAILPOINT": spec})
        assert proc.returncode in (0, -signal.SIGKILL), proc.stderr[-3000:]
        return f"failpoint {spec} -> {proc.returncode}"
    sig = rng.choice([signal.SIGTERM, signal.SIGKILL])
    event = rng.choice(EVENTS)
    step = None if event == "run_started" else rng.choice([10, 20])
    code = _kill_at_event(args, sig, event, step)
    assert code in (0, -signal.SIGKILL), f"{sig.name} at {event} exited {code}"
    return f"{sig.name} at {event}:{step} -> {code}"


@pytest.fixture(scope="module")
def reference(tiny_data, tmp_path_factory):
    model_dir = tmp_path_factory.mktemp("soak_ref") / "md"
    proc = run_in_process("tzrec.train_eval", *_flags(tiny_data, model_dir, False))
    assert proc.returncode == 0, proc.stderr[-3000:]
    return check_invariants(model_dir, finished=True)[-1]


def test_soak_kill_and_resume(tiny_data, reference, tmp_path):
    rng = random.Random(SEED)
    history = []
    for trial in range(TRIALS):
        model_dir = tmp_path / f"trial{trial}"
        for kill in range(rng.choice([1, 2])):
            done = _attempt(rng, tiny_data, model_dir, resume=kill > 0)
            history.append(f"trial {trial}: {done}")
            check_invariants(model_dir, finished=False)
        # In-process: the kills above are the subprocesses; this only finishes.
        proc = run_in_process("tzrec.train_eval", *_flags(tiny_data, model_dir, True))
        assert proc.returncode == 0, "\n".join(history) + proc.stderr[-3000:]
        final = check_invariants(model_dir, finished=True)[-1]
        for key in ("auc", "loss_binary_cross_entropy"):
            assert final[key] == pytest.approx(reference[key], abs=1e-5), history
    print("\n".join(history))
