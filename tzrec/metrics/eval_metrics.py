"""Eval metrics with device-resident state and cross-rank reduction.

``update`` only launches device ops (no host read); ``compute`` reads
nothing back either: it returns a 0-d tensor. With a process group of more
than one rank, ``compute()`` reduces the state across ranks first, so every
rank must call it at the same point. Positives are rows with ``label >= 0.5``.
"""

from __future__ import annotations

import torch
import torch.distributed as dist
from torch import Tensor

_F64 = torch.float64


def dist_active() -> bool:
    """True inside a process group of more than one rank."""
    return dist.is_available() and dist.is_initialized() and dist.get_world_size() > 1


def all_reduce_sum(tensors: list[Tensor]) -> list[Tensor]:
    """Sums tensors across ranks in one collective; returns new tensors."""
    flat = torch.cat([t.detach().reshape(-1).to(_F64) for t in tensors])
    dist.all_reduce(flat)
    out, offset = [], 0
    for t in tensors:
        out.append(flat[offset : offset + t.numel()].view(t.shape).to(t.dtype))
        offset += t.numel()
    return out


def _weights(preds: Tensor, weights: Tensor | None) -> Tensor:
    if weights is None:
        return torch.ones(preds.numel(), dtype=_F64, device=preds.device)
    return weights.detach().reshape(-1).to(_F64)


class Metric:
    """Base: a dict of named state tensors that are summed across ranks."""

    def __init__(self) -> None:
        self._state: dict[str, Tensor] = {}

    def _add_state(self, name: str, value: Tensor) -> None:
        self._state[name] = value

    def _on(self, device: torch.device) -> None:
        """Moves the state to ``device`` (once, at the first update there)."""
        for k, v in self._state.items():
            if v.device != device:
                self._state[k] = v.to(device)

    def update(
        self,
        preds: Tensor,
        labels: Tensor,
        weights: Tensor | None = None,
        grouping_key: Tensor | None = None,
    ) -> None:
        """Adds a batch: probabilities, labels, optional per-row weights."""
        raise NotImplementedError

    def _compute(self, state: dict[str, Tensor]) -> Tensor:
        raise NotImplementedError

    def compute(self, sync: bool = True) -> Tensor:
        """The metric as a 0-d float tensor (NaN when undefined).

        Args:
            sync: reduce across ranks first (a collective when distributed).
        """
        state = self._state
        if sync and dist_active():
            state = dict(zip(state, all_reduce_sum(list(state.values()))))
        return self._compute(state).float()

    def reset(self) -> None:
        """Clears the accumulated state."""
        for v in self._state.values():
            v.zero_()

    def state_dict(self) -> dict[str, Tensor]:
        """A copy of the state, for checkpoints."""
        return {k: v.detach().clone() for k, v in self._state.items()}

    def load_state_dict(self, state: dict[str, Tensor]) -> None:
        """Restores :meth:`state_dict` output (onto the current device)."""
        for k, v in self._state.items():
            v.copy_(state[k].to(v.device))


class _SumMetric(Metric):
    """A metric whose state is a vector of sums, updated with one add."""

    def __init__(self, size: int) -> None:
        super().__init__()
        self._add_state("sums", torch.zeros(size, dtype=_F64))

    def _batch_sums(self, preds: Tensor, labels: Tensor, w: Tensor) -> list[Tensor]:
        raise NotImplementedError

    def update(
        self,
        preds: Tensor,
        labels: Tensor,
        weights: Tensor | None = None,
        grouping_key: Tensor | None = None,
    ) -> None:
        labels = labels.detach().reshape(-1).to(_F64)
        # [B, C] class scores stay 2-D (top-k accuracy); all else is per row.
        rows = preds.dim() == 2 and preds.shape[1] > 1
        preds = preds.detach().to(_F64)
        preds = preds.reshape(labels.numel(), -1) if rows else preds.reshape(-1)
        self._on(preds.device)
        sums = self._batch_sums(preds, labels, _weights(labels, weights))
        self._state["sums"].add_(torch.stack(sums))

    def _compute(self, state: dict[str, Tensor]) -> Tensor:
        num, den = state["sums"][0], state["sums"][1]
        return num / den


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
    n = out.shape[1]
    preds = preds.detach().reshape(-1)
    idx = (preds * (n - 1)).long().clamp_(0, n - 1)
    idx += (labels.detach().reshape(-1) >= 0.5).long() * n
    out.view(-1).index_add_(0, idx, _weights(preds, weights))


def auc_from_counts(counts: Tensor) -> Tensor:
    """AUC from ``[2, T]`` bucket counts: pair counting, same-bucket pairs half.

    This equals the trapezoidal area under the ROC curve drawn through the
    thresholds (TorchEasyRec / torchmetrics binned AUC). NaN with one class.
    """
    neg, pos = counts[0], counts[1]
    pos_above = pos.flip(0).cumsum(0).flip(0) - pos
    return (neg * (pos_above + 0.5 * pos)).sum() / (pos.sum() * neg.sum())


