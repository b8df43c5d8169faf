"""The Trainer in-process: steps, saves at its cadence, evaluates, stops, resumes.

A tiny DeepFM (tests/configs/tiny.config) on 4,000 rows; every run builds
a real sharded model and writes real checkpoints and eval logs.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import torch

from tests.conftest import REPO

pytestmark = pytest.mark.filterwarnings("ignore::FutureWarning")


@pytest.fixture(scope="module")
def dist_info():
    from tzrec.utils.dist import init_distributed

    return init_distributed()


@pytest.fixture(autouse=True)
def one_thread():
    """fbgemm's CPU backward spins on a busy two-core machine with two threads."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def _config(data: Path, model_dir: Path, **edits: Any):
    from tzrec import config as config_lib

    base = {
        "train_config.num_steps": 12,
        "train_config.save_checkpoints_steps": 5,
        "train_config.log_step_count_steps": 5,
        "train_config.keep_checkpoint_max": 0,
        "eval_config.num_steps": 2,
    }
    config = config_lib.load_pipeline_config(
        str(REPO / "tests" / "configs" / "tiny.config"),
        json.dumps({**base, **edits}),
    )
    config.train_input_path = str(data / "train")
    config.eval_input_path = str(data / "eval")
    config.model_dir = str(model_dir)
    config_lib.validate(config)
    return config


def _trainer(config, dist_info, continue_train: bool = False):
    from tzrec.train.trainer import Trainer

    return Trainer(config, dist_info, continue_train)


def _checkpoints(model_dir: Path) -> list[int]:
    return sorted(int(p.name.split("-")[1]) for p in model_dir.glob("model.ckpt-*"))


def _eval_steps(model_dir: Path) -> list[int]:
    log = model_dir / "train_eval_result.jsonl"
    if not log.exists():
        return []
    return [json.loads(line)["global_step"] for line in log.read_text().splitlines()]


def _weights(trainer) -> dict[str, torch.Tensor]:
    out = {}
    for key, t in trainer.model.state_dict().items():
        local = t.local_shards()[0].tensor if hasattr(t, "local_shards") else t
        out[key] = local.detach().clone()
    return out


def test_steps_saves_at_the_cadence_and_evaluates_each_save(
    tiny_data, tmp_path, dist_info
):
    trainer = _trainer(_config(tiny_data, tmp_path / "md"), dist_info)
    assert trainer.train() == "finished"
    assert trainer.state.step == 12
    # Every 5 steps, and the last step.
    assert _checkpoints(tmp_path / "md") == [5, 10, 12]
    assert _eval_steps(tmp_path / "md") == [5, 10, 12]
    saved = torch.load(
        tmp_path / "md" / "model.ckpt-12" / "train_state.pt", weights_only=True
    )
    assert saved["step"] == 12 and saved["batch_in_epoch"] == 12
    assert set(saved["train_metrics"]) == set(trainer.train_metrics)
    # Written but never read before: no longer saved.
    assert not {"best_step", "best_value", "early_stop", "last_eval_step"} & set(saved)


def test_epoch_cadence_saves_at_each_epoch_end(tiny_data, tmp_path, dist_info):
    edits = {
        "train_config.num_steps": 0,
        "train_config.num_epochs": 2,
        "train_config.save_checkpoints_epochs": 1,
        "data_config.batch_size": 1000,  # 4,000 rows: 4 steps an epoch
    }
    trainer = _trainer(_config(tiny_data, tmp_path / "md", **edits), dist_info)
    assert trainer.train() == "finished"
    assert (trainer.state.step, trainer.state.epoch) == (8, 2)
    assert _checkpoints(tmp_path / "md") == [4, 8]
    assert _eval_steps(tmp_path / "md") == [4, 8]


def test_early_stopping_ends_the_run(tiny_data, tmp_path, dist_info):
    edits = {
        "train_config.num_steps": 40,
        "train_config.save_checkpoints_steps": 3,
        # No later evaluation can beat the first by 10 AUC: stop at the second.
        "train_config.early_stopping": {"patience": 1, "min_delta": 10.0},
    }
    trainer = _trainer(_config(tiny_data, tmp_path / "md", **edits), dist_info)
    reason = trainer.train()
    assert reason.startswith("early stop: auc did not improve")
    assert trainer.state.step == 6
    assert _eval_steps(tmp_path / "md") == [3, 6]
    events = [
        json.loads(line)
        for line in (tmp_path / "md" / "events.jsonl").read_text().splitlines()
    ]
    assert [e["step"] for e in events if e["event"] == "early_stop"] == [6]
    assert [e["step"] for e in events if e["event"] == "best_changed"] == [3]
    # one ranking: pruning's best and TensorBoard's are the same object
    assert trainer.monitor.best is trainer.best and trainer.best.step == 3


def test_a_stop_signal_saves_without_evaluating(tiny_data, tmp_path, dist_info):
    trainer = _trainer(_config(tiny_data, tmp_path / "md"), dist_info)
    trainer.stop.reason = "signal SIGTERM"  # as the handler sets it
    assert trainer.train() == "signal SIGTERM"
    assert trainer.state.step == 1
    assert _checkpoints(tmp_path / "md") == [1]
    assert _eval_steps(tmp_path / "md") == []  # the resumed run evaluates it


def test_resume_reaches_the_same_state_as_one_run(tiny_data, tmp_path, dist_info):
    straight = _trainer(_config(tiny_data, tmp_path / "a"), dist_info)
    straight.train()

    first = _trainer(
        _config(tiny_data, tmp_path / "b", **{"train_config.num_steps": 5}), dist_info
    )
    first.train()
    resumed = _trainer(_config(tiny_data, tmp_path / "b"), dist_info, True)
    assert (resumed.state.step, resumed.state.batch_in_epoch) == (5, 5)
    assert resumed.optimizer.global_step == 5
    assert resumed.best.step == 5  # rebuilt from the eval log
    resumed.train()

    assert resumed.state == straight.state
    a, b = _weights(straight), _weights(resumed)
    assert a.keys() == b.keys()
    assert all(torch.equal(a[k], b[k]) for k in a)
    for name, metric in straight.train_metrics.items():
        sa, sb = metric.state_dict(), resumed.train_metrics[name].state_dict()
        assert sa.keys() == sb.keys()
        assert all(
            torch.equal(torch.as_tensor(sa[k]), torch.as_tensor(sb[k])) for k in sa
        )
    assert _eval_steps(tmp_path / "b") == _eval_steps(tmp_path / "a")


def test_train_step_takes_a_batch_iterator(tiny_data, tmp_path, dist_info):
    trainer = _trainer(_config(tiny_data, tmp_path / "md"), dist_info)
    assert trainer.train_step(iter([])) is None
    assert trainer.state.step == 0
    batches = trainer._epoch_batches()
    out = trainer.train_step(batches)
    assert out is not None and trainer.state.step == 1
    assert set(out.losses) == set(trainer.parts.model.loss_names)
    assert out.total_loss.requires_grad is False
    assert trainer.optimizer.global_step == 1
    trainer.monitor.close()
