"""Train metrics: any torchmetrics Metric, decayed over recent windows."""

from __future__ import annotations

from typing import Any

import torch
from torch import Tensor
from torchmetrics import Metric
from torchmetrics.utilities.distributed import gather_all_tensors

from tzrec.metrics.auc import DecayAUC
from tzrec.metrics.base import F64, dist_active, update_metric


class TrainMetricWrapper(Metric):
    """Feeds batches to a metric and keeps a decayed value of its windows.

    Every ``decay_step`` updates the window metric's value is folded in::

        value = rate * value + (1 - rate) * window   once initialised
        value = window                               the first time

    and the window is reset. "Initialised" is an explicit flag, so a metric
    whose true value is 0 keeps decaying from 0 rather than restarting (in
    TorchEasyRec a value of 0 meant "not started"). A window whose value is
    NaN (e.g. no rows) leaves the value alone. A :class:`DecayAUC` decays its
    counts instead (``DecayAUC.decay``), which is exact for AUC.

    The wrapped metric can be any :class:`torchmetrics.Metric` (a tzrec one
    or a user's): its window is scored on this rank alone. The update counter
    is a Python int and the fold is device arithmetic, so ``update`` reads
    nothing back unless the wrapped metric's own ``compute`` does (tzrec's
    metrics do not, except XAUC's pair sampling). ``compute`` syncs over the
    process group (a collective: call it on every rank): DecayAUC sums its
    counts (exact); other metrics average the initialised ranks' values
    (exact for equal batch sizes per rank).

    Args:
        metric: the per-window metric.
        decay_rate: weight of the old value, in [0, 1) (config validation
            checks ``train_metrics``' values).
        decay_step: updates per window, at least 1.
    """

    full_state_update = False
    value: Tensor  # the decayed value (0-d), 0 until initialised
    init: Tensor  # 0-d flag: 1 once a window has been folded in

    def __init__(
        self,
        metric: Metric,
        decay_rate: float = 0.90,
        decay_step: int = 100,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.metric = metric
        self.decay_rate = float(decay_rate)
        self.decay_step = int(decay_step)
        self.updates = 0
        metric.persistent(True)  # its window goes into checkpoints
        # A window is this rank's own; compute() below decides the reduction.
        # torchmetrics copies sync_on_compute into _to_sync at construction.
        metric.sync_on_compute = False
        metric._to_sync = False
        metric.compute_with_cache = False
        # Summed over ranks on sync: value where initialised (else 0) and
        # the initialised flag, so their ratio averages the initialised ranks.
        self.add_state(
            "value", default=torch.zeros((), dtype=F64), dist_reduce_fx="sum"
        )
        self.add_state("init", default=torch.zeros((), dtype=F64), dist_reduce_fx="sum")

    def _sync_dist(self, dist_sync_fn: Any = None, process_group: Any = None) -> None:
        if dist_active():  # alone there is nothing to sum (see TzrecMetric)
            super()._sync_dist(dist_sync_fn or gather_all_tensors, process_group)

    def update(
        self,
        preds: Tensor,
        target: Tensor,
        weights: Tensor | None = None,
        grouping_key: Tensor | None = None,
        target_kind: str = "value",
    ) -> None:
        """Adds a batch; folds the window every ``decay_step`` updates.

        ``target_kind``: see :func:`tzrec.metrics.base.update_metric`.
        """
        update_metric(self.metric, preds, target, weights, grouping_key, target_kind)
        if self.value.device != preds.device:
            self.value = self.value.to(preds.device)
            self.init = self.init.to(preds.device)
        self.updates += 1
        if self.updates % self.decay_step == 0:
            self._fold()

    def _fold(self) -> None:
        if isinstance(self.metric, DecayAUC):
            self.metric.decay(self.decay_rate)
            return
        window = torch.as_tensor(self.metric.compute()).to(self.value)
        self.metric.reset()
        started = self.init > 0
        folded = self.decay_rate * self.value + (1 - self.decay_rate) * window
        ok = torch.isfinite(window)
        self.value = torch.where(ok, torch.where(started, folded, window), self.value)
        self.init = (started | ok).to(F64)

    def compute(self) -> Tensor:
        """The decayed value (float32 0-d), NaN until initialised."""
        if isinstance(self.metric, DecayAUC):
            self.metric.sync(should_sync=True)
            try:
                return self.metric.compute()
            finally:
                self.metric.unsync(should_unsync=self.metric._is_synced)
        return torch.where(self.init > 0, self.value / self.init, float("nan")).float()

    @property
    def initialised(self) -> bool:
        """Whether a value exists yet (reads the device: not for the hot path)."""
        if isinstance(self.metric, DecayAUC):
            return bool(self.metric.initialised())
        return bool(self.init > 0)

    def reset(self) -> None:
        """Forgets everything: window, value, flag and counter."""
        super().reset()
        self.metric.reset()
        self.updates = 0

    def state_dict(  # type: ignore[override]
        self, *args: Any, **kwargs: Any
    ) -> dict[str, Any]:
        """Window state, decayed value, flag and update counter (plain tensors)."""
        state: dict[str, Any] = {}
        for k, v in self.metric.state_dict().items():
            if isinstance(v, list):  # row states: one tensor, empty if no rows
                v = torch.cat(v) if v else torch.zeros(0)
            state[f"metric.{k}"] = v.detach().clone()
        state["value"] = torch.where(self.init > 0, self.value, float("nan"))
        state["initialised"] = (self.init > 0).clone()
        state["updates"] = self.updates
        return state

    def load_state_dict(  # type: ignore[override]
        self, state: dict[str, Any], strict: bool = True
    ) -> None:
        """Restores :meth:`state_dict` output."""
        device = self.value.device
        for k, v in state.items():
            if not k.startswith("metric."):
                continue
            name = k[len("metric.") :]
            current = getattr(self.metric, name)
            if isinstance(current, list):
                setattr(self.metric, name, [v.to(device)] if v.numel() else [])
            else:
                setattr(self.metric, name, v.to(device=device, dtype=current.dtype))
        init = torch.as_tensor(state["initialised"], dtype=torch.bool).to(device)
        value = torch.as_tensor(state["value"], dtype=F64).to(device)
        self.init = init.to(F64)
        self.value = torch.where(init, value, 0.0)
        self.updates = int(state["updates"])
