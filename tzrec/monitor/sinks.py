"""Where scalars, histograms and hyperparameters go.

A sink is anything with the five methods of :class:`Sink`. The monitor holds
one for train events and one for eval events; rank 0 gets TensorBoard (or
nothing when ``use_tensorboard`` is false), other ranks a :class:`NullSink`.
Tests use :class:`MemorySink` and assert on what was recorded.
"""

from __future__ import annotations

import dataclasses
import math
import os
from collections.abc import Mapping
from typing import Any, Protocol

import torch

from tzrec.monitor import keys


class Sink(Protocol):
    """The interface the monitor writes through."""

    def scalars(self, step: int, values: Mapping[str, float]) -> None:
        """Records scalar ``values`` (tag -> value) at ``step``."""

    def histogram(self, step: int, tag: str, values: torch.Tensor) -> None:
        """Records the distribution of ``values`` at ``step``."""

    def hparams(
        self, hparams: Mapping[str, Any], start_time: float, trial_id: str = ""
    ) -> None:
        """Records the run's hyperparameters and when it started (epoch s).

        ``trial_id`` names the run (its model_dir), so two runs with equal
        hyperparameters stay two rows.
        """

    def session_end(self, status: str, end_time: float) -> None:
        """Records how the run ended (``ok``, ``stopped``, ``failed``, ...)."""

    def text(self, step: int, tag: str, markdown: str) -> None:
        """Records a text (markdown) entry at ``step``."""

    def describe(self, descriptions: Mapping[str, str]) -> None:
        """Sets descriptions for tags written later (else :func:`keys.describe`)."""

    def layout(self, layout: Mapping[str, Mapping[str, list[Any]]]) -> None:
        """Records a custom-scalars layout (category -> chart -> tag regexes)."""

    def flush(self) -> None:
        """Makes everything recorded so far durable."""

    def close(self) -> None:
        """Flushes and releases the sink; calling it again does nothing."""


class NullSink:
    """Accepts everything and keeps nothing (non-zero ranks, TB off)."""

    def scalars(self, step: int, values: Mapping[str, float]) -> None:
        pass

    def histogram(self, step: int, tag: str, values: torch.Tensor) -> None:
        pass

    def hparams(
        self, hparams: Mapping[str, Any], start_time: float, trial_id: str = ""
    ) -> None:
        pass

    def session_end(self, status: str, end_time: float) -> None:
        pass

    def text(self, step: int, tag: str, markdown: str) -> None:
        pass

    def describe(self, descriptions: Mapping[str, str]) -> None:
        pass

    def layout(self, layout: Mapping[str, Mapping[str, list[Any]]]) -> None:
        pass

    def flush(self) -> None:
        pass

    def close(self) -> None:
        pass


