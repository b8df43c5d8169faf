"""Kill or stop training at drawn steps, resume, and check nothing is lost.

The reference is an uninterrupted run with the same seed. A resumed run must
end at the same step with the same eval metrics (tolerance 1e-5 on AUC) and,
where a test says so, the same final checkpoint bytes: the checkpoint restores
weights, optimizer state, RNG and the data position exactly.

Stop steps are drawn from ``TZREC_RESUME_SEED`` (default: a fresh seed each
run), printed, and named in every assertion message, so a failure reproduces
with ``TZREC_RESUME_SEED=<seed>``.
"""

import json
import os
import random
import signal

import pytest

from tests.cli import run_cli, run_in_process, run_torchrun, train_args

pytestmark = pytest.mark.slow

SEED = int(
    os.environ.get("TZREC_RESUME_SEED") or random.SystemRandom().randrange(10**6)
)
print(f"[test_resume] TZREC_RESUME_SEED={SEED}")

# Three workers, shuffling, checkpoints every 7 steps: a stop or a checkpoint
# at a step that is not a multiple of 3 leaves the workers out of step, and
# the shuffled order must be recomputed exactly on resume.
EDITS = {
    "train_config.num_steps": 30,
    "train_config.save_checkpoints_steps": 7,
    "data_config.num_workers": 3,
    "data_config.shuffle": True,
    "data_config.shuffle_buffer_size": 3,
}


def _draw(steps, what):
    """A seeded random choice among ``steps``."""
    return random.Random(f"{SEED}:{what}").choice(sorted(steps))


def _eval_log(model_dir):
    path = model_dir / "train_eval_result.jsonl"
    lines = path.read_text().splitlines() if path.exists() else []
    return [json.loads(line) for line in lines if line.strip()]


def _check_invariants(model_dir, after_resume=False):
    steps = [r["global_step"] for r in _eval_log(model_dir)]
    assert steps == sorted(set(steps)), (
        f"eval log steps not strictly increasing: {steps}"
    )
    for ckpt in model_dir.glob("model.ckpt-*"):
        assert (ckpt / "DONE").is_file(), f"incomplete checkpoint visible: {ckpt}"
    if after_resume:  # a kill may leave a temporary sibling; the resume removes it
        assert not list(model_dir.glob(".tmp*")), "temporary checkpoint left behind"
    return steps


def _same_checkpoint(ckpt, ref_ckpt):
    """Which tensor and RNG files of two checkpoints differ ([] if none).

    Tensor data (``*.distcp``) and RNG states are compared byte for byte;
    DCP's ``.metadata`` and the DONE marker hold run-specific fields (times,
    paths), and the train state holds the resumed run's extra evaluation.
    """
    files = sorted(
        p.relative_to(ref_ckpt)
        for pattern in ("*.distcp", "rng/*.pt")
        for p in ref_ckpt.rglob(pattern)
    )
    assert files, f"no tensor files in {ref_ckpt}"
    return [
        str(f) for f in files if (ckpt / f).read_bytes() != (ref_ckpt / f).read_bytes()
    ]


def _run_and_resume(cli, args, model_dir, failpoint):
    """Runs with ``failpoint``, then resumes to the end; returns the stop's rc."""
    stopped = cli(*args, env={"TZREC_FAILPOINT": failpoint})
    _check_invariants(model_dir)
    resumed = cli(*args, "--continue_train")
    assert resumed.returncode == 0, (failpoint, SEED, resumed.stderr[-3000:])
    _check_invariants(model_dir, after_resume=True)
    return stopped


def _train_cli(*args, env=None):
    return run_cli("tzrec.train_eval", *args, env=env)


@pytest.fixture(scope="module")
def reference(tiny_data, tmp_path_factory):
    model_dir = tmp_path_factory.mktemp("ref") / "md"
    proc = _train_cli(*train_args(tiny_data, model_dir, **EDITS))
    assert proc.returncode == 0, proc.stderr[-3000:]
    return model_dir


def _check_final(model_dir, reference, where):
    final, ref = _eval_log(model_dir)[-1], _eval_log(reference)[-1]
    assert final["global_step"] == ref["global_step"] == 30, where
    assert final["auc"] == pytest.approx(ref["auc"], abs=1e-5), where
    assert final["loss_binary_cross_entropy"] == pytest.approx(
        ref["loss_binary_cross_entropy"], abs=1e-5
    ), where


