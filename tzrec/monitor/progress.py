"""The console progress line, throttled by seconds and steps.

A line reads::

    [train] step 1200/5000 (24.0%) epoch 1 | 43.1 it/s 176.5k samples/s |
    ETA 1m28s | lr_g0=0.001 loss_bce=0.4512 total_loss=0.4512 auc=0.7712

(one line in the log). Rates are measured over the interval since the previous
line; the ETA uses the rate over the last few lines, so the slow first steps
(warm-up, lazy initialisation) stop weighing on it once later lines exist.
"""

from __future__ import annotations

import logging
import math
import time
from collections import deque
from collections.abc import Callable, Mapping

from tzrec.monitor.cadence import Clock, Throttle

_logger = logging.getLogger("tzrec")


def format_duration(seconds: float) -> str:
    """Short human duration: ``42s``, ``1m28s``, ``2h03m``, ``1d02h``."""
    s = max(0, int(round(seconds)))
    if s < 60:
        return f"{s}s"
    if s < 3600:
        return f"{s // 60}m{s % 60:02d}s"
    if s < 86400:
        return f"{s // 3600}h{s % 3600 // 60:02d}m"
    return f"{s // 86400}d{s % 86400 // 3600:02d}h"


def format_count(x: float) -> str:
    """Short human count: ``512``, ``176.5k``, ``1.23M``."""
    if x < 1e3:
        return f"{x:.0f}"
    if x < 1e6:
        return f"{x / 1e3:.1f}k"
    if x < 1e9:
        return f"{x / 1e6:.2f}M"
    return f"{x / 1e9:.2f}G"


def format_value(x: float) -> str:
    """A logged value with 4 significant digits: ``0.001``, ``0.4512``."""
    return f"{x:.4g}"


class ProgressLogger:
    """Writes a throttled progress line for a train or eval loop.

    The first line offered is always written (the user sees the run is
    alive); later ones only when both ``miniters`` steps and ``mininterval``
    seconds have passed since the previous line.

    Args:
        desc: tag in brackets at the start of the line, e.g. ``train``.
        total: total steps if known (adds percent and ETA).
        batch_size: rows per step per rank.
        world_size: ranks; samples/s counts all of them.
        mininterval: minimum seconds between lines.
        miniters: minimum steps between lines.
        clock: seconds source (fake in tests).
        log: called with each line; the ``tzrec`` logger's info by default.
        start_step: the step the loop starts from (resume).
        eta_window: how many recent lines the ETA rate spans.
    """

    def __init__(
        self,
        desc: str,
        total: int | None,
        batch_size: int,
        world_size: int = 1,
        mininterval: float = 1.0,
        miniters: int = 1,
        clock: Clock = time.monotonic,
        log: Callable[[str], None] | None = None,
        start_step: int = 0,
        eta_window: int = 10,
    ) -> None:
        self.desc = desc
        self.total = total
        self.samples_per_step = batch_size * world_size
        self._clock = clock
        self._log = log or _logger.info
        self._throttle = Throttle(miniters, mininterval, clock, start_step)
        self._recent: deque[tuple[float, int]] = deque(maxlen=max(2, eta_window))
        self._any_line = False

    def start(self, step: int) -> None:
        """Re-anchors rates at ``step`` and now (call when the loop begins)."""
        self._throttle.reset(step)
        self._recent.clear()
        self._any_line = False

    def exclude(self, seconds: float) -> None:
        """Leaves ``seconds`` spent outside the loop (eval, saving) out of rates."""
        now = self._clock()
        self._throttle.last_time = min(self._throttle.last_time + seconds, now)
        self._recent = deque(
            ((min(t + seconds, now), s) for t, s in self._recent),
            maxlen=self._recent.maxlen,
        )

    def maybe_log(
        self,
        step: int,
        epoch: int | None = None,
        fields: Mapping[str, float] | None = None,
        force: bool = False,
    ) -> str | None:
        """Writes the line if the throttle allows or ``force``; returns it or None."""
        if force and self._any_line and step > self._throttle.last_step:
            last_time, last_step = self._recent[-1]
            self._throttle.reset(step)
            return self._emit(step, epoch, fields or {}, last_step, last_time)
        if self._any_line and not self._throttle.ready(step):
            return None
        if not self._any_line:
            last_step, last_time = self._throttle.last_step, self._throttle.last_time
            self._throttle.reset(step)
        else:
            # ready() recorded this firing; the previous one is in _recent.
            last_time, last_step = self._recent[-1]
        return self._emit(step, epoch, fields or {}, last_step, last_time)

    def _emit(
        self,
        step: int,
        epoch: int | None,
        fields: Mapping[str, float],
        last_step: int,
        last_time: float,
    ) -> str:
        now = self._throttle.last_time
        rate = _rate(step - last_step, now - last_time)
        eta_rate = rate
        if self._recent:
            t0, s0 = self._recent[0]
            eta_rate = _rate(step - s0, now - t0)
        self._recent.append((now, step))
        self._any_line = True
        line = self.format_line(step, epoch, rate, eta_rate, fields)
        self._log(line)
        return line

    def format_line(
        self,
        step: int,
        epoch: int | None,
        rate: float | None,
        eta_rate: float | None,
        fields: Mapping[str, float],
    ) -> str:
        """Formats one line (public so the README example stays honest)."""
        head = f"[{self.desc}] step {step}"
        if self.total:
            head += f"/{self.total} ({100.0 * step / self.total:.1f}%)"
        if epoch is not None:
            head += f" epoch {epoch}"
        parts = [head]
        if rate is None:
            parts.append("- it/s")
        else:
            samples = format_count(rate * self.samples_per_step)
            parts.append(f"{rate:.1f} it/s {samples} samples/s")
        if self.total and eta_rate:
            parts.append(f"ETA {format_duration((self.total - step) / eta_rate)}")
        if fields:
            parts.append(" ".join(f"{k}={format_value(v)}" for k, v in fields.items()))
        return " | ".join(parts)


def _rate(steps: int, seconds: float) -> float | None:
    if seconds <= 0 or steps <= 0 or not math.isfinite(seconds):
        return None
    return steps / seconds
