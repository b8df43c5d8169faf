"""SIGTERM saves a checkpoint at the current step and exits cleanly; resume finishes."""

import json
import signal
import subprocess
import time

import pytest

from tests.cli import run_in_process, start_cli, train_args

pytestmark = pytest.mark.slow


def test_sigterm_saves_and_resumes(tiny_data, tmp_path):
    model_dir = tmp_path / "md"
    # Many steps so the signal lands mid-training; checkpoints only at the end.
    args = train_args(
        tiny_data,
        model_dir,
        **{
            "train_config.num_steps": 100000,
            "train_config.save_checkpoints_steps": 100000,
        },
    )
    proc = start_cli(
        "tzrec.train_eval",
        *args,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        deadline = time.time() + 120
        events = model_dir / "events.jsonl"
        while time.time() < deadline:
            if events.exists() and "run_started" in events.read_text():
                break
            time.sleep(0.2)
        time.sleep(2.0)  # let it take some steps
        # A second run on the same model_dir is refused while the first runs.
        second = run_in_process("tzrec.train_eval", *args, "--continue_train")
        assert second.returncode == 2
        assert "another run is writing this model_dir" in second.stderr
        proc.send_signal(signal.SIGTERM)
        out, _ = proc.communicate(timeout=120)
    finally:
        proc.kill()
    assert proc.returncode == 0, out[-3000:]
    ckpts = sorted(model_dir.glob("model.ckpt-*"))
    assert len(ckpts) == 1 and (ckpts[0] / "DONE").is_file()
    step = int(ckpts[0].name.split("-")[1])
    assert 0 < step < 100000
    finished = [json.loads(x) for x in events.read_text().splitlines()][-1]
    assert finished["event"] == "run_finished" and finished["status"] == "stopped"
    assert "SIGTERM" in finished["reason"]
    # Resume to a nearby end: the pending evaluation at `step` runs first.
    edits = {
        "train_config.num_steps": step + 5,
        "train_config.save_checkpoints_steps": 100000,
    }
    resumed = run_in_process(
        "tzrec.train_eval",
        *train_args(tiny_data, model_dir, **edits),
        "--continue_train",
    )
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    steps = [
        json.loads(x)["global_step"]
        for x in (model_dir / "train_eval_result.jsonl").read_text().splitlines()
    ]
    assert steps == [step, step + 5]