class AUC(Metric):
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

    _into = "counts"  # the state that update() adds to

    def __init__(self, thresholds: int = 200) -> None:
        super().__init__()
        if thresholds < 2:
            raise ValueError(f"AUC needs at least 2 thresholds, got {thresholds}")
        self.num_thresholds = thresholds
        self._add_state("counts", torch.zeros(2, thresholds, dtype=_F64))

    def update(
        self,
        preds: Tensor,
        labels: Tensor,
        weights: Tensor | None = None,
        grouping_key: Tensor | None = None,
    ) -> None:
        self._on(preds.device)
        add_binned_counts(self._state[self._into], preds, labels, weights)

    def _compute(self, state: dict[str, Tensor]) -> Tensor:
        return auc_from_counts(state["counts"])


class Accuracy(_SumMetric):
    """Share of rows predicted right (weighted).

    Binary scores ``[B]``: ``pred > threshold`` matches the label. Class
    probabilities ``[B, C]``: the label is among the ``top_k`` highest.

    Args:
        threshold: decision threshold on a binary probability.
        top_k: classes counted as a hit for ``[B, C]`` scores.
    """

    def __init__(self, threshold: float = 0.5, top_k: int = 1) -> None:
        super().__init__(2)
        if top_k < 1:
            raise ValueError(f"accuracy top_k must be >= 1, got {top_k}")
        self.threshold = threshold
        self.top_k = top_k

    def _batch_sums(self, preds: Tensor, labels: Tensor, w: Tensor) -> list[Tensor]:
        if preds.dim() == 2:
            k = min(self.top_k, preds.shape[1])
            top = preds.topk(k, dim=1).indices
            correct = (top == labels.long().unsqueeze(1)).any(dim=1)
        else:
            correct = (preds > self.threshold) == (labels >= 0.5)
        return [(correct * w).sum(), w.sum()]


class MeanSquaredError(_SumMetric):
    """Weighted mean of ``(pred - label)^2``."""

    def __init__(self) -> None:
        super().__init__(2)

    def _batch_sums(self, preds: Tensor, labels: Tensor, w: Tensor) -> list[Tensor]:
        return [((preds - labels) ** 2 * w).sum(), w.sum()]


class MeanAbsoluteError(_SumMetric):
    """Weighted mean of ``|pred - label|``."""

    def __init__(self) -> None:
        super().__init__(2)

    def _batch_sums(self, preds: Tensor, labels: Tensor, w: Tensor) -> list[Tensor]:
        return [((preds - labels).abs() * w).sum(), w.sum()]


class Calibration(_SumMetric):
    """Mean prediction over observed positive rate (1.0 is calibrated)."""

    def __init__(self) -> None:
        super().__init__(2)

    def _batch_sums(self, preds: Tensor, labels: Tensor, w: Tensor) -> list[Tensor]:
        return [(preds * w).sum(), (labels * w).sum()]


class NormalizedEntropy(_SumMetric):
    """Log loss divided by the entropy of the base positive rate.

    ``NE = mean(-y log p - (1-y) log(1-p)) / H(r)`` with ``r`` the (weighted)
    positive rate and ``H(r) = -r log r - (1-r) log(1-r)``. Below 1 the model
    beats always predicting ``r``.

    Args:
        eps: clamp for ``p`` and ``r`` away from 0 and 1.
    """

    def __init__(self, eps: float = 1e-12) -> None:
        super().__init__(3)
        self.eps = eps

    def _batch_sums(self, preds: Tensor, labels: Tensor, w: Tensor) -> list[Tensor]:
        p = preds.clamp(self.eps, 1 - self.eps)
        ce = -(labels * p.log() + (1 - labels) * (1 - p).log())
        return [(ce * w).sum(), w.sum(), (labels * w).sum()]

    def _compute(self, state: dict[str, Tensor]) -> Tensor:
        ce_sum, w_sum, pos_sum = state["sums"]
        r = (pos_sum / w_sum).clamp(self.eps, 1 - self.eps)
        entropy = -(r * r.log() + (1 - r) * (1 - r).log())
        return ce_sum / w_sum / entropy


class LossMean(Metric):
    """Batch-weighted mean of a per-batch loss value over the eval set."""

    def __init__(self) -> None:
        super().__init__()
        self._add_state("sums", torch.zeros(2, dtype=_F64))

    def update(  # type: ignore[override]
        self, loss: Tensor, weight: float | Tensor = 1.0
    ) -> None:
        """Adds one batch's mean loss, weighted by its row count (or weight)."""
        loss = loss.detach().reshape(()).to(_F64)
        self._on(loss.device)
        sums = self._state["sums"]
        # A Python weight goes in as a kernel argument: no host-to-device copy.
        sums[0].add_(loss * weight)
        sums[1].add_(weight)

    def _compute(self, state: dict[str, Tensor]) -> Tensor:
        return state["sums"][0] / state["sums"][1]