@pytest.mark.parametrize("failpoint", ["mid_eval:2", "checkpoint_before_rename:14"])
def test_kill_and_resume_matches_uninterrupted(
    failpoint, reference, tiny_data, tmp_path
):
    model_dir = tmp_path / "md"
    args = train_args(tiny_data, model_dir, **EDITS)
    stopped = _run_and_resume(_train_cli, args, model_dir, failpoint)
    assert stopped.returncode == -signal.SIGKILL, stopped.stderr[-2000:]
    ref_steps = [r["global_step"] for r in _eval_log(reference)]
    assert ref_steps == [7, 14, 21, 28, 30]
    assert [r["global_step"] for r in _eval_log(model_dir)] == ref_steps
    _check_final(model_dir, reference, failpoint)
    # Both resume from step 7: the 3 workers' round-robin restarts mid-round.
    ckpt, ref_ckpt = model_dir / "model.ckpt-30", reference / "model.ckpt-30"
    assert _same_checkpoint(ckpt, ref_ckpt) == [], failpoint


def test_stop_and_kill_at_drawn_steps_resume_bit_exact(reference, tiny_data, tmp_path):
    # SIGTERM at an odd step (saved there), then SIGKILL at a later step
    # (resumed from the last multiple of 7): both out of the 3 workers' rhythm.
    stop = _draw([s for s in range(1, 20, 2) if s % 3], "stop")
    resume = min(c for c in (7, 14, 28) if c > stop)
    kill = _draw(range(resume + 1, min(resume + 7, 30)), "kill")
    where = f"SIGTERM at {stop}, SIGKILL at {kill}, TZREC_RESUME_SEED={SEED}"
    print(f"[test_resume] {where}")
    model_dir = tmp_path / "md"
    args = train_args(tiny_data, model_dir, **EDITS)
    stopped = _train_cli(*args, env={"TZREC_FAILPOINT": f"after_step:{stop}:term"})
    assert stopped.returncode == 0, (where, stopped.stderr[-3000:])
    assert (model_dir / f"model.ckpt-{stop}" / "DONE").is_file(), where
    killed = _run_and_resume(
        lambda *a, env=None: _train_cli(*a, "--continue_train", env=env),
        args,
        model_dir,
        f"after_step:{kill}",
    )
    assert killed.returncode == -signal.SIGKILL, (where, killed.stderr[-3000:])
    # The graceful stop's step is evaluated on resume; the rest as the reference.
    ref_steps = {r["global_step"] for r in _eval_log(reference)}
    steps = [r["global_step"] for r in _eval_log(model_dir)]
    assert steps == sorted(ref_steps | {stop}), where
    _check_final(model_dir, reference, where)
    ckpt, ref_ckpt = model_dir / "model.ckpt-30", reference / "model.ckpt-30"
    assert _same_checkpoint(ckpt, ref_ckpt) == [], where


def test_shuffle_changes_the_result(reference, tiny_data, tmp_path):
    plain = tmp_path / "plain"
    edits = {**EDITS, "data_config.shuffle": False}
    proc = run_in_process("tzrec.train_eval", *train_args(tiny_data, plain, **edits))
    assert proc.returncode == 0, proc.stderr[-3000:]
    shuffled, ordered = _eval_log(reference)[-1], _eval_log(plain)[-1]
    assert shuffled["global_step"] == ordered["global_step"] == 30
    assert shuffled["auc"] != ordered["auc"]


def _torchrun_cli(*args, env=None):
    return run_torchrun(2, "-m", "tzrec.train_eval", *args, env=env)


def test_two_ranks_stopped_at_an_odd_step_resume_bit_exact(tiny_data, tmp_path):
    edits = {
        **EDITS,
        "data_config.num_workers": 2,
        "train_config.num_steps": 16,
        "train_config.save_checkpoints_steps": 8,
        "data_config.batch_size": 128,
        "eval_config.num_steps": 2,
    }
    ref = tmp_path / "ref"
    proc = _torchrun_cli(*train_args(tiny_data, ref, **edits))
    assert proc.returncode == 0, (proc.stdout + proc.stderr)[-4000:]
    stop = _draw(range(1, 16, 2), "torchrun stop")
    model_dir = tmp_path / "md"
    args = train_args(tiny_data, model_dir, **edits)
    stopped = _run_and_resume(_torchrun_cli, args, model_dir, f"after_step:{stop}:term")
    where = f"SIGTERM after step {stop} on both ranks, TZREC_RESUME_SEED={SEED}"
    print(f"[test_resume] {where}")
    assert stopped.returncode == 0, (where, stopped.stderr[-3000:])
    assert (model_dir / f"model.ckpt-{stop}").is_dir(), where
    ckpt, ref_ckpt = model_dir / "model.ckpt-16", ref / "model.ckpt-16"
    assert _same_checkpoint(ckpt, ref_ckpt) == [], where