@dataclasses.dataclass
class MemorySink:
    """Records every call, for tests.

    Attributes:
        scalar_log: ``(step, tag, value)`` in call order.
        histogram_log: ``(step, tag, values)`` with values copied to CPU.
        hparams_log: ``(hparams, start_time, trial_id)``.
        session_ends: ``(status, end_time)``.
        texts: ``(step, tag, markdown)``.
        descriptions: tag -> description set through :meth:`describe`.
        layouts: custom-scalars layouts, in call order.
        flushes: number of flush calls.
        closed: whether close was called.
    """

    scalar_log: list[tuple[int, str, float]] = dataclasses.field(default_factory=list)
    histogram_log: list[tuple[int, str, torch.Tensor]] = dataclasses.field(
        default_factory=list
    )
    hparams_log: list[tuple[dict, float, str]] = dataclasses.field(default_factory=list)
    session_ends: list[tuple[str, float]] = dataclasses.field(default_factory=list)
    texts: list[tuple[int, str, str]] = dataclasses.field(default_factory=list)
    descriptions: dict[str, str] = dataclasses.field(default_factory=dict)
    layouts: list[dict] = dataclasses.field(default_factory=list)
    flushes: int = 0
    closed: bool = False

    def scalars(self, step: int, values: Mapping[str, float]) -> None:
        self.scalar_log.extend((step, k, float(v)) for k, v in values.items())

    def histogram(self, step: int, tag: str, values: torch.Tensor) -> None:
        self.histogram_log.append((step, tag, values.detach().cpu().clone()))

    def hparams(
        self, hparams: Mapping[str, Any], start_time: float, trial_id: str = ""
    ) -> None:
        self.hparams_log.append((dict(hparams), start_time, trial_id))

    def session_end(self, status: str, end_time: float) -> None:
        self.session_ends.append((status, end_time))

    def text(self, step: int, tag: str, markdown: str) -> None:
        self.texts.append((step, tag, markdown))

    def describe(self, descriptions: Mapping[str, str]) -> None:
        self.descriptions.update(descriptions)

    def layout(self, layout: Mapping[str, Mapping[str, list[Any]]]) -> None:
        self.layouts.append({k: dict(v) for k, v in layout.items()})

    def flush(self) -> None:
        self.flushes += 1

    def close(self) -> None:
        self.closed = True

    def steps(self, tag: str) -> list[int]:
        """Steps at which ``tag`` was recorded."""
        return [s for s, t, _ in self.scalar_log if t == tag]

    def values(self, tag: str) -> list[float]:
        """Values recorded for ``tag``, in order."""
        return [v for _, t, v in self.scalar_log if t == tag]

    def tags(self) -> set[str]:
        """Every scalar tag recorded."""
        return {t for _, t, _ in self.scalar_log}


_STATUS = {"ok": "STATUS_SUCCESS", "stopped": "STATUS_SUCCESS"}
_STATUS.update(failed="STATUS_FAILURE")


