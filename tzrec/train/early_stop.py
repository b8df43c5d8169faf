"""Early stopping over successive evaluations.

Ranking is :class:`tzrec.run_dir.best.BestSoFar`'s, the one used for the
best checkpoint and TensorBoard: a NaN, inf or missing metric is never an
improvement, so a diverged evaluation cannot reset the patience.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from tzrec.run_dir.best import BestSoFar


class EarlyStopper:
    """Stops after ``patience`` evaluations without an improvement.

    Args:
        metric: eval-log key to watch.
        larger_is_better: direction.
        patience: evaluations without improvement before stopping.
        min_delta: smallest change that counts as an improvement.

    Attributes:
        best: the best evaluation so far, improvements by more than
            ``min_delta`` only.
        bad_evals: evaluations since the last improvement.
        reason: why to stop, once patience ran out (None before).
    """

    def __init__(
        self, metric: str, larger_is_better: bool, patience: int, min_delta: float
    ) -> None:
        self.metric = metric
        self.patience = patience
        self.best = BestSoFar(metric, larger_is_better, min_delta)
        self.bad_evals = 0
        self.reason: str | None = None

    def update(self, step: int, metrics: Mapping[str, Any]) -> str | None:
        """Records an evaluation; returns the stop reason once patience runs out."""
        if self.best.update(step, metrics.get(self.metric), metrics):
            self.bad_evals = 0
            return None
        self.bad_evals += 1
        if self.bad_evals >= self.patience:
            best = "none" if self.best.value is None else f"{self.best.value:.6g}"
            self.reason = (
                f"early stop: {self.metric} did not improve by more than "
                f"{self.best.min_delta} for {self.bad_evals} evaluations "
                f"(best {best} at step {self.best.step})"
            )
        return self.reason

    def replay(self, records: Iterable[Mapping[str, Any]]) -> None:
        """Feeds earlier evaluations (eval-log records, in order) after a resume."""
        for rec in records:
            self.update(rec["global_step"], rec)
