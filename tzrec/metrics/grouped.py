"""Exact grouped AUC (e.g. per user), vectorised over groups."""

from __future__ import annotations

from typing import Any

import torch
from torch import Tensor

from tzrec.metrics.base import F64, TzrecMetric


def grouped_auc_per_group(
    preds: Tensor, labels: Tensor, groups: Tensor
) -> tuple[Tensor, Tensor]:
    """Exact AUC of every group, vectorised (no Python loop over groups).

    Rows are sorted by (group, score); tied scores get their average rank;
    per group ``AUC = (sum of positive ranks - P(P+1)/2) / (P * N)`` (the
    Mann-Whitney statistic, ties counting half).

    Returns:
        ``(auc, valid)`` per group slot in ascending group-id order, ``n``
        slots (slots past the last group are empty); ``valid`` marks groups
        with both classes (others have a NaN AUC).
    """
    preds = preds.reshape(-1).to(F64)
    order = torch.argsort(preds, stable=True)
    order = order[torch.argsort(groups.reshape(-1)[order], stable=True)]
    p, g = preds[order], groups.reshape(-1)[order]
    pos = (labels.reshape(-1)[order] >= 0.5).to(F64)
    n = p.numel()
    new_group = torch.ones(n, dtype=torch.bool, device=p.device)
    new_group[1:] = g[1:] != g[:-1]
    new_run = new_group.clone()
    new_run[1:] |= p[1:] != p[:-1]
    group_id = new_group.long().cumsum(0) - 1
    run_id = new_run.long().cumsum(0) - 1
    idx = torch.arange(n, device=p.device)
    # Sizes are bounded by n rather than read back: no host sync. A row's
    # group (run) starts at the latest group (run) start at or before it.
    group_start = torch.where(new_group, idx, 0).cummax(0).values
    rank = (idx - group_start + 1).to(F64)
    run_first = torch.where(new_run, idx, 0).cummax(0).values
    run_start = (run_first - group_start + 1).to(F64)
    ones = torch.ones_like(rank)
    run_len = torch.zeros_like(rank).index_add_(0, run_id, ones)[run_id]
    avg_rank = run_start + (run_len - 1) / 2
    n_pos = torch.zeros_like(rank).index_add_(0, group_id, pos)
    n_all = torch.zeros_like(rank).index_add_(0, group_id, ones)
    rank_sum = torch.zeros_like(rank).index_add_(0, group_id, avg_rank * pos)
    n_neg = n_all - n_pos
    auc = (rank_sum - n_pos * (n_pos + 1) / 2) / (n_pos * n_neg)
    return auc, (n_pos > 0) & (n_neg > 0)


def exact_auc(preds: Tensor, labels: Tensor) -> Tensor:
    """Exact binary AUC (ties count half); NaN with one class."""
    auc, _ = grouped_auc_per_group(
        preds, labels, torch.zeros_like(preds, dtype=torch.long)
    )
    return auc[0] if auc.numel() else preds.new_tensor(float("nan"), dtype=F64)


class GroupedRows(TzrecMetric):
    """Keeps every row's prediction, label and group id until ``compute``.

    Across ranks the rows are gathered first (torchmetrics' ``cat`` sync), so
    a group split between ranks is scored as one group.

    Args:
        grouping_key: the column holding the group ids (for the caller).
    """

    # Row states: lists of batches (one concatenated tensor only while
    # torchmetrics holds them synced for compute; read them with rows()).
    preds: list[Tensor]
    labels: list[Tensor]
    groups: list[Tensor]

    def __init__(self, grouping_key: str = "", **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.grouping_key = grouping_key
        self.add_row_state("preds", F64)
        self.add_row_state("labels", F64)
        self.add_row_state("groups", torch.long)

    def update(
        self,
        preds: Tensor,
        target: Tensor,
        weights: Tensor | None = None,
        grouping_key: Tensor | None = None,
    ) -> None:
        if grouping_key is None:
            raise ValueError(f"{type(self).__name__}.update needs grouping_key")
        self.follow(preds.device)
        self.preds.append(preds.detach().reshape(-1).to(F64))
        self.labels.append(target.detach().reshape(-1).to(F64))
        self.groups.append(grouping_key.detach().reshape(-1).long().to(preds.device))


class GroupedAUC(GroupedRows):
    """Mean per-group AUC (e.g. per user) over groups having both classes.

    Unweighted, like TorchEasyRec: each qualifying group counts once. Exact
    (no thresholds); NaN when no group has both classes.
    """

    higher_is_better = True

    def compute(self) -> Tensor:
        """The mean AUC as a 0-d float32 tensor."""
        preds = self.rows("preds")
        if preds.numel() == 0:
            return torch.tensor(float("nan"), device=self.device)
        auc, valid = grouped_auc_per_group(
            preds, self.rows("labels"), self.rows("groups")
        )
        return (torch.where(valid, auc, 0.0).sum() / valid.sum()).float()
