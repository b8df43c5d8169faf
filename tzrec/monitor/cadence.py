"""When to write: step and seconds throttles with an injected clock.

Tests pass a fake clock, so no test sleeps.
"""

from __future__ import annotations

import time
from collections.abc import Callable

Clock = Callable[[], float]


class EveryNSteps:
    """True on every ``n``-th step; a pure function of the step.

    Being independent of time, every rank answers the same for a step, so it
    can gate collectives (metric reductions) without a hang.

    Args:
        n: period in steps; 0 never fires.
    """

    def __init__(self, n: int) -> None:
        if n < 0:
            raise ValueError(f"n must be >= 0, got {n}")
        self.n = n

    def ready(self, step: int) -> bool:
        """True when ``step`` is a positive multiple of ``n``."""
        return self.n > 0 and step > 0 and step % self.n == 0


class Throttle:
    """Fires when both minimums have passed since it last fired.

    Like TorchEasyRec's progress logger (``miniters`` and ``mininterval``): at
    least ``every_steps`` steps AND at least ``every_secs`` seconds since the
    last time :meth:`ready` returned True (or since :meth:`reset`). Slow steps
    are thus limited by steps, fast steps by seconds. It reads the clock, so
    its answer differs between ranks: use it for rank-0 output only.

    Args:
        every_steps: minimum steps between firings (0 or 1: any step).
        every_secs: minimum seconds between firings (0: no limit).
        clock: returns seconds; ``time.monotonic`` by default.
        start_step: the step counted as the last firing.
    """

    def __init__(
        self,
        every_steps: int,
        every_secs: float,
        clock: Clock = time.monotonic,
        start_step: int = 0,
    ) -> None:
        if every_steps < 0 or every_secs < 0:
            raise ValueError(
                f"throttle minimums must be >= 0, got {every_steps}, {every_secs}"
            )
        self.every_steps = every_steps
        self.every_secs = every_secs
        self._clock = clock
        self.last_step = start_step
        self.last_time = clock()

    def reset(self, step: int) -> None:
        """Counts ``step`` and now as the last firing."""
        self.last_step = step
        self.last_time = self._clock()

    def ready(self, step: int) -> bool:
        """True, and recorded as a firing, when both minimums have passed."""
        if step - self.last_step < self.every_steps:
            return False
        now = self._clock()
        if now - self.last_time < self.every_secs:
            return False
        self.last_step = step
        self.last_time = now
        return True
