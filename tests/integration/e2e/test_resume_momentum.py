"""Resuming a run trained without dense momentum under a config that has it.

Dense SGD's ``momentum`` default became TorchEasyRec's 0.9 (it was 0.0), and
on resume the optimizer's hyperparameters come from the config: a run from
before the change, resumed with momentum unset, gains momentum mid-run. The
resume says so, once, and names the fix.
"""

import pytest

from tests.cli import QUICKSTART_CONFIG, run_in_process, train_args

pytestmark = pytest.mark.slow

WARNING = "momentum is on, but"


def _train(data, model_dir, steps, momentum, *extra):
    """Trains the quickstart model with dense SGD (momentum None: unset)."""
    sgd = "lr: 0.01" + ("" if momentum is None else f" momentum: {momentum}")
    text = QUICKSTART_CONFIG.read_text()
    assert "adam_optimizer { lr: 0.002 }" in text
    config = model_dir.parent / f"{model_dir.name}-{steps}.config"
    config.write_text(
        text.replace("adam_optimizer { lr: 0.002 }", f"sgd_optimizer {{ {sgd} }}")
    )
    args = train_args(
        data, model_dir, *extra, config=config, **{"train_config.num_steps": steps}
    )
    proc = run_in_process("tzrec.train_eval", *args)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return proc.stdout + proc.stderr


def test_resume_without_momentum_under_the_new_default_says_so(tiny_data, tmp_path):
    model_dir = tmp_path / "md"
    first = _train(tiny_data, model_dir, 20, 0.0)
    assert WARNING not in first
    resumed = _train(tiny_data, model_dir, 30, None, "--continue_train")
    lines = [x for x in resumed.splitlines() if WARNING in x]
    assert len(lines) == 1, resumed[-3000:]
    assert "the dense optimizer's momentum is on" in lines[0]
    assert "after 20 updates" in lines[0] and "set momentum: 0" in lines[0]


def test_resume_with_the_same_momentum_is_quiet(tiny_data, tmp_path):
    for momentum in (0.0, 0.9):
        model_dir = tmp_path / f"md{momentum}"
        _train(tiny_data, model_dir, 20, momentum)
        resumed = _train(tiny_data, model_dir, 30, momentum, "--continue_train")
        assert WARNING not in resumed, resumed[-3000:]