def grouped_auc_per_group(
    preds: Tensor, labels: Tensor, groups: Tensor
) -> tuple[Tensor, Tensor]:
    """Exact AUC of every group, vectorised (no Python loop over groups).

    Rows are sorted by (group, score); tied scores get their average rank;
    per group ``AUC = (sum of positive ranks - P(P+1)/2) / (P * N)`` (the
    Mann-Whitney statistic, ties counting half).

    Returns:
        ``(auc, valid)`` per group in ascending group-id order; ``valid`` marks
        groups with both classes (others have a NaN AUC).
    """
    preds = preds.reshape(-1).to(_F64)
    order = torch.argsort(preds, stable=True)
    order = order[torch.argsort(groups.reshape(-1)[order], stable=True)]
    p, g = preds[order], groups.reshape(-1)[order]
    pos = (labels.reshape(-1)[order] >= 0.5).to(_F64)
    n = p.numel()
    new_group = torch.ones(n, dtype=torch.bool, device=p.device)
    new_group[1:] = g[1:] != g[:-1]
    new_run = new_group.clone()
    new_run[1:] |= p[1:] != p[:-1]
    group_id = new_group.long().cumsum(0) - 1
    run_id = new_run.long().cumsum(0) - 1
    idx = torch.arange(n, device=p.device)
    rank = (idx - idx[new_group][group_id] + 1).to(_F64)
    run_start = rank[new_run]
    run_len = torch.zeros_like(run_start).index_add_(0, run_id, torch.ones_like(rank))
    avg_rank = run_start[run_id] + (run_len[run_id] - 1) / 2
    num_groups = run_start.new_zeros(int(new_group.sum()))
    n_pos = num_groups.clone().index_add_(0, group_id, pos)
    n_all = num_groups.clone().index_add_(0, group_id, torch.ones_like(pos))
    rank_sum = num_groups.clone().index_add_(0, group_id, avg_rank * pos)
    n_neg = n_all - n_pos
    auc = (rank_sum - n_pos * (n_pos + 1) / 2) / (n_pos * n_neg)
    return auc, (n_pos > 0) & (n_neg > 0)


def exact_auc(preds: Tensor, labels: Tensor) -> Tensor:
    """Exact binary AUC (ties count half); NaN with one class."""
    auc, _ = grouped_auc_per_group(
        preds, labels, torch.zeros_like(preds, dtype=torch.long)
    )
    return auc[0] if auc.numel() else preds.new_tensor(float("nan"), dtype=_F64)


class GroupedAUC(Metric):
    """Mean per-group AUC (e.g. per user) over groups having both classes.

    Unweighted, like TorchEasyRec: each qualifying group counts once. Rows
    are kept on the device until ``compute``, which is exact (no thresholds).
    Across ranks the rows are gathered first, so a group split between ranks
    is scored as one group.

    Args:
        grouping_key: the column holding the group ids (for the caller).
    """

    def __init__(self, grouping_key: str = "") -> None:
        super().__init__()
        self.grouping_key = grouping_key
        self._chunks: list[tuple[Tensor, Tensor, Tensor]] = []

    def update(
        self,
        preds: Tensor,
        labels: Tensor,
        weights: Tensor | None = None,
        grouping_key: Tensor | None = None,
    ) -> None:
        if grouping_key is None:
            raise ValueError("GroupedAUC.update needs grouping_key (group ids)")
        self._chunks.append(
            (
                preds.detach().reshape(-1).to(_F64),
                labels.detach().reshape(-1).to(_F64),
                grouping_key.detach().reshape(-1).long().to(preds.device),
            )
        )

    def _rows(self) -> list[Tensor]:
        if not self._chunks:
            return [torch.zeros(0, dtype=d) for d in (_F64, _F64, torch.long)]
        return [torch.cat(parts) for parts in zip(*self._chunks)]

    def compute(self, sync: bool = True) -> Tensor:
        rows = self._rows()
        if sync and dist_active():
            rows = _all_gather_rows(rows)
        if rows[0].numel() == 0:
            return torch.tensor(float("nan"))
        auc, valid = grouped_auc_per_group(*rows)
        return auc[valid].mean().float()

    def reset(self) -> None:
        self._chunks = []

    def state_dict(self) -> dict[str, Tensor]:
        preds, labels, groups = self._rows()
        return {"preds": preds, "labels": labels, "groups": groups}

    def load_state_dict(self, state: dict[str, Tensor]) -> None:
        self._chunks = [(state["preds"], state["labels"], state["groups"])]


def _all_gather_rows(rows: list[Tensor]) -> list[Tensor]:
    """Concatenates each rank's rows on every rank (sizes differ per rank)."""
    world = dist.get_world_size()
    n = torch.tensor([rows[0].numel()], device=rows[0].device)
    sizes = [torch.zeros_like(n) for _ in range(world)]
    dist.all_gather(sizes, n)
    sizes = [int(s) for s in sizes]
    longest = max(sizes)
    out = []
    for t in rows:
        padded = torch.zeros(longest, dtype=t.dtype, device=t.device)
        padded[: t.numel()] = t
        parts = [torch.empty_like(padded) for _ in range(world)]
        dist.all_gather(parts, padded)
        out.append(torch.cat([part[:size] for part, size in zip(parts, sizes)]))
    return out
