"""What a checkpoint persists about the run besides weights and optimizer."""

from __future__ import annotations

import dataclasses
import math
from typing import Any


@dataclasses.dataclass
class TrainState:
    """Progress of a run.

    Attributes:
        step: optimizer steps completed.
        epoch: current epoch (0-based).
        batch_in_epoch: batches this rank consumed in the current epoch.
        best_step: best evaluated step so far (-1: none).
        best_value: its metric value (NaN: none).
        early_stop: the early stopper's state.
        train_metrics: the train metrics' state dicts.
        last_eval_step: step of the latest evaluation (-1: none).
        data_layout: what ``batch_in_epoch`` counts in (rows, batch size,
            ranks, workers, shuffle); a resume with another layout cannot
            continue the same row order (``TzrecDataset.layout``).
        event_time_watermark: the event time of the last timestamp-triggered
            save (``tzrec.train.save_cadence``; None: not seen yet).
    """

    step: int = 0
    epoch: int = 0
    batch_in_epoch: int = 0
    best_step: int = -1
    best_value: float = math.nan
    early_stop: dict[str, Any] = dataclasses.field(default_factory=dict)
    train_metrics: dict[str, Any] = dataclasses.field(default_factory=dict)
    last_eval_step: int = -1
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
