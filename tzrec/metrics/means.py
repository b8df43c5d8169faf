"""Metrics that are ratios of weighted sums: exact across ranks and windows."""

from __future__ import annotations

from typing import Any

import torch
from torch import Tensor

from tzrec.metrics.base import F64, SumMetric, TzrecMetric


class Accuracy(SumMetric):
    """Share of rows predicted right (weighted).

    Binary scores ``[B]``: ``pred > threshold`` matches the label. Class
    probabilities ``[B, C]``: the label is among the ``top_k`` highest.

    Args:
        threshold: decision threshold on a binary probability.
        top_k: classes counted as a hit for ``[B, C]`` scores.
    """

    higher_is_better = True

    def __init__(self, threshold: float = 0.5, top_k: int = 1, **kwargs: Any) -> None:
        super().__init__(2, **kwargs)
        if top_k < 1:
            raise ValueError(f"accuracy top_k must be >= 1, got {top_k}")
        self.threshold = threshold
        self.top_k = top_k

    def batch_sums(self, preds: Tensor, labels: Tensor, w: Tensor) -> list[Tensor]:
        if preds.dim() == 2:
            correct = _label_in_top_k(preds, labels, self.top_k)
        else:
            correct = (preds > self.threshold) == (labels >= 0.5)
        return [(correct * w).sum(), w.sum()]


class RecallAtK(SumMetric):
    """Recall@k of class scores: relevant items among the ``top_k`` highest.

    A ranking task has one relevant class per row (its label), so this is
    TorchEasyRec's ``sum(relevant in top k) / sum(relevant)`` with a one-hot
    target, unweighted as there: the share of rows whose label is among
    their ``top_k`` highest scores.

    Args:
        top_k: how many of the highest scores count (TorchEasyRec default 5).
    """

    higher_is_better = True

    def __init__(self, top_k: int = 5, **kwargs: Any) -> None:
        super().__init__(2, **kwargs)
        if top_k < 1:
            raise ValueError(f"recall_at_k top_k must be >= 1, got {top_k}")
        self.top_k = top_k

    def batch_sums(self, preds: Tensor, labels: Tensor, w: Tensor) -> list[Tensor]:
        if preds.dim() != 2:
            raise ValueError("recall_at_k needs [B, num_class] scores")
        hits = _label_in_top_k(preds, labels, self.top_k)
        return [hits.to(F64).sum(), labels.new_tensor(float(labels.numel()))]


def _label_in_top_k(scores: Tensor, labels: Tensor, k: int) -> Tensor:
    top = scores.topk(min(k, scores.shape[1]), dim=1).indices
    return (top == labels.long().unsqueeze(1)).any(dim=1)


class MeanSquaredError(SumMetric):
    """Weighted mean of ``(pred - label)^2``."""

    higher_is_better = False

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(2, **kwargs)

    def batch_sums(self, preds: Tensor, labels: Tensor, w: Tensor) -> list[Tensor]:
        return [((preds - labels) ** 2 * w).sum(), w.sum()]


class MeanAbsoluteError(SumMetric):
    """Weighted mean of ``|pred - label|``."""

    higher_is_better = False

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(2, **kwargs)

    def batch_sums(self, preds: Tensor, labels: Tensor, w: Tensor) -> list[Tensor]:
        return [((preds - labels).abs() * w).sum(), w.sum()]


class Calibration(SumMetric):
    """Mean prediction over observed positive rate (1.0 is calibrated)."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(2, **kwargs)

    def batch_sums(self, preds: Tensor, labels: Tensor, w: Tensor) -> list[Tensor]:
        return [(preds * w).sum(), (labels * w).sum()]


class NormalizedEntropy(SumMetric):
    """Log loss divided by the entropy of the base positive rate.

    ``NE = mean(-y log p - (1-y) log(1-p)) / H(r)`` with ``r`` the (weighted)
    positive rate and ``H(r) = -r log r - (1-r) log(1-r)``. Below 1 the model
    beats always predicting ``r``.

    Args:
        eps: clamp for ``p`` and ``r`` away from 0 and 1.
    """

    higher_is_better = False

    def __init__(self, eps: float = 1e-12, **kwargs: Any) -> None:
        super().__init__(3, **kwargs)
        self.eps = eps

    def batch_sums(self, preds: Tensor, labels: Tensor, w: Tensor) -> list[Tensor]:
        p = preds.clamp(self.eps, 1 - self.eps)
        ce = -(labels * p.log() + (1 - labels) * (1 - p).log())
        return [(ce * w).sum(), w.sum(), (labels * w).sum()]

    def value(self, sums: Tensor) -> Tensor:
        ce_sum, w_sum, pos_sum = sums
        r = (pos_sum / w_sum).clamp(self.eps, 1 - self.eps)
        entropy = -(r * r.log() + (1 - r) * (1 - r).log())
        return ce_sum / w_sum / entropy


class LossMean(TzrecMetric):
    """Batch-weighted mean of a per-batch loss value over the eval set."""

    higher_is_better = False
    sums: Tensor  # loss * weight, weight

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.add_sum_state("sums", torch.zeros(2, dtype=F64))

    def update(  # type: ignore[override]
        self, loss: Tensor, weight: float | Tensor = 1.0
    ) -> None:
        """Adds one batch's mean loss, weighted by its row count (or weight)."""
        loss = loss.detach().reshape(()).to(F64)
        self.follow(loss.device)
        # A Python weight goes in as a kernel argument: no host-to-device copy.
        self.sums[0].add_(loss * weight)
        self.sums[1].add_(weight)

    def compute(self) -> Tensor:
        """The mean loss as a 0-d float32 tensor."""
        return (self.sums[0] / self.sums[1]).float()
