"""Exact resume at named steps: stop or kill at step S, resume, compare bytes.

Not part of CI (the suite's tests/e2e/test_resume.py draws one odd step per
run; scripts/soak.py draws many at random). This script checks the cases of
issue 18 by name: the quickstart model (experiments/deepfm_synthetic.config)
on a small slice of generated data, batch 512, a checkpoint every 10 steps,
70 steps, stopped at steps 61, 63 and one seeded random odd step, with 1, 2
and 3 DataLoader workers in one process and with 2 ranks under torchrun.

Each stop is tried two ways: SIGTERM after the step (the run saves there and
exits 0) and SIGKILL after the step (the resume restarts from step 60). After
``--continue_train`` the final checkpoint's model and optimizer tensor files
must be bit-identical (xxh3_64 checksums in DONE) to an uninterrupted run with
the same settings, and the final eval metrics equal.

    .venv/bin/python scripts/check_exact_resume.py [--seed 1] \\
        [--workdir /tmp/tzrec-exact-resume]
"""

from __future__ import annotations

import argparse
import json
import random
import shutil
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "scripts"))

from soak import _env, _final_files, _free_port  # noqa: E402

CONFIG = REPO / "experiments" / "deepfm_synthetic.config"
NUM_STEPS = 70
INTERVAL = 10


def _command(world: int, workers: int, data: Path, model_dir: Path, resume: bool):
    edit = {
        "train_config.num_epochs": None,
        "train_config.num_steps": NUM_STEPS,
        "train_config.save_checkpoints_steps": INTERVAL,
        "train_config.keep_checkpoint_max": 3,
        "data_config.batch_size": 512,
        "data_config.num_workers": workers,
        "eval_config.num_steps": 4,
    }
    flags = [
        "--pipeline_config_path", str(CONFIG), "--model_dir", str(model_dir),
        "--train_input_path", str(data / "train"),
        "--eval_input_path", str(data / "eval"),
        "--edit_config_json", json.dumps(edit),
    ]  # fmt: skip
    if resume:
        flags.append("--continue_train")
    if world == 1:
        return [sys.executable, "-m", "tzrec.train_eval", *flags]
    return [
        sys.executable, "-m", "torch.distributed.run", f"--nproc_per_node={world}",
        "--master_addr=127.0.0.1", f"--master_port={_free_port()}",
        "-m", "tzrec.train_eval", *flags,
    ]  # fmt: skip


def _run(cmd: list[str], failpoint: str | None = None) -> tuple[int, str]:
    import subprocess

    env = {**_env(), **({"TZREC_FAILPOINT": failpoint} if failpoint else {})}
    proc = subprocess.run(
        cmd, cwd=REPO, env=env, capture_output=True, text=True, timeout=900
    )
    return proc.returncode, proc.stderr


def _final(model_dir: Path) -> tuple[dict, dict]:
    files = _final_files(model_dir, NUM_STEPS)
    lines = (model_dir / "train_eval_result.jsonl").read_text().splitlines()
    return files, json.loads(lines[-1])


def main() -> None:
    """Runs every case and prints one line each plus a summary."""
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--workdir", default="/tmp/tzrec-exact-resume")
    args = p.parse_args()
    workdir = Path(args.workdir)
    shutil.rmtree(workdir, ignore_errors=True)
    workdir.mkdir(parents=True)
    from tzrec.datasets.synthetic import generate

    data = workdir / "data"
    generate(str(data), num_rows=40_000, num_eval_rows=4_000, seed=11, num_files=3)
    odd = random.Random(args.seed).choice(range(41, NUM_STEPS, 2))
    print(f"[exact-resume] seed {args.seed}: random odd step {odd}", flush=True)
    setups = [(1, 1), (1, 2), (1, 3), (2, 1)]
    counts = {"cases": 0, "exact": 0}
    start = time.monotonic()
    for world, workers in setups:
        ref_dir = workdir / f"ref_w{world}_k{workers}"
        code, err = _run(_command(world, workers, data, ref_dir, False))
        assert code == 0, f"reference run failed: {err[-2000:]}"
        ref_files, ref_eval = _final(ref_dir)
        for step in (61, 63, odd):
            for action in ("term", "kill"):
                model_dir = workdir / f"w{world}_k{workers}_s{step}_{action}"
                spec = f"after_step:{step}:{action}"
                code, err = _run(_command(world, workers, data, model_dir, False), spec)
                stopped = code
                code, err = _run(_command(world, workers, data, model_dir, True))
                if code != 0:
                    outcome = f"resume failed ({code}): {err.strip()[-300:]}"
                else:
                    files, final = _final(model_dir)
                    same_metrics = all(
                        final[k] == ref_eval[k]
                        for k in ("global_step", "auc", "loss_binary_cross_entropy")
                    )
                    diff = sorted(k for k in ref_files if files.get(k) != ref_files[k])
                    exact = not diff and same_metrics
                    counts["exact"] += exact
                    outcome = (
                        "bit-exact" if exact else f"differs: {diff} {same_metrics=}"
                    )
                    if exact:
                        shutil.rmtree(model_dir, ignore_errors=True)
                counts["cases"] += 1
                print(
                    f"[exact-resume] ranks {world} workers {workers} {spec} "
                    f"(rc {stopped}) -> {outcome}",
                    flush=True,
                )
    minutes = (time.monotonic() - start) / 60
    print(
        f"[exact-resume] done: {counts['exact']}/{counts['cases']} bit-exact "
        f"in {minutes:.1f} min",
        flush=True,
    )
    sys.exit(0 if counts["exact"] == counts["cases"] else 1)


if __name__ == "__main__":
    main()
