"""Binned AUC on torchmetrics: the same numbers as before, and as numpy."""

import numpy as np
import pytest
import torch

from tzrec.metrics import decay_auc as decay_before
from tzrec.metrics import eval_metrics as before
from tzrec.metrics.auc import AUC, DecayAUC
from tzrec.metrics.grouped import GroupedAUC
from tzrec.metrics.means import (
    Accuracy,
    Calibration,
    MeanAbsoluteError,
    MeanSquaredError,
    NormalizedEntropy,
)


def numpy_binned_auc(preds, labels, weights, thresholds):
    """Trapezoidal ROC area over ``linspace(0, 1, T)``, in numpy.

    A row is predicted positive at threshold ``t`` when ``p >= t``; the ROC
    points run from threshold 1 down to 0; the area is the trapezoid rule.
    """
    grid = np.linspace(0.0, 1.0, thresholds)
    pos = labels >= 0.5
    above = preds[None, :] >= grid[:, None] - 1e-12  # [T, N]
    tp = (above & pos).astype(float) @ weights
    fp = (above & ~pos).astype(float) @ weights
    tpr = np.concatenate([tp[::-1], [weights[pos].sum()]]) / weights[pos].sum()
    fpr = np.concatenate([fp[::-1], [weights[~pos].sum()]]) / weights[~pos].sum()
    return float(np.sum((fpr[1:] - fpr[:-1]) * (tpr[1:] + tpr[:-1]) / 2))


def _data(seed, n=3000):
    g = torch.Generator().manual_seed(seed)
    labels = (torch.rand(n, generator=g) < 0.3).long()
    preds = torch.sigmoid(torch.randn(n, generator=g) * 1.5 + labels)
    weights = torch.rand(n, generator=g) + 0.5
    groups = torch.randint(0, 40, (n,), generator=g)
    return preds, labels, weights, groups


@pytest.mark.parametrize("seed, thresholds", [(0, 200), (1, 200), (2, 37)])
def test_binned_auc_matches_numpy_reference(seed, thresholds):
    preds, labels, weights, _ = _data(seed)
    # keep scores off the thresholds themselves, where float rounding of
    # p * (T - 1) and of the numpy grid may disagree
    k = torch.floor(preds.double() * (thresholds - 1))
    preds = ((k + 0.5) / (thresholds - 1)).float()
    m = AUC(thresholds)
    for p, y, w in zip(preds.split(700), labels.split(700), weights.split(700)):
        m.update(p, y, w)
    expected = numpy_binned_auc(
        preds.double().numpy(), labels.numpy(), weights.double().numpy(), thresholds
    )
    assert m.compute().item() == pytest.approx(expected, abs=1e-6)


@pytest.mark.parametrize("seed", [0, 1, 2, 3])
def test_every_metric_equals_the_hand_written_one(seed):
    preds, labels, weights, groups = _data(seed)
    pairs = [
        (before.AUC(), AUC()),
        (before.AUC(37), AUC(37)),
        (before.GroupedAUC(), GroupedAUC()),
        (before.NormalizedEntropy(), NormalizedEntropy()),
        (before.Accuracy(0.4), Accuracy(0.4)),
        (before.Calibration(), Calibration()),
        (before.MeanSquaredError(), MeanSquaredError()),
        (before.MeanAbsoluteError(), MeanAbsoluteError()),
    ]
    for old, new in pairs:
        for p, y, w, g in zip(
            preds.split(512), labels.split(512), weights.split(512), groups.split(512)
        ):
            old.update(p, y, w, g)
            new.update(p, y, w, g)
        assert new.compute().item() == pytest.approx(old.compute().item(), abs=1e-6)


def test_decay_auc_equals_the_hand_written_one():
    preds, labels, _, _ = _data(4)
    old, new = decay_before.DecayAUC(), DecayAUC()
    for i, (p, y) in enumerate(zip(preds.split(300), labels.split(300))):
        old.update(p, y)
        new.update(p, y)
        if i % 2:
            old.decay(0.7)
            new.decay(0.7)
    assert new.compute().item() == pytest.approx(old.compute().item(), abs=1e-6)
