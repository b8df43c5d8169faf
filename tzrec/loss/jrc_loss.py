"""JRC loss (Sheng et al., 2023, arXiv:2208.06164): calibrated ranking in sessions.

``alpha * CE + (1 - alpha) * GE``: CE is the cross entropy of the two-class
logits ``[B, 2]``; GE makes each row compete within its session, a softmax of
a positive's click logit against the session's negatives' click logits, and
of a negative's non-click logit against the session's positives'. Both terms
are ``softplus(logsumexp(competitors) - own logit)``, one log-sum-exp per
session, computed with segment reductions over the batch sorted by session:
no ``[B, B]`` mask and no host-device sync.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor

# Logit of a row that does not compete: exp() of it underflows to 0.
_MASKED = -1e9


def session_index(session: Tensor) -> Tensor:
    """Dense session ids in ``[0, B)`` (equal ids, equal index), without a sync."""
    ordered, perm = torch.sort(session)
    starts = torch.ones_like(ordered, dtype=torch.long)
    starts[1:] = (ordered[1:] != ordered[:-1]).long()
    seg_sorted = torch.cumsum(starts, 0) - 1
    return torch.empty_like(seg_sorted).scatter_(0, perm, seg_sorted)


def segment_logsumexp(x: Tensor, index: Tensor, size: int) -> Tensor:
    """Per segment ``log(sum(exp(x)))``; ``size`` bounds the segment ids."""
    top = torch.full((size,), _MASKED, dtype=x.dtype, device=x.device)
    top = top.scatter_reduce(0, index, x, reduce="amax", include_self=True)
    shifted = torch.exp(x - top.index_select(0, index))
    total = torch.zeros(size, dtype=x.dtype, device=x.device).index_add(
        0, index, shifted
    )
    return top + torch.log(total.clamp_min(1e-30))


def jrc_loss(logits: Tensor, label: Tensor, session: Tensor, alpha: float) -> Tensor:
    """Per-row JRC loss.

    Args:
        logits: ``[B, 2]`` (non-click, click).
        label: ``[B]`` 0/1.
        session: ``[B]`` session ids (any integers).
        alpha: weight of the cross entropy.

    Returns:
        ``[B]`` float32.
    """
    logits, label = logits.float(), label.long()
    ce = F.cross_entropy(logits, label, reduction="none")
    index = session_index(session)
    size = logits.shape[0]
    neg, pos = logits[:, 0], logits[:, 1]
    is_pos = label == 1
    # A positive competes with its session's negatives on the click logit,
    # a negative with its session's positives on the non-click logit.
    lse_click = segment_logsumexp(torch.where(is_pos, _MASKED, pos), index, size)
    lse_non = segment_logsumexp(torch.where(is_pos, neg, _MASKED), index, size)
    ge = torch.where(
        is_pos,
        F.softplus(lse_click.index_select(0, index) - pos),
        F.softplus(lse_non.index_select(0, index) - neg),
    )
    return alpha * ce + (1.0 - alpha) * ge
