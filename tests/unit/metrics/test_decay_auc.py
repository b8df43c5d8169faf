import math

import pytest
import torch

from tzrec.metrics.auc import DecayAUC
from tzrec.metrics.train_metric_wrapper import TrainMetricWrapper

# thresholds=3 puts scores in buckets [0, .5), [.5, 1), [1, 1]
W1 = (torch.tensor([0.2, 0.7]), torch.tensor([0, 1]))  # perfectly ordered
W2 = (torch.tensor([0.7, 0.2]), torch.tensor([0, 1]))  # perfectly reversed
W3 = (torch.tensor([0.6, 0.6]), torch.tensor([0, 1]))  # one tie


def hand_auc(neg, pos):
    """Pair counting over buckets, same-bucket pairs half."""
    good = 0.0
    for i, n in enumerate(neg):
        for j, p in enumerate(pos):
            good += n * p * (1.0 if j > i else 0.5 if j == i else 0.0)
    return good / (sum(neg) * sum(pos))


def test_decay_auc_by_hand():
    m = DecayAUC(thresholds=3)
    assert not bool(m.initialised())
    m.update(*W1)
    assert math.isnan(m.compute().item())  # window not folded in yet
    m.decay(0.75)
    assert bool(m.initialised())
    assert m.compute().item() == pytest.approx(1.0)
    m.update(*W2)
    m.decay(0.75)
    # counts = .75 W1 + .25 W2: neg [.75, .25, 0], pos [.25, .75, 0]
    assert m.compute().item() == pytest.approx(
        hand_auc([0.75, 0.25, 0], [0.25, 0.75, 0])
    )
    assert m.compute().item() == pytest.approx(0.75)
    m.update(*W3)
    m.decay(0.75)
    # .75^2 W1 + .75*.25 W2 + .25 W3
    neg = [0.5625, 0.1875 + 0.25, 0]
    pos = [0.1875, 0.5625 + 0.25, 0]
    assert m.compute().item() == pytest.approx(hand_auc(neg, pos))
    # .5625*.8125 + .5*.5625*.1875 + .5*.4375*.8125 (right pairs, two ties)
    assert m.compute().item() == pytest.approx(0.6875)


def test_wrapper_decays_auc_every_decay_step_batches():
    w = TrainMetricWrapper(DecayAUC(thresholds=3), decay_rate=0.5, decay_step=2)
    w.update(*W1)
    assert math.isnan(w.compute().item()) and not w.initialised
    w.update(*W1)
    assert w.compute().item() == pytest.approx(1.0) and w.initialised
    w.update(*W2)
    w.update(*W2)
    # .5 * (2 W1) + .5 * (2 W2): neg [1, 1, 0], pos [1, 1, 0]
    assert w.compute().item() == pytest.approx(hand_auc([1, 1, 0], [1, 1, 0]))
    assert w.compute().item() == pytest.approx(0.5)
