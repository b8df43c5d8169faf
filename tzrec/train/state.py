"""What a checkpoint saves and a resume restores: one registry of stateful parts.

The story of a resume, part by part:

* **model** and **optimizer**: tensors through torch.distributed.checkpoint
  (``model/``, ``optimizer/``), resharded when the world size changed;
  written and read by :class:`tzrec.checkpoint.manager.CheckpointManager`.
* **RNG**: every rank's Python, numpy, torch and CUDA generators
  (``rng/rank-R.pt``), restored only at the same world size.
* **progress** (:class:`TrainState`) and every registered part (train
  metrics' decayed state): one plain dict in ``train_state.pt``, progress
  keys at the top, each part under its name.
* **best step and early stopping**: not saved. The eval log is the record
  of evaluations (a checkpoint is written before its evaluation), so they
  are rebuilt from it up to the restored step.

Older checkpoints also held ``best_step``, ``best_value``, ``early_stop``
and ``last_eval_step``: nothing read them, so they are no longer written and
are ignored when found.
"""

from __future__ import annotations

import dataclasses
from typing import Any, Protocol

from tzrec.checkpoint.state import restore_rng_state


@dataclasses.dataclass
class TrainState:
    """Progress of a run.

    Attributes:
        step: optimizer steps completed.
        epoch: current epoch (0-based).
        batch_in_epoch: batches this rank consumed in the current epoch.
        data_layout: what ``batch_in_epoch`` counts in (rows, batch size,
            ranks, workers, shuffle); a resume with another layout cannot
            continue the same row order (``TzrecDataset.layout``).
        event_time_watermark: the event time of the last timestamp-triggered
            save (``tzrec.train.save_cadence``; None: not seen yet).
    """

    step: int = 0
    epoch: int = 0
    batch_in_epoch: int = 0
    data_layout: dict[str, Any] = dataclasses.field(default_factory=dict)
    event_time_watermark: float | None = None

    def to_dict(self) -> dict[str, Any]:
        """A weights_only-loadable dict."""
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> TrainState:
        """Inverse of :meth:`to_dict`, ignoring keys it does not know."""
        names = {f.name for f in dataclasses.fields(cls)}
        return cls(**{k: v for k, v in d.items() if k in names})


class Stateful(Protocol):
    """A part with plain (weights_only-loadable) state."""

    def state_dict(self) -> dict[str, Any]:
        """The part's state: tensors, numbers, strings, lists and dicts."""
        ...

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Restores :meth:`state_dict` output."""
        ...


class MetricSetState:
    """A name -> metric dict as one stateful part.

    A metric absent from a checkpoint (added to the config since) keeps its
    fresh state.
    """

    def __init__(self, metrics: dict[str, Any]) -> None:
        self.metrics = metrics

    def state_dict(self) -> dict[str, Any]:
        """Each metric's state dict, by name."""
        return {name: m.state_dict() for name, m in self.metrics.items()}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Restores the metrics the checkpoint has."""
        for name, m in self.metrics.items():
            if name in state:
                m.load_state_dict(state[name])


class CheckpointedState:
    """The run's progress and its registered stateful parts, as saved.

    Loading updates ``progress`` in place, so a reference to it stays valid.

    Args:
        progress: the run's :class:`TrainState`, mutated by the trainer.
    """

    def __init__(self, progress: TrainState | None = None) -> None:
        self.progress = progress if progress is not None else TrainState()
        self._parts: dict[str, Stateful] = {}

    def register(self, name: str, part: Stateful) -> None:
        """Adds a part saved under ``name`` (not a :class:`TrainState` field)."""
        reserved = {f.name for f in dataclasses.fields(TrainState)} | {"rng"}
        if name in reserved or name in self._parts:
            raise ValueError(f"checkpointed state name {name!r} is taken")
        self._parts[name] = part

    def state_dict(self) -> dict[str, Any]:
        """What ``train_state.pt`` holds: progress keys and one entry per part."""
        out = self.progress.to_dict()
        for name, part in self._parts.items():
            out[name] = part.state_dict()
        return out

    def load_state_dict(self, saved: dict[str, Any]) -> None:
        """Restores progress, every part present and this rank's RNG.

        Args:
            saved: :meth:`CheckpointManager.restore` output; its ``"rng"``
                entry (present only at the saving world size) sets the RNGs.
        """
        loaded = TrainState.from_dict(saved.get("train_state", saved))
        for field in dataclasses.fields(TrainState):  # in place: callers hold it
            setattr(self.progress, field.name, getattr(loaded, field.name))
        for name, part in self._parts.items():
            if name in saved:
                part.load_state_dict(saved[name])
        if "rng" in saved:
            restore_rng_state(saved["rng"])
