import math

import pytest
import torch

from tzrec.metrics.means import Accuracy, MeanAbsoluteError
from tzrec.metrics.train_metric_wrapper import TrainMetricWrapper


def mae_window(wrapper, error, batches=2):
    """Feeds ``batches`` batches whose mean absolute error is ``error``."""
    for _ in range(batches):
        wrapper.update(
            torch.tensor([0.5, 0.5]), torch.tensor([0.5 + error, 0.5 - error])
        )


def test_value_is_nan_until_first_window_then_decays():
    w = TrainMetricWrapper(MeanAbsoluteError(), decay_rate=0.9, decay_step=2)
    w.update(torch.tensor([0.0]), torch.tensor([1.0]))
    assert math.isnan(w.compute().item()) and not w.initialised
    w.update(torch.tensor([0.0]), torch.tensor([1.0]))
    assert w.compute().item() == pytest.approx(1.0)  # first window taken as is
    mae_window(w, 0.0)
    assert w.compute().item() == pytest.approx(0.9)
    mae_window(w, 0.5)
    assert w.compute().item() == pytest.approx(0.9 * 0.9 + 0.1 * 0.5)


def test_true_zero_is_a_value_not_a_reset():
    w = TrainMetricWrapper(MeanAbsoluteError(), decay_rate=0.9, decay_step=2)
    for _ in range(3):
        mae_window(w, 0.0)
        assert w.initialised
        assert w.compute().item() == 0.0
    mae_window(w, 1.0)
    # TorchEasyRec took value 0 as "not started" and would jump to 1.0
    assert w.compute().item() == pytest.approx(0.1)


def test_undefined_window_leaves_the_value():
    w = TrainMetricWrapper(Accuracy(), decay_rate=0.5, decay_step=1)
    w.update(torch.tensor([0.9]), torch.tensor([1]))
    w.update(torch.tensor([0.9]), torch.tensor([1]), weights=torch.tensor([0.0]))  # 0/0
    assert w.compute().item() == pytest.approx(1.0)
    fresh = TrainMetricWrapper(Accuracy(), decay_rate=0.5, decay_step=1)
    fresh.update(torch.tensor([0.9]), torch.tensor([1]), weights=torch.tensor([0.0]))
    assert not fresh.initialised and math.isnan(fresh.compute().item())


def test_state_dict_resume_matches_uninterrupted():
    def feed(w, steps):
        for s in steps:
            w.update(torch.tensor([0.5]), torch.tensor([0.5 + (s % 3) / 10]))

    full = TrainMetricWrapper(MeanAbsoluteError(), decay_rate=0.8, decay_step=3)
    feed(full, range(10))
    first = TrainMetricWrapper(MeanAbsoluteError(), decay_rate=0.8, decay_step=3)
    feed(first, range(5))  # stops mid-window
    state = first.state_dict()
    assert {"value", "initialised", "updates"} <= set(state)
    resumed = TrainMetricWrapper(MeanAbsoluteError(), decay_rate=0.8, decay_step=3)
    resumed.load_state_dict(state)
    feed(resumed, range(5, 10))
    assert resumed.compute().item() == pytest.approx(full.compute().item())
    assert resumed.updates == 10
    resumed.reset()
    assert not resumed.initialised and resumed.updates == 0
