"""Soak: many random kill/resume trials, each checked against an uninterrupted run.

Not part of CI (tests/integration/hardening/test_soak.py is the bounded version). Each
trial draws, from a seed it prints:

* the job: one process, or 2 ranks under a real torchrun (``--torchrun-share``);
* the run: ``save_checkpoints_steps`` odd or even (3, 4, 5 or 7), shuffle on
  or off (when the config accepts it), 0 or 2 DataLoader workers (0 or 1 per
  rank under torchrun);
* one or two interruptions, each either a failpoint whose action is SIGKILL,
  SIGTERM or SIGINT at a random step, a random evaluation batch, the middle of
  a checkpoint write or just before its rename; or a signal (SIGKILL, SIGTERM,
  SIGINT) sent after a random delay, under torchrun to the launcher or to one
  rank;

then resumes with ``--continue_train`` to the end. After every attempt the
model_dir invariants of the soak test hold (only complete, checksum-verified
checkpoints; a valid, strictly increasing eval log; best step = argmax and
never pruned) and no rank outlives its launcher by more than 30 s. At the end
the final checkpoint's model and optimizer tensor files must be bit-identical to
those of an uninterrupted run with the same settings (checksums in DONE), and
the final metrics equal.

A trial is *lost* when the resume fails or an invariant breaks, *inexact*
when it finishes but differs from the uninterrupted run. One JSON line per
trial goes to ``WORKDIR/soak.jsonl``; the summary is printed at the end.

    .venv/bin/python scripts/soak.py --trials 100 --torchrun-share 0.2 \\
        [--seed 1] [--workdir /tmp/tzrec-soak]
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import signal
import socket
import subprocess
import sys
import time
import traceback
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from tests.integration.hardening.soak_checks import check_invariants  # noqa: E402

CONFIG = REPO / "tests" / "configs" / "tiny.config"
NUM_STEPS = 24
FAILPOINTS = (
    "after_step",
    "mid_eval",
    "checkpoint_mid_write",
    "checkpoint_before_rename",
)
ACTIONS = ("kill", "term", "int")
SIGNALS = (signal.SIGKILL, signal.SIGTERM, signal.SIGINT)
RUN_TIMEOUT_S = 300


def _env() -> dict[str, str]:
    drop = ("TZREC_", "MASTER_", "RANK", "WORLD_SIZE", "LOCAL_RANK")
    env = {k: v for k, v in os.environ.items() if not k.startswith(drop)}
    return {**env, "PYTHONUNBUFFERED": "1"}


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _command(params: dict, data: Path, model_dir: Path, resume: bool) -> list[str]:
    edit = {
        "train_config.num_steps": NUM_STEPS,
        "train_config.save_checkpoints_steps": params["interval"],
        "train_config.keep_checkpoint_max": 2,
        "data_config.num_workers": params["workers"],
    }
    if params["shuffle"]:
        edit["data_config.shuffle"] = True
    flags = [
        "--pipeline_config_path", str(CONFIG),
        "--model_dir", str(model_dir),
        "--train_input_path", str(data / "train"),
        "--eval_input_path", str(data / "eval"),
        "--edit_config_json", json.dumps(edit),
    ]  # fmt: skip
    if resume:
        flags.append("--continue_train")
    if params["world"] == 1:
        return [sys.executable, "-m", "tzrec.train_eval", *flags]
    return [
        sys.executable, "-m", "torch.distributed.run",
        f"--nproc_per_node={params['world']}", "--master_addr=127.0.0.1",
        f"--master_port={_free_port()}", "-m", "tzrec.train_eval", *flags,
    ]  # fmt: skip


def _run(cmd: list[str], env: dict | None = None) -> tuple[int, str]:
    proc = subprocess.run(
        cmd,
        cwd=REPO,
        env={**_env(), **(env or {})},
        capture_output=True,
        text=True,
        timeout=RUN_TIMEOUT_S,
    )
    return proc.returncode, proc.stderr


def _final_files(model_dir: Path, num_steps: int = NUM_STEPS) -> dict[str, str]:
    """Checksums of the final checkpoint's model and optimizer tensor data.

    DCP's ``.metadata`` differs between any two saves (it records a random
    save id), so the tensor files (``*.distcp``) are what must be identical.
    """
    marker = json.loads((model_dir / f"model.ckpt-{num_steps}" / "DONE").read_text())
    return {
        rel: digest
        for rel, digest in marker["checksums"].items()
        if rel.startswith(("model/", "optimizer/")) and rel.endswith(".distcp")
    }


def _wait_for_orphans(pids: list[int], timeout_s: float = 30.0) -> list[int]:
    """Pids still alive (not zombies) after ``timeout_s``; they are then killed."""
    import psutil

    procs = []
    for pid in pids:
        try:
            procs.append(psutil.Process(pid))
        except psutil.Error:
            pass
    _, alive = psutil.wait_procs(procs, timeout=timeout_s)
    alive = [p for p in alive if p.status() != psutil.STATUS_ZOMBIE]
    for p in alive:
        p.kill()
    return [p.pid for p in alive]


def _timed_signal(rng: random.Random, params: dict, cmd: list[str]) -> str:
    """Starts the job and signals it (or, under torchrun, one rank) later."""
    import psutil

    sig = rng.choice(SIGNALS)
    delay = rng.uniform(2.0, 14.0)
    target = (
        "launcher"
        if params["world"] == 1
        else rng.choice(["launcher", "rank 0", "rank 1"])
    )
    proc = subprocess.Popen(
        cmd,
        cwd=REPO,
        env=_env(),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    ranks: list[int] = []
    deadline = time.monotonic() + delay
    while proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.05)
        if params["world"] > 1:
            ranks = [c.pid for c in psutil.Process(proc.pid).children()] or ranks
    note = f"{sig.name} to {target} after {delay:.1f}s"
    if proc.poll() is not None:
        return note + " (already finished)"
    pid = proc.pid
    if target != "launcher":
        children = {
            int(c.environ().get("RANK", -1)): c.pid
            for c in psutil.Process(proc.pid).children()
        }
        if int(target[-1]) not in children:
            note += " (ranks not started yet: to the launcher)"
        pid = children.get(int(target[-1]), proc.pid)
    os.kill(pid, sig)
    try:
        proc.communicate(timeout=RUN_TIMEOUT_S)
    except subprocess.TimeoutExpired:
        proc.kill()
        raise AssertionError(f"{note}: no stop within {RUN_TIMEOUT_S}s") from None
    orphans = _wait_for_orphans(ranks)
    if orphans:
        raise AssertionError(f"{note}: ranks {orphans} outlived the launcher by 30 s")
    return f"{note} -> {proc.returncode}"


def _attempt(
    rng: random.Random, params: dict, data: Path, model_dir: Path, resume: bool
) -> str:
    cmd = _command(params, data, model_dir, resume)
    if rng.random() < 0.6:
        name, action = rng.choice(FAILPOINTS), rng.choice(ACTIONS)
        interval = params["interval"]
        saves = list(range(interval, NUM_STEPS + 1, interval)) + [NUM_STEPS]
        where = {
            "after_step": lambda: rng.randint(1, NUM_STEPS - 1),
            "mid_eval": lambda: rng.randint(1, 4),
        }.get(name, lambda: rng.choice(saves))()
        spec = f"{name}:{where}:{action}"
        try:
            code, _ = _run(cmd, {"TZREC_FAILPOINT": spec})
        except subprocess.TimeoutExpired:
            raise AssertionError(
                f"failpoint {spec}: no exit in {RUN_TIMEOUT_S}s"
            ) from None
        return f"failpoint {spec} -> {code}"
    return _timed_signal(rng, params, cmd)


def _draw(rng: random.Random, torchrun: bool, shuffle_ok: bool) -> dict:
    world = 2 if torchrun else 1
    return {
        "world": world,
        # Few settings, so most trials reuse a cached uninterrupted run.
        "interval": rng.choice([3, 4, 5, 7]),
        "shuffle": shuffle_ok and rng.random() < 0.5,
        "workers": rng.choice([0, 1] if world > 1 else [0, 2]),
    }


def _shuffle_accepted(data: Path, workdir: Path) -> bool:
    """Whether this tzrec takes ``data_config.shuffle`` (a 1-step probe run)."""
    probe = workdir / "probe"
    edit = json.dumps({"data_config.shuffle": True, "train_config.num_steps": 1})
    code, err = _run([
        sys.executable, "-m", "tzrec.train_eval", "--pipeline_config_path", str(CONFIG),
        "--model_dir", str(probe), "--train_input_path", str(data / "train"),
        "--eval_input_path", str(data / "eval"), "--edit_config_json", edit,
    ])  # fmt: skip
    shutil.rmtree(probe, ignore_errors=True)
    if code != 0:
        print(
            "[soak] shuffle not accepted here, trials run without it: "
            + err.strip()[-300:]
        )
    return code == 0


def main() -> None:
    """Runs the trials and prints the summary."""
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--trials", type=int, default=100)
    p.add_argument("--torchrun-share", type=float, default=0.2)
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--workdir", default="/tmp/tzrec-soak")
    args = p.parse_args()
    workdir = Path(args.workdir)
    shutil.rmtree(workdir, ignore_errors=True)
    workdir.mkdir(parents=True)
    from tzrec.datasets.synthetic import generate

    data = workdir / "data"
    generate(str(data), num_rows=4000, num_eval_rows=1000, seed=7, num_files=2)
    shuffle_ok = _shuffle_accepted(data, workdir)
    rng = random.Random(args.seed)
    every = max(1, round(1 / args.torchrun_share)) if args.torchrun_share > 0 else 0
    references: dict[str, tuple[dict, dict]] = {}
    counts = {"trials": 0, "torchrun": 0, "ok": 0, "lost": 0, "inexact": 0}
    start = time.monotonic()
    log = open(workdir / "soak.jsonl", "w")
    print(
        f"[soak] seed {args.seed}, {args.trials} trials, workdir {workdir}", flush=True
    )
    for trial in range(args.trials):
        torchrun = bool(every) and trial % every == every - 1
        params = _draw(rng, torchrun, shuffle_ok)
        key = json.dumps(params, sort_keys=True)
        history: list[str] = []
        outcome = "ok"
        try:
            if key not in references:
                ref_dir = workdir / f"ref{len(references)}"
                code, err = _run(_command(params, data, ref_dir, False))
                assert code == 0, f"reference run failed: {err[-2000:]}"
                final = check_invariants(ref_dir, True, NUM_STEPS)[-1]
                references[key] = (final, _final_files(ref_dir))
            ref_metrics, ref_files = references[key]
            model_dir = workdir / f"trial{trial}"
            for kill in range(rng.choice([1, 2])):
                history.append(_attempt(rng, params, data, model_dir, kill > 0))
                check_invariants(model_dir, False, NUM_STEPS)
            code, err = _run(_command(params, data, model_dir, True))
            assert code == 0, f"resume failed ({code}): {err[-2000:]}"
            final = check_invariants(model_dir, True, NUM_STEPS)[-1]
            files = _final_files(model_dir)
            same = files == ref_files and all(
                final.get(k) == ref_metrics.get(k)
                for k in ("auc", "loss_binary_cross_entropy")
            )
            if not same:
                outcome = "inexact"
                diff = sorted(k for k in ref_files if files.get(k) != ref_files[k])
                history.append(f"differs from the uninterrupted run: {diff}")
            else:
                shutil.rmtree(model_dir, ignore_errors=True)
        except Exception as e:  # a soak reports, then goes on
            outcome = "lost"
            history.append(f"{type(e).__name__}: {str(e)[-1500:]}")
            if not isinstance(e, AssertionError):
                history.append(traceback.format_exc()[-1500:])
        counts["trials"] += 1
        counts["torchrun"] += torchrun
        counts[outcome] += 1
        record = {
            "trial": trial,
            "params": params,
            "outcome": outcome,
            "history": history,
        }
        log.write(json.dumps(record) + "\n")
        log.flush()
        print(
            f"[soak] trial {trial} {outcome} {params} | {'; '.join(history)[:400]}",
            flush=True,
        )
    minutes = (time.monotonic() - start) / 60
    print(
        f"[soak] done: {counts['trials']} trials ({counts['torchrun']} under torchrun) "
        f"in {minutes:.1f} min: {counts['ok']} ok, {counts['lost']} lost or "
        f"inconsistent, {counts['inexact']} not bit-exact vs the uninterrupted run; "
        f"{len(references)} reference runs",
        flush=True,
    )
    sys.exit(0 if counts["ok"] == counts["trials"] else 1)


if __name__ == "__main__":
    main()
