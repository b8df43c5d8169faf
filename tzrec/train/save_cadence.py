"""Checkpoints by consumed event time (TorchEasyRec's timestamp triggers).

``save_checkpoints_timestamp_interval`` and ``save_checkpoints_timestamps``
save when the *event time* of the data consumed so far (Unix-epoch seconds;
TorchEasyRec reads Kafka message timestamps, tzrec the column named by
``save_checkpoints_timestamp_field``) crosses a boundary:

* interval ``I``: a multiple of ``I`` seconds (aligned to the Unix epoch, not
  to training epochs) lies in ``(watermark, t]``;
* targets: an absolute time in the list lies in ``(watermark, t]``.

``t`` is agreed by all ranks: each rank's latest consumed event time (-1
before its first row), of which the largest value that a ``quorum``
fraction of the ranks has reached (quorum 1: the slowest rank; 0.5, the
default, is robust to one rank with an outlier timestamp). The first ``t``
seen only sets the watermark; each save moves it to ``t``; a checkpoint
keeps it so a resumed run neither repeats nor skips a boundary.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import torch

from tzrec.utils.errors import DataError

_NONE = -1.0


def quorum_time(times: Sequence[float], quorum: float) -> float:
    """The largest ``T`` that at least ``ceil(quorum * n)`` of ``times`` reach."""
    ordered = sorted(times)
    n = len(ordered)
    # The epsilon keeps 0.1 * 10 (1.0000000000000002) from asking for 2.
    k = max(1, min(n, math.ceil(quorum * n - 1e-9)))
    return ordered[n - k]


class EventTimeSaveCadence:
    """Decides, once per step and identically on every rank, whether to save.

    Args:
        interval_s: boundary spacing in seconds (0: no interval trigger).
        targets: absolute event times (Unix-epoch seconds).
        quorum: fraction of ranks, in (0, 1], that must reach a time.
        group: a CPU (gloo) process group over all ranks; None for one rank.
            ``due`` is a collective on it: every rank calls it every step.
    """

    def __init__(
        self,
        interval_s: int = 0,
        targets: Sequence[int] = (),
        quorum: float = 0.5,
        group: Any = None,
    ) -> None:
        self.interval_s = int(interval_s)
        self.targets = sorted(int(t) for t in targets)
        self.quorum = quorum
        self.group = group
        self.watermark: float | None = None
        self._local = _NONE

    @property
    def enabled(self) -> bool:
        """Whether a timestamp trigger is configured."""
        return self.interval_s > 0 or bool(self.targets)

    def due(self, step: int, event_time: float | None) -> bool:  # noqa: ARG002
        """Whether to save after ``step``, having consumed rows up to ``event_time``.

        Args:
            step: optimizer steps completed (for the caller's log; unused).
            event_time: the latest event time in this rank's batch (seconds),
                or None when the batch has none.

        Returns:
            True when the agreed event time crossed a boundary since the
            watermark (which then moves to it).
        """
        if not self.enabled:
            return False
        if event_time is not None and event_time > self._local:
            self._local = float(event_time)
        t = quorum_time(self._gather(self._local), self.quorum)
        if t < 0:  # too few ranks have seen a row with an event time
            return False
        if self.watermark is None:
            self.watermark = t
            return False
        if not self._crossed(self.watermark, t):
            return False
        self.watermark = t
        return True

    def _crossed(self, last: float, now: float) -> bool:
        if self.interval_s and now // self.interval_s > last // self.interval_s:
            return True
        return any(last < target <= now for target in self.targets)

    def _gather(self, local: float) -> list[float]:
        if self.group is None:
            return [local]
        size = torch.distributed.get_world_size(self.group)
        out = [torch.zeros(1, dtype=torch.float64) for _ in range(size)]
        mine = torch.tensor([local], dtype=torch.float64)
        torch.distributed.all_gather(out, mine, group=self.group)
        return [float(t.item()) for t in out]


def build_save_cadence(train_config: Any, world_size: int) -> EventTimeSaveCadence:
    """The cadence of ``train_config``'s timestamp triggers (collective to build).

    Every rank calls it (a gloo group is made when several ranks run and a
    trigger is set).
    """
    tc = train_config
    cadence = EventTimeSaveCadence(
        tc.save_checkpoints_timestamp_interval,
        list(tc.save_checkpoints_timestamps),
        tc.save_checkpoints_timestamp_quorum,
    )
    if cadence.enabled and world_size > 1 and torch.distributed.is_initialized():
        cadence.group = torch.distributed.new_group(backend="gloo")
    return cadence


def timestamp_fields(train_config: Any) -> list[str]:
    """The event-time column the train batches must carry (none when unused)."""
    tc = train_config
    used = tc.save_checkpoints_timestamp_interval > 0 or len(
        tc.save_checkpoints_timestamps
    )
    field = tc.save_checkpoints_timestamp_field
    return [field] if used and field else []


# Unix seconds stay below this until the year 5138; Kafka's milliseconds
# (1.7e12 today) and hashed text (up to 2**62) do not.
MAX_EVENT_TIME = 1e11


def batch_event_time(batch: Any, field: str) -> float | None:
    """The latest event time in a host batch (a max over B ints, no device sync).

    Raises:
        DataError: a value too large for Unix-epoch seconds (milliseconds, or
            a CSV column read as text).
    """
    values = batch.extras.get(field) if field else None
    if values is None or values.numel() == 0:
        return None
    latest = float(values.max())
    if latest > MAX_EVENT_TIME:
        raise DataError(
            f'event time {latest:.4g} in column "{field}" is not Unix-epoch seconds',
            "train_config.save_checkpoints_timestamp_field",
            "store integer seconds (divide milliseconds by 1000)",
        )
    return latest
