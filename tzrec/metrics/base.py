"""The base of tzrec's metrics: torchmetrics Metrics fed one routed batch.

Every tzrec metric is a :class:`torchmetrics.Metric`: its state lives on the
device, ``update`` only launches device ops (no host read), and ``compute``
first syncs the state over the default process group (the one
:func:`tzrec.utils.dist.init_distributed` creates: gloo on CPU, nccl on CUDA),
so every rank must call it at the same point. Positives are rows with
``label >= 0.5``.
"""

from __future__ import annotations

from typing import Any

import torch
import torch.distributed as dist
from torch import Tensor
from torchmetrics import Metric

F64 = torch.float64


def dist_active() -> bool:
    """True inside a process group of more than one rank."""
    return dist.is_available() and dist.is_initialized() and dist.get_world_size() > 1


def weights_or_ones(like: Tensor, weights: Tensor | None) -> Tensor:
    """Per-row float64 weights, ones when ``weights`` is None."""
    if weights is None:
        return torch.ones(like.numel(), dtype=F64, device=like.device)
    return weights.detach().reshape(-1).to(F64)


class TzrecMetric(Metric):
    """A torchmetrics Metric fed ``(preds, target, weights, grouping_key)``.

    The routing code (:mod:`tzrec.metrics.feed`) gives a ``TzrecMetric`` the
    task's sample weights and grouping column too; any other torchmetrics
    metric (a user's, see :mod:`tzrec.metrics.registry`) gets
    ``update(preds, target)``.

    List states (rows kept until ``compute``) are declared with
    :meth:`add_row_state` so a rank that saw no rows still joins the
    all-gather with an empty tensor of the right dtype (torchmetrics would
    use the metric's float dtype, which breaks integer group ids).
    """

    full_state_update = False

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._row_dtypes: dict[str, torch.dtype] = {}

    def add_row_state(self, name: str, dtype: torch.dtype) -> None:
        """A list of 1-d tensors concatenated across ranks on sync."""
        self.add_state(name, default=[], dist_reduce_fx="cat", persistent=True)
        self._row_dtypes[name] = dtype

    def add_sum_state(self, name: str, default: Tensor) -> None:
        """A tensor state summed across ranks on sync (saved in state_dict)."""
        self.add_state(name, default=default, dist_reduce_fx="sum", persistent=True)

    def rows(self, name: str) -> Tensor:
        """The concatenated rows of a row state (synced or local)."""
        value = getattr(self, name)
        if isinstance(value, Tensor):
            return value
        if not value:
            return torch.zeros(0, dtype=self._row_dtypes[name], device=self.device)
        return torch.cat(value)

    def _sync_dist(self, dist_sync_fn: Any = None, process_group: Any = None) -> None:
        # torchmetrics syncs in any initialised group; tzrec always has one,
        # and alone its gather would cost a barrier and a size read per state.
        if not dist_active():
            return
        for name, dtype in self._row_dtypes.items():
            if not getattr(self, name):
                setattr(self, name, [torch.zeros(0, dtype=dtype, device=self.device)])
        kwargs = {"process_group": process_group}
        if dist_sync_fn is not None:
            kwargs["dist_sync_fn"] = dist_sync_fn
        super()._sync_dist(**kwargs)

    def update(
        self,
        preds: Tensor,
        target: Tensor,
        weights: Tensor | None = None,
        grouping_key: Tensor | None = None,
    ) -> None:
        """Adds a batch: predictions, labels, optional weights and group ids."""
        raise NotImplementedError

    def follow(self, device: torch.device) -> None:
        """Moves the state to ``device`` (once, at the first batch there)."""
        if self.device != device:
            self.to(device)


class SumMetric(TzrecMetric):
    """A metric whose state is a float64 vector of sums, updated with one add.

    Subclasses give the batch's sums (``batch_sums``) and the value from the
    summed vector (``value``); the sum is exact across ranks.

    Args:
        size: length of the sums vector.
    """

    sums: Tensor

    def __init__(self, size: int, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.add_sum_state("sums", torch.zeros(size, dtype=F64))

    def batch_sums(self, preds: Tensor, labels: Tensor, w: Tensor) -> list[Tensor]:
        """The batch's contribution to each sum (0-d tensors)."""
        raise NotImplementedError

    def value(self, sums: Tensor) -> Tensor:
        """The metric from the sums: by default ``sums[0] / sums[1]``."""
        return sums[0] / sums[1]

    def update(
        self,
        preds: Tensor,
        target: Tensor,
        weights: Tensor | None = None,
        grouping_key: Tensor | None = None,
    ) -> None:
        labels = target.detach().reshape(-1).to(F64)
        # [B, C] class scores stay 2-D (top-k metrics); all else is per row.
        rows = preds.dim() == 2 and preds.shape[1] > 1
        preds = preds.detach().to(F64)
        preds = preds.reshape(labels.numel(), -1) if rows else preds.reshape(-1)
        self.follow(preds.device)
        sums = self.batch_sums(preds, labels, weights_or_ones(labels, weights))
        self.sums.add_(torch.stack(sums))

    def compute(self) -> Tensor:
        """The metric as a 0-d float32 tensor (NaN when undefined)."""
        return self.value(self.sums).float()


def update_metric(
    metric: Metric,
    preds: Tensor,
    target: Tensor,
    weights: Tensor | None = None,
    grouping_key: Tensor | None = None,
    target_kind: str = "value",
) -> None:
    """Feeds one batch to any torchmetrics metric (no host sync of tzrec's).

    A :class:`TzrecMetric` also gets the weights and group ids; any other
    metric gets ``update(preds, target)``, moved to the batch's device first,
    with the label as it is (``target_kind`` ``value``: regression) or as an
    integer class (``binary``: ``label >= 0.5``; ``class``: the class id), as
    torchmetrics' classification metrics need.
    """
    if isinstance(metric, TzrecMetric):
        metric.update(preds, target, weights, grouping_key)
        return
    if metric.device != preds.device:
        metric.to(preds.device)
    if target_kind == "binary":
        target = (target >= 0.5).long()
    elif target_kind == "class":
        target = target.long()
    metric.update(preds, target)


def target_kind(pred_key: str, preds: Tensor) -> str:
    """How a metric fed ``preds[pred_key]`` reads its label (see update_metric)."""
    if not pred_key.startswith("probs"):
        return "value"
    return "class" if preds.dim() == 2 else "binary"
