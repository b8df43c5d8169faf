"""The best evaluation so far by one metric: the one ranking rule of tzrec.

Used for the best checkpoint (export, pruning, ``runs show``), the
TensorBoard best-so-far and early stopping. Rules:

* only a finite number counts: NaN, inf, None (``null`` in the eval log), a
  bool or a missing metric never become the best;
* an improvement must beat the best by more than ``min_delta`` (0: strictly
  better), so on a tie the earlier step stays the best;
* when one step is evaluated again, its last value counts (the ranking is
  redone over the steps in order, from values kept in memory).

The eval log is the source of truth: build one with :meth:`BestSoFar.from_eval_log`
(at start or on resume) and feed it each new evaluation with
:meth:`BestSoFar.update`; :class:`EvalLogBest` follows a log that another
part of the run appends to, reading each line once.
"""

from __future__ import annotations

import math
from collections.abc import Collection, Iterable, Mapping
from typing import Any

from tzrec.run_dir.eval_log import EvalLogTail, read_records

# Record keys that are not metrics.
NON_METRIC_KEYS = frozenset({"global_step", "epoch", "wall_time", "samples"})


def finite_or_none(value: Any) -> float | None:
    """``value`` as a finite float, or None when it cannot rank (ranks worst)."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    value = float(value)
    return value if math.isfinite(value) else None


class BestSoFar:
    """The best evaluated step and value of one metric.

    Args:
        metric: eval-log key to rank by, e.g. ``auc``.
        higher_is_better: ranking direction (``metric_larger_is_better``,
            ``EarlyStopping.larger_is_better``).
        min_delta: how much a value must beat the best by to count as an
            improvement (``EarlyStopping.min_delta``); 0 means strictly better.

    Attributes:
        step: the best step, or None before any finite value.
        value: its value, or None.
        record: every metric of the best evaluation (``global_step``,
            ``epoch``, ``wall_time``, ``samples`` left out).

    """

    def __init__(
        self, metric: str, higher_is_better: bool = True, min_delta: float = 0.0
    ) -> None:
        self.metric = metric
        self.higher_is_better = higher_is_better
        self.min_delta = min_delta
        self.step: int | None = None
        self.value: float | None = None
        self.record: dict[str, Any] = {}
        # Every step's last value and record: a repeated step re-ranks them.
        self._values: dict[int, float | None] = {}
        self._records: dict[int, dict[str, Any]] = {}
        self._last_step: int | None = None

    @property
    def larger_is_better(self) -> bool:
        """``higher_is_better`` under the config's name for it."""
        return self.higher_is_better

    def beats(self, value: Any) -> bool:
        """Whether ``value`` would improve on the best (by more than min_delta)."""
        score = finite_or_none(value)
        if score is None:
            return False
        if self.value is None:
            return True
        if self.higher_is_better:
            return score > self.value + self.min_delta
        return score < self.value - self.min_delta

    def update(
        self, step: int, value: Any, record: Mapping[str, Any] | None = None
    ) -> bool:
        """Takes one evaluation; returns whether it is now the (new) best.

        Args:
            step: the evaluated step.
            value: the metric's value (anything non-finite never wins).
            record: all metrics of that evaluation, kept with the best.

        """
        kept = {k: v for k, v in (record or {}).items() if k not in NON_METRIC_KEYS}
        again = self._last_step is not None and step <= self._last_step
        self._last_step = (
            step if self._last_step is None else max(step, self._last_step)
        )
        self._values[step] = finite_or_none(value)
        self._records[step] = kept
        if again:
            before = (self.step, self.value)
            self._rerank()
            return self.step == step and (self.step, self.value) != before
        if not self.beats(value):
            return False
        self.step, self.value, self.record = step, finite_or_none(value), kept
        return True

    def update_record(self, record: Mapping[str, Any]) -> bool:
        """:meth:`update` from one eval-log record (``global_step`` and metrics)."""
        return self.update(record["global_step"], record.get(self.metric), record)

    def _rerank(self) -> None:
        self.step, self.value, self.record = None, None, {}
        for step in sorted(self._values):
            value = self._values[step]
            if self.beats(value):
                self.step, self.value, self.record = step, value, self._records[step]

    @classmethod
    def from_records(
        cls,
        metric: str,
        higher_is_better: bool,
        records: Iterable[Mapping[str, Any]],
        min_delta: float = 0.0,
        up_to_step: int | None = None,
        steps: Collection[int] | None = None,
    ) -> BestSoFar:
        """The best over eval-log records.

        Args:
            metric: see the class.
            higher_is_better: see the class.
            records: eval-log records, in file order.
            min_delta: see the class.
            up_to_step: when given, later steps are left out (resume from it).
            steps: when given, only these steps qualify (complete checkpoints).

        """
        best = cls(metric, higher_is_better, min_delta)
        for rec in records:
            step = rec["global_step"]
            if up_to_step is not None and step > up_to_step:
                continue
            if steps is not None and step not in steps:
                continue
            best.update_record(rec)
        return best

    @classmethod
    def from_eval_log(
        cls,
        path: str,
        metric: str,
        higher_is_better: bool,
        min_delta: float = 0.0,
        up_to_step: int | None = None,
        steps: Collection[int] | None = None,
    ) -> BestSoFar:
        """The best in the eval log at ``path``; torn lines skipped with a warning.

        See :meth:`from_records` for the arguments; a missing log has no best.
        """
        return cls.from_records(
            metric, higher_is_better, read_records(path), min_delta, up_to_step, steps
        )


class EvalLogBest:
    """The best so far of an eval log that grows (pruning during training).

    Each :meth:`refresh` reads only the lines appended since the previous one;
    a log that was rewritten (resume truncates it) is read again from the
    start.

    Args:
        path: the eval log.
        metric: see :class:`BestSoFar`.
        higher_is_better: see :class:`BestSoFar`.
    """

    def __init__(self, path: str, metric: str, higher_is_better: bool) -> None:
        self.metric = metric
        self.higher_is_better = higher_is_better
        self._tail = EvalLogTail(path)
        self.best = BestSoFar(metric, higher_is_better)

    def refresh(self) -> BestSoFar:
        """Takes the new evaluations in; returns the best so far."""
        records, restarted = self._tail.read_new()
        if restarted:
            self.best = BestSoFar(self.metric, self.higher_is_better)
        for rec in records:
            self.best.update_record(rec)
        return self.best

    def best_step(self) -> int | None:
        """The best step so far (refreshed), or None; a ``best_fn`` for pruning."""
        return self.refresh().step
