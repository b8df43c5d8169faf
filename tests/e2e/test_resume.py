"""Kill training at chosen points with SIGKILL, resume, and check nothing is lost.

The reference is an uninterrupted run with the same seed. Resumed runs must end
at the same step with the same eval metrics: the checkpoint restores weights,
optimizer state, RNG and the data position, so the tolerance is 1e-5 on AUC.
"""

import json
import signal

import pytest

from tests.conftest import run_cli, train_args

pytestmark = pytest.mark.slow

EDITS = {"train_config.num_steps": 30, "train_config.save_checkpoints_steps": 10}


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


@pytest.fixture(scope="module")
def reference(tiny_data, tmp_path_factory):
    model_dir = tmp_path_factory.mktemp("ref") / "md"
    proc = run_cli("tzrec.train_eval", *train_args(tiny_data, model_dir, **EDITS))
    assert proc.returncode == 0, proc.stderr[-3000:]
    return _eval_log(model_dir)


@pytest.mark.parametrize(
    "failpoint",
    ["after_step:15", "after_step:20", "mid_eval:2", "checkpoint_before_rename:20"],
)
def test_kill_and_resume_matches_uninterrupted(
    failpoint, reference, tiny_data, tmp_path
):
    model_dir = tmp_path / "md"
    args = train_args(tiny_data, model_dir, **EDITS)
    killed = run_cli("tzrec.train_eval", *args, env={"TZREC_FAILPOINT": failpoint})
    assert killed.returncode == -signal.SIGKILL, killed.stderr[-2000:]
    _check_invariants(model_dir)
    resumed = run_cli("tzrec.train_eval", *args, "--continue_train")
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    steps = _check_invariants(model_dir, after_resume=True)
    assert steps == [r["global_step"] for r in reference] == [10, 20, 30]
    final, ref = _eval_log(model_dir)[-1], reference[-1]
    assert final["auc"] == pytest.approx(ref["auc"], abs=1e-5)
    assert final["loss_binary_cross_entropy"] == pytest.approx(
        ref["loss_binary_cross_entropy"], abs=1e-5
    )
