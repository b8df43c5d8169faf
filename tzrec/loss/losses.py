"""Per-row losses and their (sample-)weighted reduction; no host-device sync.

Every loss is computed in float32 (mixed precision casts predictions first)
and reduced as TorchEasyRec does: with sample weights ``w`` the loss is
``sum(w * loss) / sum(w)`` (``mean(loss * w / mean(w))``), else the mean.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor

from tzrec.loss.spec import (
    BINARY_CROSS_ENTROPY,
    BINARY_FOCAL_LOSS,
    L2_LOSS,
    SOFTMAX_CROSS_ENTROPY,
    LossSpec,
)


def binary_cross_entropy(
    logits: Tensor, label: Tensor, smoothing: float = 0.0
) -> Tensor:
    """Per-row BCE on logits; smoothing moves targets towards 0.5."""
    target = label * (1.0 - smoothing) + 0.5 * smoothing if smoothing else label
    return F.binary_cross_entropy_with_logits(logits, target, reduction="none")


def softmax_cross_entropy(
    logits: Tensor, label: Tensor, smoothing: float = 0.0
) -> Tensor:
    """Per-row cross entropy of ``[B, C]`` logits against class ids ``[B]``.

    An id outside ``[0, C)`` is an error raised by torch (on CUDA a device
    assert), never a silent wrong loss.
    """
    return F.cross_entropy(
        logits, label.long(), reduction="none", label_smoothing=smoothing
    )


def l2_loss(y: Tensor, label: Tensor) -> Tensor:
    """Per-row squared error."""
    return (y - label).pow(2)


def binary_focal_loss(
    logits: Tensor, label: Tensor, gamma: float = 2.0, alpha: float = 0.5
) -> Tensor:
    """Per-row focal loss (Lin et al., 2017) as TorchEasyRec computes it.

    ``w * BCE`` with ``w = alpha * y * (1-p)^gamma + (1-alpha) * (1-y) * p^gamma``
    and the modulating weight ``w`` held constant in the backward pass.
    """
    p = torch.sigmoid(logits)
    weight = alpha * label * (1.0 - p).pow(gamma) + (1.0 - alpha) * (
        1.0 - label
    ) * p.pow(gamma)
    return F.binary_cross_entropy_with_logits(
        logits, label, weight=weight.detach(), reduction="none"
    )


def per_row_loss(spec: LossSpec, pred: Tensor, label: Tensor) -> Tensor:
    """The per-row loss ``spec`` describes, in float32."""
    pred, label = pred.float(), label.float()
    if spec.kind == BINARY_CROSS_ENTROPY:
        return binary_cross_entropy(pred, label, spec.label_smoothing)
    if spec.kind == SOFTMAX_CROSS_ENTROPY:
        return softmax_cross_entropy(pred, label, spec.label_smoothing)
    if spec.kind == L2_LOSS:
        return l2_loss(pred, label)
    if spec.kind == BINARY_FOCAL_LOSS:
        return binary_focal_loss(pred, label, spec.gamma, spec.alpha)
    raise ValueError(f"unknown loss kind {spec.kind}")


def weighted_mean(per_row: Tensor, weights: Tensor | None = None) -> Tensor:
    """``sum(w * loss) / sum(w)``; 0 when every weight is 0; the mean without."""
    if weights is None:
        return per_row.mean()
    w = weights.to(per_row.dtype)
    return (per_row * w).sum() / w.sum().clamp_min(1e-12)
