"""Best-so-far tracking and early stopping over successive evaluations.

NaN (or a missing metric) is never an improvement, so a diverged evaluation
cannot become the best one.
"""

from __future__ import annotations

import math
from typing import Any


def is_better(
    value: float | None, best: float | None, larger: bool, min_delta: float = 0.0
) -> bool:
    """Whether ``value`` beats ``best`` by more than ``min_delta``."""
    if value is None or math.isnan(value):
        return False
    if best is None or math.isnan(best):
        return True
    return value > best + min_delta if larger else value < best - min_delta


class BestTracker:
    """The best evaluated step by one metric (the export metric)."""

    def __init__(self, metric: str, larger_is_better: bool) -> None:
        self.metric = metric
        self.larger = larger_is_better
        self.step = -1
        self.value = math.nan

    def update(self, step: int, metrics: dict[str, Any]) -> bool:
        """Records an evaluation; returns True when it is the new best."""
        value = metrics.get(self.metric)
        value = None if value is None else float(value)
        if is_better(value, None if self.step < 0 else self.value, self.larger):
            self.step, self.value = step, float(value)
            return True
        return False


class EarlyStopper:
    """Stops after ``patience`` evaluations without an improvement.

    Args:
        metric: eval-log key to watch.
        larger_is_better: direction.
        patience: evaluations without improvement before stopping.
        min_delta: smallest change that counts as an improvement.
    """

    def __init__(
        self, metric: str, larger_is_better: bool, patience: int, min_delta: float
    ) -> None:
        self.metric = metric
        self.larger = larger_is_better
        self.patience = patience
        self.min_delta = min_delta
        self.best = math.nan
        self.best_step = -1
        self.bad_evals = 0
        self.reason: str | None = None

    def update(self, step: int, metrics: dict[str, Any]) -> str | None:
        """Records an evaluation; returns the stop reason once patience runs out."""
        raw = metrics.get(self.metric)
        value = None if raw is None else float(raw)
        if is_better(
            value,
            None if self.best_step < 0 else self.best,
            self.larger,
            self.min_delta,
        ):
            self.best, self.best_step, self.bad_evals = float(value), step, 0
            return None
        self.bad_evals += 1
        if self.bad_evals >= self.patience:
            self.reason = (
                f"early stop: {self.metric} did not improve by more than "
                f"{self.min_delta} for {self.bad_evals} evaluations "
                f"(best {self.best:.6g} at step {self.best_step})"
            )
        return self.reason
