"""The Trainer's parts: early stopping, save cadence, checkpointed state, guards."""

from __future__ import annotations

import math

import pytest
import torch

from tzrec.train.checkpointer import SaveCadence
from tzrec.train.early_stop import EarlyStopper
from tzrec.train.guards import NonFiniteLoss
from tzrec.train.state import CheckpointedState, MetricSetState, TrainState


def test_early_stop_after_patience_evaluations_without_improvement():
    stopper = EarlyStopper("auc", True, patience=2, min_delta=0.0)
    assert stopper.update(10, {"auc": 0.70}) is None
    assert stopper.update(20, {"auc": 0.72}) is None  # improved: patience resets
    assert stopper.update(30, {"auc": 0.72}) is None  # a tie is no improvement
    reason = stopper.update(40, {"auc": 0.71})
    assert reason is not None and "did not improve" in reason
    assert "best 0.72 at step 20" in reason and stopper.reason == reason


def test_early_stop_min_delta_and_direction():
    stopper = EarlyStopper("loss", False, patience=1, min_delta=0.1)
    assert stopper.update(1, {"loss": 1.0}) is None
    assert stopper.update(2, {"loss": 0.85}) is None  # better by 0.15 > 0.1
    assert stopper.update(3, {"loss": 0.80}) is not None  # better by only 0.05
    assert stopper.best.step == 2


@pytest.mark.parametrize("bad", [math.nan, math.inf, None])
def test_a_diverged_or_missing_metric_never_improves(bad):
    stopper = EarlyStopper("auc", True, patience=2, min_delta=0.0)
    stopper.update(1, {"auc": bad})
    assert stopper.best.step is None and stopper.bad_evals == 1
    assert stopper.update(2, {"other": 1.0}) is not None
    assert "best none" in (stopper.reason or "")


def test_replay_rebuilds_the_stopper_from_eval_log_records():
    records = [{"global_step": s, "auc": v} for s, v in [(5, 0.6), (10, 0.65)]]
    fresh = EarlyStopper("auc", True, patience=2, min_delta=0.0)
    fresh.replay(records + [{"global_step": 15, "auc": 0.64}])
    assert (fresh.best.step, fresh.bad_evals, fresh.reason) == (10, 1, None)
    assert fresh.update(20, {"auc": 0.6}) is not None


def test_save_cadence_by_steps_or_by_epochs():
    steps = SaveCadence(every_steps=5)
    assert [s for s in range(1, 16) if steps.due_after_step(s)] == [5, 10, 15]
    assert not steps.due_after_epoch(1)
    # An epoch cadence replaces the step one, as in TorchEasyRec.
    epochs = SaveCadence(every_steps=5, every_epochs=2)
    assert not any(epochs.due_after_step(s) for s in range(1, 20))
    assert [e for e in range(1, 7) if epochs.due_after_epoch(e)] == [2, 4, 6]


class _Counter:
    def __init__(self) -> None:
        self.n = torch.tensor(0)

    def state_dict(self) -> dict:
        return {"n": self.n.clone()}

    def load_state_dict(self, state: dict) -> None:
        self.n = state["n"].clone()


def test_checkpointed_state_round_trip_restores_parts_and_rng_in_place():
    from tzrec.checkpoint.state import capture_rng_state

    state = CheckpointedState(TrainState(step=7, epoch=1, batch_in_epoch=2))
    counter = _Counter()
    counter.n += 3
    state.register("counter", counter)
    saved = state.state_dict()
    assert saved["step"] == 7 and saved["counter"]["n"].item() == 3
    saved["rng"] = capture_rng_state()
    expected = torch.rand(3)

    other = CheckpointedState()
    progress = other.progress
    other_counter = _Counter()
    other.register("counter", other_counter)
    other.load_state_dict(saved)
    assert other.progress is progress  # holders of it see the restored values
    assert (progress.step, progress.epoch, progress.batch_in_epoch) == (7, 1, 2)
    assert other_counter.n.item() == 3
    assert torch.equal(torch.rand(3), expected)  # RNG as it was at save


def test_old_checkpoints_keys_are_ignored_and_missing_parts_stay_fresh():
    old = {
        "step": 20,
        "epoch": 0,
        "batch_in_epoch": 20,
        "best_step": 10,
        "best_value": 0.7,
        "early_stop": {"best": 0.7, "best_step": 10, "bad_evals": 1, "reason": ""},
        "last_eval_step": 20,
        "train_metrics": {},
        "data_layout": {},
    }
    state = CheckpointedState()
    counter = _Counter()
    state.register("counter", counter)
    state.load_state_dict(old)
    assert state.progress == TrainState(step=20, batch_in_epoch=20)
    assert counter.n.item() == 0


def test_a_part_cannot_take_a_progress_name():
    state = CheckpointedState()
    with pytest.raises(ValueError, match="step"):
        state.register("step", _Counter())
    state.register("metrics", MetricSetState({}))
    with pytest.raises(ValueError, match="metrics"):
        state.register("metrics", MetricSetState({}))


def test_non_finite_loss_names_the_first_bad_step():
    guard = NonFiniteLoss(start_step=10)
    assert guard.first_bad() is None
    for loss in [1.0, 2.0, math.nan, 3.0, math.inf]:
        guard.track(torch.tensor(loss))
    assert guard.first_bad() == 13  # steps 11, 12 fine; 13 NaN
