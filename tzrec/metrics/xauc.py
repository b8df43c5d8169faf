"""XAUC: how often two rows' predictions order like their (e.g. watch-time) labels.

A pair ``(i, j)`` is correct when ``(t_i - t_j) * (p_i - p_j) > 0``; pairs
with equal labels or equal predictions count as wrong (TorchEasyRec's
semantics). All pairs are ``O(n^2)``, so pairs are sampled, uniformly with
replacement from a generator seeded at 0 (the same answer on every rank and
every run); when no fewer pairs are asked for than exist, every pair is
scored exactly.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import Tensor

from tzrec.metrics.base import F64
from tzrec.metrics.grouped import GroupedRows

SEED = 0
DEFAULT_SAMPLE_RATIO = 1e-3  # TorchEasyRec's, used when the field is unset
DEFAULT_MAX_PAIRS_PER_GROUP = 100
_BLOCK = 1 << 22  # elements of one pair-comparison block


def all_pairs_xauc(preds: Tensor, target: Tensor) -> Tensor:
    """Exact XAUC over every pair of rows (NaN below two rows).

    Compares blocks of rows against all rows: each unordered correct pair is
    counted twice over the full matrix (the diagonal never counts).
    """
    p, t = preds.reshape(-1).to(F64), target.reshape(-1).to(F64)
    n = p.numel()
    if n < 2:
        return p.new_tensor(float("nan"))
    correct = p.new_zeros(())
    step = max(1, _BLOCK // n)
    for start in range(0, n, step):
        dp = p[start : start + step, None] - p[None, :]
        dt = t[start : start + step, None] - t[None, :]
        correct += (dp * dt > 0).sum()
    return correct / (n * (n - 1))


def _pair_from_index(k: Tensor) -> tuple[Tensor, Tensor]:
    """Unordered pair ``(i, j)``, ``i < j``, numbered ``k = j(j-1)/2 + i``."""
    row = torch.floor((torch.sqrt(8 * k.to(F64) + 1) - 1) / 2).long()
    row -= (row * (row + 1) // 2 > k).long()  # float rounding, either way
    row += ((row + 1) * (row + 2) // 2 <= k).long()
    return k - row * (row + 1) // 2, row + 1


def grouped_pair_xauc(
    preds: Tensor, target: Tensor, groups: Tensor, max_pairs: int
) -> tuple[Tensor, Tensor]:
    """XAUC of every group from at most ``max_pairs`` of its pairs.

    A group with no more pairs than ``max_pairs`` is scored on all of them;
    a larger one on ``max_pairs`` pairs drawn uniformly with replacement.

    Returns:
        ``(xauc, rows)`` per group with at least one pair, ascending group id.
    """
    order = torch.argsort(groups.reshape(-1), stable=True)
    p, t = preds.reshape(-1)[order].to(F64), target.reshape(-1)[order].to(F64)
    _, sizes = torch.unique_consecutive(groups.reshape(-1)[order], return_counts=True)
    offsets = sizes.cumsum(0) - sizes
    keep = sizes >= 2
    sizes, offsets = sizes[keep], offsets[keep]
    total = sizes * (sizes - 1) // 2
    pairs = total.clamp(max=max_pairs)
    gid = torch.repeat_interleave(torch.arange(sizes.numel(), device=p.device), pairs)
    first = pairs.cumsum(0) - pairs
    nth = torch.arange(gid.numel(), device=p.device) - first[gid]
    gen = torch.Generator(device=p.device).manual_seed(SEED)
    drawn = torch.rand(gid.numel(), generator=gen, dtype=F64, device=p.device)
    drawn = (drawn * total[gid]).long().clamp(max=total[gid] - 1)
    k = torch.where(pairs[gid] == total[gid], nth, drawn)
    i, j = _pair_from_index(k)
    i, j = i + offsets[gid], j + offsets[gid]
    correct = ((p[i] - p[j]) * (t[i] - t[j]) > 0).to(F64)
    hits = torch.zeros(sizes.numel(), dtype=F64, device=p.device)
    hits.index_add_(0, gid, correct)
    return hits / pairs, sizes.to(F64)


class XAUC(GroupedRows):
    """XAUC over the whole eval set (TorchEasyRec's ``xauc``).

    Pairs scored: ``max_pairs`` if set, else ``sample_ratio`` of all
    ``n(n-1)/2`` pairs (default 1e-3). ``in_batch``: instead score every pair
    inside each batch and average the batches (no rows kept; each rank's
    batches count once).

    Args:
        sample_ratio: share of all pairs sampled, in (0, 1].
        max_pairs: number of pairs sampled (overrides ``sample_ratio``).
        in_batch: per-batch XAUC, averaged over batches.
    """

    higher_is_better = True

    def __init__(
        self,
        sample_ratio: float = DEFAULT_SAMPLE_RATIO,
        max_pairs: int = 0,
        in_batch: bool = False,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        if not 0.0 < sample_ratio <= 1.0:
            raise ValueError(f"xauc sample_ratio must be in (0, 1], got {sample_ratio}")
        self.sample_ratio = sample_ratio
        self.max_pairs = int(max_pairs)
        self.in_batch = in_batch
        # in_batch: sum of batch XAUCs and number of batches scored
        self.batch_sums: Tensor
        self.add_sum_state("batch_sums", torch.zeros(2, dtype=F64))

    def update(
        self,
        preds: Tensor,
        target: Tensor,
        weights: Tensor | None = None,
        grouping_key: Tensor | None = None,
    ) -> None:
        if not self.in_batch:
            zeros = torch.zeros(preds.numel(), dtype=torch.long, device=preds.device)
            super().update(preds, target, grouping_key=zeros)
            return
        self.follow(preds.device)
        x = all_pairs_xauc(preds.detach(), target.detach())
        ok = torch.isfinite(x)
        self.batch_sums.add_(torch.stack([x.nan_to_num(), ok.to(F64)]))

    def compute(self) -> Tensor:
        """XAUC as a 0-d float32 tensor; NaN below two rows."""
        if self.in_batch:
            return (self.batch_sums[0] / self.batch_sums[1]).float()
        preds = self.rows("preds")
        n = preds.numel()
        total = n * (n - 1) // 2
        pairs = self.max_pairs or int(total * self.sample_ratio)
        if pairs >= total:
            return all_pairs_xauc(preds, self.rows("labels")).float()
        xauc, _ = grouped_pair_xauc(
            preds, self.rows("labels"), self.rows("groups"), max(pairs, 1)
        )
        return xauc[0].float()


class GroupedXAUC(GroupedRows):
    """XAUC per group, averaged with group sizes as weights.

    Each group is scored on at most ``max_pairs_per_group`` of its pairs
    (TorchEasyRec's default 100 when unset); groups of one row have no pair
    and are left out.

    Args:
        grouping_key: the column holding the group ids.
        max_pairs_per_group: pairs scored per group.
    """

    higher_is_better = True

    def __init__(
        self,
        grouping_key: str = "",
        max_pairs_per_group: int = DEFAULT_MAX_PAIRS_PER_GROUP,
        **kwargs: Any,
    ) -> None:
        super().__init__(grouping_key, **kwargs)
        self.max_pairs_per_group = int(max_pairs_per_group) or (
            DEFAULT_MAX_PAIRS_PER_GROUP
        )

    def compute(self) -> Tensor:
        """Size-weighted mean group XAUC, 0-d float32; NaN with no pair."""
        xauc, rows = grouped_pair_xauc(
            self.rows("preds"),
            self.rows("labels"),
            self.rows("groups"),
            self.max_pairs_per_group,
        )
        return ((xauc * rows).sum() / rows.sum()).float()
