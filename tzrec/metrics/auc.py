"""Binned AUC (binary and one-vs-rest multi-class) from bucket counts."""

from __future__ import annotations

from typing import Any

import torch
from torch import Tensor

from tzrec.metrics.base import F64, TzrecMetric, weights_or_ones


def add_binned_counts(
    out: Tensor, preds: Tensor, labels: Tensor, weights: Tensor | None
) -> None:
    """Adds weighted row counts per (label, bucket) into ``out`` (``[2, T]``).

    Bucket ``k = floor(p * (T - 1))`` clamped to ``[0, T - 1]``: scores
    ``k/(T-1) <= p < (k+1)/(T-1)``, i.e. the grid ``linspace(0, 1, T)``
    (up to rounding of scores lying exactly on a threshold). Row 0 counts
    negatives, row 1 positives. A handful of elementwise ops and one
    ``index_add_``: no host sync (unlike ``bincount`` on CUDA), no search.
    """
    n = out.shape[-1]
    preds = preds.detach().reshape(-1)
    idx = (preds * (n - 1)).long().clamp_(0, n - 1)
    idx += (labels.detach().reshape(-1) >= 0.5).long() * n
    out.view(-1).index_add_(0, idx, weights_or_ones(preds, weights))


def auc_from_counts(counts: Tensor) -> Tensor:
    """AUC from ``[..., 2, T]`` bucket counts: pair counting, same bucket half.

    This equals the trapezoidal area under the ROC curve drawn through the
    thresholds (TorchEasyRec / torchmetrics binned AUC). NaN with one class.
    """
    neg, pos = counts[..., 0, :], counts[..., 1, :]
    pos_above = pos.flip(-1).cumsum(-1).flip(-1) - pos
    pairs = pos.sum(-1) * neg.sum(-1)
    return (neg * (pos_above + 0.5 * pos)).sum(-1) / pairs


class AUC(TzrecMetric):
    """Binary AUC from thresholded confusion counts.

    Scores are bucketed onto the grid ``linspace(0, 1, thresholds)`` (see
    :func:`add_binned_counts`); a positive and a negative in one bucket count
    as half a correctly ordered pair. This is the trapezoidal ROC area over
    those thresholds, as in TorchEasyRec / torchmetrics binned AUC. The state
    is ``2 * thresholds`` numbers however large the eval set; the result is
    the exact AUC of the scores floored to the grid (within about
    1/thresholds of the exact AUC for smooth score distributions).

    Args:
        thresholds: number of thresholds (TorchEasyRec default 200).
    """

    higher_is_better = True
    _into = "counts"  # the state that update() adds to
    counts: Tensor  # [2, thresholds] weighted negatives / positives per bucket

    def __init__(self, thresholds: int = 200, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        if thresholds < 2:
            raise ValueError(f"AUC needs at least 2 thresholds, got {thresholds}")
        self.num_thresholds = thresholds
        self.add_sum_state("counts", torch.zeros(2, thresholds, dtype=F64))

    def update(
        self,
        preds: Tensor,
        target: Tensor,
        weights: Tensor | None = None,
        grouping_key: Tensor | None = None,
    ) -> None:
        self.follow(preds.device)
        add_binned_counts(getattr(self, self._into), preds, target, weights)

    def compute(self) -> Tensor:
        """AUC as a 0-d float32 tensor; NaN with one class."""
        return auc_from_counts(self.counts).float()


class DecayAUC(AUC):
    """AUC whose confusion counts forget old batches geometrically.

    ``update`` adds a batch's bucket counts to a window buffer. ``decay(r)``
    folds the window in, as TorchEasyRec does::

        counts = r * counts + (1 - r) * window   if counts hold any rows
        counts = window                          otherwise (first fold)
        window = 0

    AUC is scale-free, so only the relative weights matter: after folds of
    windows ``W1, W2, W3`` the counts are ``r^2 W1 + r(1-r) W2 + (1-r) W3``.
    ``compute`` scores ``counts`` (the current window is not yet included).
    The window is rank-local until it is folded in; ``counts`` sum over
    ranks when synced (exact).

    Args:
        thresholds: number of thresholds on [0, 1].
    """

    _into = "window"
    window: Tensor  # counts of the batches since the last fold

    def __init__(self, thresholds: int = 200, **kwargs: Any) -> None:
        super().__init__(thresholds, **kwargs)
        self.add_sum_state("window", torch.zeros(2, thresholds, dtype=F64))

    def decay(self, rate: float) -> None:
        """Folds the window into the decayed counts; no host sync."""
        started = self.counts.sum() > 0
        folded = rate * self.counts + (1 - rate) * self.window
        self.counts.copy_(torch.where(started, folded, self.window))
        self.window.zero_()
        self._computed = None  # states changed outside update(): drop the cache

    def initialised(self) -> Tensor:
        """0-d bool tensor: whether any window has been folded in."""
        return self.counts.sum() > 0


class MulticlassAUC(TzrecMetric):
    """One-vs-rest binned AUC per class, averaged (TorchEasyRec's multiclass_auc).

    Each class ``c`` is scored as a binary AUC of ``probs[:, c]`` against
    ``label == c`` on the grid of :class:`AUC`. ``macro`` averages the
    classes that have both positives and negatives; ``weighted`` weights
    them by their (weighted) number of rows labelled ``c``.

    Args:
        num_classes: width of the ``[B, C]`` probabilities.
        thresholds: number of thresholds (default 200).
        average: ``macro`` or ``weighted``.
    """

    higher_is_better = True
    AVERAGES = ("macro", "weighted")
    counts: Tensor  # [classes, 2, thresholds]

    def __init__(
        self,
        num_classes: int,
        thresholds: int = 200,
        average: str = "macro",
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        if thresholds < 2:
            raise ValueError(f"AUC needs at least 2 thresholds, got {thresholds}")
        if average not in self.AVERAGES:
            raise ValueError(f"average must be one of {self.AVERAGES}, got {average!r}")
        self.num_classes = num_classes
        self.average = average
        self.add_sum_state("counts", torch.zeros(num_classes, 2, thresholds, dtype=F64))

    def update(
        self,
        preds: Tensor,
        target: Tensor,
        weights: Tensor | None = None,
        grouping_key: Tensor | None = None,
    ) -> None:
        self.follow(preds.device)
        c, t = self.num_classes, self.counts.shape[-1]
        probs = preds.detach().reshape(-1, c)
        labels = target.detach().reshape(-1).long()
        w = weights_or_ones(labels, weights)
        # index into the flat [C, 2, T] counts: class, is-positive, bucket
        bucket = (probs.to(F64) * (t - 1)).long().clamp_(0, t - 1)
        classes = torch.arange(c, device=probs.device)
        positive = (labels.unsqueeze(1) == classes).long()
        idx = classes * (2 * t) + positive * t + bucket
        self.counts.view(-1).index_add_(0, idx.reshape(-1), w.repeat_interleave(c))

    def compute(self) -> Tensor:
        """The averaged AUC as a 0-d float32 tensor; NaN if no class qualifies."""
        auc = auc_from_counts(self.counts)
        ok = torch.isfinite(auc)
        if self.average == "weighted":
            support = self.counts[:, 1].sum(-1) * ok
            return ((auc.nan_to_num() * support).sum() / support.sum()).float()
        return (auc.nan_to_num().sum() / ok.sum()).float()
