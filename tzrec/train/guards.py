"""Two reasons a run ends early: a stop signal and a non-finite loss."""

from __future__ import annotations

import logging
import signal
from typing import Any

import torch

_logger = logging.getLogger("tzrec")


class StopSignal:
    """SIGTERM/SIGINT set a reason; the trainer stops after the current step.

    Under several ranks the stop is agreed after every step (a one-int MAX
    all-reduce on a CPU gloo group, so no device sync): a signal that reaches
    one rank alone (a scheduler, a user's kill) stops every rank at the same
    step, instead of one rank saving while the others wait in a collective.

    Args:
        world_size: ranks in the job; above 1 (with a process group) the
            constructor is a collective (it makes the gloo group).
    """

    def __init__(self, world_size: int = 1) -> None:
        self.reason: str | None = None
        self._previous: dict[int, Any] = {}
        self._group = None
        if world_size > 1 and torch.distributed.is_initialized():
            self._group = torch.distributed.new_group(backend="gloo")

    def install(self) -> None:
        """Takes over SIGTERM and SIGINT (undone by :meth:`restore`)."""
        for sig in (signal.SIGTERM, signal.SIGINT):
            self._previous[sig] = signal.signal(sig, self._handle)

    def _handle(self, signum: int, frame: Any) -> None:  # noqa: ARG002
        if self.reason is not None and signum == signal.SIGINT:
            raise KeyboardInterrupt  # a second Ctrl-C stops without saving
        self.reason = f"signal {signal.Signals(signum).name}"
        _logger.warning(
            "[stop] %s: saving a checkpoint at the current step", self.reason
        )

    def agreed(self) -> str | None:
        """The stop reason of this rank or, agreed, of any other (all ranks call it)."""
        if self._group is None:
            return self.reason
        flag = torch.tensor([0 if self.reason is None else 1], dtype=torch.int32)
        torch.distributed.all_reduce(
            flag, op=torch.distributed.ReduceOp.MAX, group=self._group
        )
        if flag.item() and self.reason is None:
            self.reason = "a signal to another rank"
            _logger.warning(
                "[stop] %s: saving a checkpoint at the current step", self.reason
            )
        return self.reason

    def restore(self) -> None:
        """Puts the previous signal handlers back."""
        for sig, handler in self._previous.items():
            signal.signal(sig, handler)


class NonFiniteLoss:
    """Remembers the first step whose loss is NaN/inf, on the device.

    :meth:`track` costs a few device ops and no host read; :meth:`first_bad`
    reads one number, so the trainer asks only on log and save steps.

    Args:
        start_step: steps completed before the first tracked one.
    """

    def __init__(self, start_step: int = 0) -> None:
        self._start_step = start_step
        self._first_bad: torch.Tensor | None = None
        self._step: torch.Tensor | None = None

    def track(self, total_loss: torch.Tensor) -> None:
        """Counts one step; records it if its loss is the first non-finite one."""
        if self._first_bad is None or self._step is None:
            dev = total_loss.device
            self._first_bad = torch.full((), -1, dtype=torch.long, device=dev)
            self._step = torch.full((), self._start_step, dtype=torch.long, device=dev)
        self._step += 1
        newly_bad = (self._first_bad < 0) & ~torch.isfinite(total_loss)
        self._first_bad = torch.where(newly_bad, self._step, self._first_bad)

    def first_bad(self) -> int | None:
        """The first step with a non-finite loss, or None (a host read)."""
        if self._first_bad is None:
            return None
        bad = int(self._first_bad)
        return bad if bad >= 0 else None