class TensorBoardSink:
    """Writes TensorBoard event files into one folder (one TensorBoard run).

    Every scalar tag carries a description in its summary metadata, written
    with the tag's first value in this writer (TensorBoard reads metadata
    from the first event of a tag).

    Args:
        log_dir: the folder; created if missing.
        purge_step: on resume, the first step the new run writes; events at
            or after it left by the interrupted run are hidden, so curves do
            not double back.
        flush_secs: how often the writer flushes by itself.
        eval_run: whether the folder holds eval values (descriptions say so).
    """

    def __init__(
        self,
        log_dir: str,
        purge_step: int | None = None,
        flush_secs: int = 30,
        eval_run: bool = False,
    ) -> None:
        from torch.utils.tensorboard import SummaryWriter

        os.makedirs(log_dir, exist_ok=True)
        self.log_dir = log_dir
        self.eval_run = eval_run
        self._descriptions: dict[str, str] = {}
        self._described: set[str] = set()
        # A deep queue: with the default (10) a log step's dozen scalars
        # wait on the writer thread instead of returning at once.
        self._writer: Any = SummaryWriter(
            log_dir,
            purge_step=purge_step or None,
            max_queue=1000,
            flush_secs=flush_secs,
        )

    def __enter__(self) -> TensorBoardSink:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def describe(self, descriptions: Mapping[str, str]) -> None:
        self._descriptions.update(descriptions)

    def scalars(self, step: int, values: Mapping[str, float]) -> None:
        if self._writer is None or not values:
            return
        from tensorboard.compat.proto.summary_pb2 import Summary

        # One event for all of a step's scalars: the record framing (a
        # pure-Python CRC without TensorFlow) is paid once, ~3x cheaper.
        merged = Summary(
            value=[self._scalar_value(tag, float(x)) for tag, x in values.items()]
        )
        self._writer.file_writer.add_summary(merged, step)

    def _scalar_value(self, tag: str, value: float) -> Any:
        from tensorboard.compat.proto.summary_pb2 import Summary, SummaryMetadata

        if tag in self._described:
            return Summary.Value(tag=tag, simple_value=value)
        self._described.add(tag)
        text = self._descriptions.get(tag) or keys.describe(tag, self.eval_run)
        meta = SummaryMetadata(
            summary_description=text,
            plugin_data=SummaryMetadata.PluginData(plugin_name="scalars"),
        )
        return Summary.Value(tag=tag, simple_value=value, metadata=meta)

    def histogram(self, step: int, tag: str, values: torch.Tensor) -> None:
        if self._writer is None:
            return
        flat = values.detach().float().flatten().cpu()
        flat = flat[torch.isfinite(flat)]
        if flat.numel():
            self._writer.add_histogram(tag, flat, step)

    def hparams(
        self, hparams: Mapping[str, Any], start_time: float, trial_id: str = ""
    ) -> None:
        """Writes a session-start summary only, never an experiment summary.

        Without an experiment summary TensorBoard builds the experiment from
        every run's session under the logdir and marks the hparams whose
        values differ, so those show by default. Each run writing its own
        experiment made TensorBoard take the first one, with nothing marked.
        The session's metrics are the scalars of this folder.
        """
        if self._writer is None:
            return
        from tensorboard.plugins.hparams import summary_v2

        clean = {k: _hparam_value(v) for k, v in hparams.items() if v is not None}
        pb = summary_v2.hparams_pb(
            clean, trial_id=trial_id or None, start_time_secs=start_time
        )
        self._writer.file_writer.add_summary(pb)

    def session_end(self, status: str, end_time: float) -> None:
        if self._writer is None:
            return
        from tensorboard.plugins.hparams import api_pb2, metadata, plugin_data_pb2
        from tensorboard.plugins.hparams.summary_v2 import _summary_pb

        data = plugin_data_pb2.HParamsPluginData(
            session_end_info=plugin_data_pb2.SessionEndInfo(
                status=api_pb2.Status.Value(_STATUS.get(status, "STATUS_UNKNOWN")),
                end_time_secs=end_time,
            )
        )
        pb = _summary_pb(metadata.SESSION_END_INFO_TAG, data)
        self._writer.file_writer.add_summary(pb)

    def text(self, step: int, tag: str, markdown: str) -> None:
        if self._writer is not None:
            self._writer.add_text(tag, markdown, step)

    def layout(self, layout: Mapping[str, Mapping[str, list[Any]]]) -> None:
        if self._writer is not None:
            self._writer.add_custom_scalars({k: dict(v) for k, v in layout.items()})

    def flush(self) -> None:
        if self._writer is not None:
            self._writer.flush()

    def close(self) -> None:
        if self._writer is not None:
            writer, self._writer = self._writer, None
            writer.flush()
            writer.close()


def _hparam_value(v: Any) -> float | str | bool:
    if isinstance(v, str | bool):
        return v
    if isinstance(v, int | float) and math.isfinite(v):
        return float(v)
    return str(v)


class FanOut:
    """Writes to several sinks in order (TensorBoard first, then trackers).

    Closing closes them in order too, so a tracker that uploads TensorBoard's
    event files sees them flushed.
    """

    def __init__(self, sinks: list[Any]) -> None:
        self.sinks = sinks

    def scalars(self, step: int, values: Mapping[str, float]) -> None:
        for s in self.sinks:
            s.scalars(step, values)

    def histogram(self, step: int, tag: str, values: torch.Tensor) -> None:
        for s in self.sinks:
            s.histogram(step, tag, values)

    def hparams(
        self, hparams: Mapping[str, Any], start_time: float, trial_id: str = ""
    ) -> None:
        for s in self.sinks:
            s.hparams(hparams, start_time, trial_id)

    def session_end(self, status: str, end_time: float) -> None:
        for s in self.sinks:
            s.session_end(status, end_time)

    def text(self, step: int, tag: str, markdown: str) -> None:
        for s in self.sinks:
            s.text(step, tag, markdown)

    def describe(self, descriptions: Mapping[str, str]) -> None:
        for s in self.sinks:
            s.describe(descriptions)

    def layout(self, layout: Mapping[str, Mapping[str, list[Any]]]) -> None:
        for s in self.sinks:
            s.layout(layout)

    def flush(self) -> None:
        for s in self.sinks:
            s.flush()

    def close(self) -> None:
        for s in self.sinks:
            s.close()
