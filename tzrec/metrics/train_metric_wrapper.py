"""Train metrics as exponentially decayed values over recent windows."""

from __future__ import annotations

import torch
import torch.distributed as dist
from torch import Tensor

from tzrec.metrics.decay_auc import DecayAUC
from tzrec.metrics.eval_metrics import Metric, dist_active


class TrainMetricWrapper:
    """Feeds batches to a metric and keeps a decayed value of its windows.

    Every ``decay_step`` updates the window metric's value is folded in::

        value = rate * value + (1 - rate) * window   once initialised
        value = window                               the first time

    and the window is reset. "Initialised" is an explicit flag, so a metric
    whose true value is 0 keeps decaying from 0 rather than restarting (in
    TorchEasyRec a value of 0 meant "not started"). A window whose value is
    NaN (e.g. no rows) leaves the value alone. A :class:`DecayAUC` decays its
    counts instead (``DecayAUC.decay``), which is exact for AUC.

    The update counter is a Python int and the fold is device arithmetic, so
    ``update`` never reads from the device. ``compute`` averages the value
    over ranks (a collective when distributed: call it on every rank).

    Args:
        metric: the per-window metric.
        decay_rate: weight of the old value, in [0, 1) (config validation
            checks ``train_metrics``' values).
        decay_step: updates per window, at least 1.
    """

    def __init__(
        self,
        metric: Metric,
        decay_rate: float = 0.90,
        decay_step: int = 100,
    ) -> None:
        self.metric = metric
        self.decay_rate = float(decay_rate)
        self.decay_step = int(decay_step)
        self.updates = 0
        self._value = torch.tensor(float("nan"), dtype=torch.float64)
        self._initialised = torch.tensor(False)

    def update(
        self,
        preds: Tensor,
        labels: Tensor,
        weights: Tensor | None = None,
        grouping_key: Tensor | None = None,
    ) -> None:
        """Adds a batch; folds the window every ``decay_step`` updates."""
        self.metric.update(preds, labels, weights, grouping_key)
        if self._value.device != preds.device:
            self._value = self._value.to(preds.device)
            self._initialised = self._initialised.to(preds.device)
        self.updates += 1
        if self.updates % self.decay_step == 0:
            self._fold()

    def _fold(self) -> None:
        if isinstance(self.metric, DecayAUC):
            self.metric.decay(self.decay_rate)
            return
        window = self.metric.compute(sync=False).to(torch.float64)
        self.metric.reset()
        value, init = self._value, self._initialised
        folded = self.decay_rate * value + (1 - self.decay_rate) * window
        ok = torch.isfinite(window)
        self._value = torch.where(ok, torch.where(init, folded, window), value)
        self._initialised = init | ok

    def compute(self) -> Tensor:
        """The decayed value (float32 0-d), NaN until initialised.

        Distributed: DecayAUC sums its counts over ranks (exact); other
        metrics average the initialised ranks' values (exact for equal
        batch sizes per rank).
        """
        if isinstance(self.metric, DecayAUC):
            return self.metric.compute()
        value, init = self._value, self._initialised
        if dist_active():
            both = torch.stack([torch.where(init, value, 0.0), init.double()])
            dist.all_reduce(both)
            return (both[0] / both[1]).float()
        return torch.where(init, value, float("nan")).float()

    @property
    def initialised(self) -> bool:
        """Whether a value exists yet (reads the device: not for the hot path)."""
        if isinstance(self.metric, DecayAUC):
            return bool(self.metric.initialised())
        return bool(self._initialised)

    def reset(self) -> None:
        """Forgets everything: window, value, flag and counter."""
        self.metric.reset()
        self.updates = 0
        self._value = torch.tensor(float("nan"), dtype=torch.float64)
        self._initialised = torch.tensor(False)

    def state_dict(self) -> dict[str, Tensor | int]:
        """Window state, decayed value, flag and update counter."""
        state: dict[str, Tensor | int] = {
            f"metric.{k}": v for k, v in self.metric.state_dict().items()
        }
        state["value"] = self._value.detach().clone()
        state["initialised"] = self._initialised.detach().clone()
        state["updates"] = self.updates
        return state

    def load_state_dict(self, state: dict[str, Tensor | int]) -> None:
        """Restores :meth:`state_dict` output."""
        self.metric.load_state_dict(
            {
                k[len("metric.") :]: v
                for k, v in state.items()
                if k.startswith("metric.")
            }
        )
        self._value = torch.as_tensor(state["value"], dtype=torch.float64)
        self._initialised = torch.as_tensor(state["initialised"], dtype=torch.bool)
        self.updates = int(state["updates"])
