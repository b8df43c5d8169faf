"""The one object the training loop reports to.

The loop calls :class:`Monitor` and never formats a line or touches a
writer. Between log steps ``on_step`` only adds each loss to a device
tensor and a few floats to host counters; on log steps (a pure function of
the step, so all ranks agree and the cross-rank reductions line up) it
reduces losses and train metrics, reads them back in one transfer, and
writes TensorBoard scalars and the throttled console line (rank 0 only).
"""

from __future__ import annotations

import json
import logging
import math
import os
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

from torch import Tensor, nn

from tzrec.config.settings import MonitorSettings
from tzrec.metrics.train_metric_wrapper import TrainMetricWrapper
from tzrec.monitor import keys
from tzrec.monitor.cadence import Clock, EveryNSteps
from tzrec.monitor.diagnostics import STORE as DIAGNOSTICS
from tzrec.monitor.diagnostics import TENSORBOARD, TRACKERS
from tzrec.monitor.embedding_health import EmbeddingHealth
from tzrec.monitor.events import EventLog, JsonlEvalLog
from tzrec.monitor.model_summaries import (
    write_gradient_summaries,
    write_parameter_histograms,
)
from tzrec.monitor.progress import ProgressLogger, format_value
from tzrec.monitor.run_info import write_run_info
from tzrec.monitor.sinks import FanOut, NullSink, Sink, TensorBoardSink
from tzrec.monitor.tb_layout import best_markdown, best_scalars, custom_scalars_layout
from tzrec.monitor.trackers import Tracker
from tzrec.monitor.train_report import (
    DiagnosticsWriter,
    console_fields,
    train_metric_descriptions,
    train_scalars,
)
from tzrec.monitor.train_window import StepTimings, TrainWindow
from tzrec.run_dir import names
from tzrec.run_dir.best import BestSoFar

_logger = logging.getLogger("tzrec")


class Monitor:
    """Console progress, TensorBoard, eval log and events for one run.

    Rank 0 gets the real sinks; other ranks write nothing but still take
    part in the reductions on log steps. Use it as a context manager (or
    call :meth:`close`) so writers close on every exit path.

    Args:
        model_dir: the run's folder.
        settings: what to log and how often, resolved from the validated
            config (``tzrec.config.settings``); not checked again here.
        is_rank0: whether this process writes.
        hparams: hyperparameters for TensorBoard's hparams plugin (a session
            in ``eval_val/``, whose eval scalars are its metrics).
        eval_metric_names: eval-log keys.
        train_metric_names: decayed train metrics logged (custom-scalars
            charts pair a train and an eval curve only where both exist).
        total_steps: total train steps if known (ETA).
        num_epochs: with ``epoch_rows`` at start, gives total_steps.
        world_size: number of ranks.
        start_step: optimizer steps already done (resume).
        clock: monotonic seconds (fake in tests).
        sinks: ``(train_sink, eval_sink)`` instead of TensorBoard (tests).
        samples_seen: () -> training rows read by all ranks so far, recorded
            with each evaluation (None: not recorded).
        trackers: MLflow / W&B runs written beside the sinks (rank 0).
        embedding_health: per-table statistics written on log steps (rank 0);
            None when ``settings.embedding_health`` is off.
        best: the run's best evaluation (by ``settings.best``), already
            holding the evaluations up to ``start_step``; :meth:`on_eval`
            ranks each new one into it, on every rank. None: a new one from
            the eval log.
    """

    def __init__(
        self,
        model_dir: str,
        settings: MonitorSettings,
        *,
        is_rank0: bool,
        hparams: Mapping[str, Any] | None = None,
        eval_metric_names: Iterable[str] = (),
        train_metric_names: Iterable[str] = (),
        total_steps: int | None = None,
        num_epochs: int | None = None,
        world_size: int = 1,
        start_step: int = 0,
        clock: Clock = time.monotonic,
        sinks: tuple[Sink, Sink] | None = None,
        samples_seen: Callable[[], int] | None = None,
        trackers: Sequence[Tracker] = (),
        embedding_health: EmbeddingHealth | None = None,
        best: BestSoFar | None = None,
    ) -> None:
        self.model_dir = model_dir
        self.is_rank0 = is_rank0
        self.summaries = settings.summaries
        self.batch_size = settings.batch_size
        self.world_size = world_size
        self.total_steps = total_steps or None
        self.num_epochs = num_epochs
        self.start_step = start_step
        self._hparams = dict(hparams or {})
        self._eval_names = list(eval_metric_names)
        self._train_metric_names = list(train_metric_names)
        self._config_hash = settings.config_hash
        self._config_text = settings.config_text
        self._described_train_metrics = False
        self._clock = clock
        self._samples_seen = samples_seen
        self._every = EveryNSteps(settings.log_every_steps)
        self._log_every_secs = settings.log_every_secs
        self._eval_log_every = settings.eval_log_every_steps
        train_sink, eval_sink = self._make_sinks(sinks, settings.use_tensorboard)
        tracker_views = [t.train for t in trackers] if is_rank0 else []
        # Model diagnostics choose their destinations (tensorboard, trackers).
        sinks_for: dict[str, Sequence[Sink]] = {
            TENSORBOARD: [train_sink],
            TRACKERS: tracker_views,
        }
        self._health = embedding_health if is_rank0 else None
        if is_rank0 and trackers:
            train_sink = FanOut([train_sink, *(t.train for t in trackers)])
            eval_sink = FanOut([eval_sink, *(t.eval for t in trackers)])
        self._train_sink, self._eval_sink = train_sink, eval_sink
        self._diagnostics = DiagnosticsWriter(train_sink, sinks_for)
        self._events = self._eval_log = None
        if is_rank0:
            os.makedirs(model_dir, exist_ok=True)
            self._events = EventLog(os.path.join(model_dir, names.EVENTS_FILE))
            self._eval_log = JsonlEvalLog(
                os.path.join(model_dir, names.EVAL_RESULT_FILE)
            )
            if start_step > 0:
                # Evals after the restored step belong to the lost future.
                self._eval_log.truncate_after(start_step)
        if best is None:
            goal = settings.best
            earlier = self._eval_log.records() if self._eval_log is not None else []
            best = BestSoFar.from_records(
                goal.name if goal is not None else "",
                goal.larger_is_better if goal is not None else True,
                earlier,
            )
        self.best = best
        self._progress: ProgressLogger | None = None
        self._eval_progress: ProgressLogger | None = None
        self._eval_t0: float | None = None
        self._window = TrainWindow(clock, settings.batch_size * world_size)
        self._wall_t0 = time.time()
        self._last_step = start_step
        self._closed = False

    def _make_sinks(
        self, sinks: tuple[Sink, Sink] | None, use_tensorboard: bool
    ) -> tuple[Sink, Sink]:
        if not self.is_rank0:
            return NullSink(), NullSink()
        if sinks is not None:
            return sinks
        if not use_tensorboard:
            return NullSink(), NullSink()
        purge = self.start_step + 1 if self.start_step > 0 else None
        train = TensorBoardSink(self.model_dir, purge_step=purge)
        eval_dir = os.path.join(self.model_dir, names.EVAL_VAL_DIR)
        return train, TensorBoardSink(eval_dir, purge_step=purge, eval_run=True)

    def __enter__(self) -> Monitor:
        return self

    def __exit__(
        self, exc_type: type | None, exc: BaseException | None, tb: Any
    ) -> None:
        if exc_type is None:
            self.close("ok")
        elif issubclass(exc_type, KeyboardInterrupt):
            self.close("interrupted", "KeyboardInterrupt")
        else:
            self.close("failed", f"{exc_type.__name__}: {exc}")

    # ---- train ----

    def on_train_start(self, epoch_rows: int | None = None) -> None:
        """Call once before the first step: run.json, run event, hparams.

        Args:
            epoch_rows: rows in one epoch (all ranks); with ``num_epochs``
                it gives the total steps for percent and ETA.
        """
        if self.total_steps is None and self.num_epochs and epoch_rows:
            per_epoch = math.ceil(epoch_rows / (self.batch_size * self.world_size))
            self.total_steps = per_epoch * self.num_epochs
        self._window.reset(self._clock())
        if not self.is_rank0:
            return
        info = write_run_info(self.model_dir, self._config_hash, self.world_size)
        self.on_event(
            keys.EVENT_RUN_STARTED,
            step=self.start_step,
            resumed=self.start_step > 0,
            total_steps=self.total_steps,
            log=False,
            **{k: v for k, v in info.items() if k != "start_time"},
        )
        _logger.info(
            "run %s at step %d in %s (%d rank(s), tzrec %s, git %s)",
            "resumed" if self.start_step else "started",
            self.start_step,
            self.model_dir,
            self.world_size,
            info["tzrec_version"],
            info["git_revision"] or "-",
        )
        self._eval_sink.hparams(
            self._hparams, self._wall_t0, trial_id=os.path.normpath(self.model_dir)
        )
        self._train_sink.layout(
            custom_scalars_layout(self._eval_names, self._train_metric_names)
        )
        if self._config_text:
            self._train_sink.text(
                self.start_step, keys.TEXT_PIPELINE_CONFIG, _code(self._config_text)
            )
        self._train_sink.text(
            self.start_step, keys.TEXT_RUN_INFO, _code(json.dumps(info, indent=2))
        )
        self._progress = ProgressLogger(
            "train",
            self.total_steps,
            self.batch_size,
            self.world_size,
            mininterval=self._log_every_secs,
            clock=self._clock,
            start_step=self.start_step,
        )

    def should_log(self, step: int) -> bool:
        """Whether ``step`` is a log step; the same answer on every rank."""
        return (
            step == self.start_step + 1
            or self._every.ready(step)
            or step == self.total_steps
        )

    def before_step(self, step: int) -> None:
        """Call before a step's forward: arms model diagnostics on log steps."""
        DIAGNOSTICS.arm(self.should_log(step))

    def wants_gradients(self, step: int) -> bool:
        """Whether to call :meth:`on_gradients` before this step's update."""
        return (
            self.is_rank0
            and bool(self.summaries & keys.GRADIENT_SUMMARIES)
            and self.should_log(step)
        )

    def on_gradients(self, step: int, model: nn.Module) -> None:
        """Writes gradient norms/histograms (rank 0; before optimizer.step)."""
        if not self.is_rank0:
            return
        write_gradient_summaries(self._train_sink, step, model, self.summaries)

    def on_step(
        self,
        step: int,
        epoch: int | None,
        losses: Mapping[str, Tensor],
        lrs: Iterable[float],
        train_metrics: Mapping[str, TrainMetricWrapper] | None = None,
        timings: StepTimings | None = None,
        model: nn.Module | None = None,
        force: bool = False,
        batch: Any = None,
    ) -> None:
        """Call after every optimizer step (on every rank).

        Args:
            step: optimizer steps completed.
            epoch: current epoch, shown on the console line.
            losses: this step's losses (0-d tensors, left on the device).
            lrs: learning rate per optimizer parameter group.
            train_metrics: decayed train metrics, already updated this step.
            timings: this step's phase split.
            model: for ``parameter`` histograms on log steps.
            force: log even off-cadence (the loop's last step).
            batch: this step's Batch (embedding health reads it on log steps).
        """
        self._last_step = step
        self._window.add(losses, timings)
        if force or self.should_log(step):
            self._log_train(step, epoch, list(lrs), train_metrics or {}, model)
            if self._health is not None and batch is not None:
                self._train_sink.scalars(step, self._health.compute(batch.sparse))

    def _log_train(
        self,
        step: int,
        epoch: int | None,
        lrs: list[float],
        train_metrics: Mapping[str, TrainMetricWrapper],
        model: nn.Module | None,
    ) -> None:
        losses, metrics = self._window.read(train_metrics, self.is_rank0)
        diagnostics = DIAGNOSTICS.read()
        now = self._clock()
        spread = self._window.rank_spread(now)
        if self.is_rank0:
            scalars = train_scalars(losses, lrs, metrics)
            self._check_finite(step, losses)
            perf = {**self._window.perf(now), **spread}
            if not self._described_train_metrics:
                self._described_train_metrics = True
                descriptions = train_metric_descriptions(train_metrics)
                self._train_sink.describe(descriptions)
            self._train_sink.scalars(step, {**scalars, **perf})
            shown = self._diagnostics.write(step, diagnostics)
            if model is not None and keys.SUMMARY_PARAMETER in self.summaries:
                write_parameter_histograms(self._train_sink, step, model)
            if self._progress is not None:
                fields = console_fields(scalars, losses, shown)
                last = step == self.total_steps
                self._progress.maybe_log(step, epoch, fields, force=last)
        self._window.reset(now)

    def _check_finite(self, step: int, losses: dict[str, float]) -> None:
        bad = {n: v for n, v in losses.items() if not math.isfinite(v)}
        if bad:
            _logger.warning("non-finite loss at step %d: %s", step, bad)
            self.on_event(keys.EVENT_NON_FINITE_LOSS, step=step, losses=bad, log=False)

    def _exclude(self, seconds: float) -> None:
        """Leaves time spent outside training steps out of the rates."""
        self._window.exclude(seconds)
        if self._progress is not None:
            self._progress.exclude(seconds)

    # ---- eval ----

    def on_eval_start(
        self,
        step: int,
        total_eval_steps: int | None = None,
        batch_size: int | None = None,
    ) -> None:
        """Call when an evaluation begins (every rank)."""
        self._eval_t0 = self._clock()
        if not self.is_rank0:
            return
        self.on_event(keys.EVENT_EVAL_STARTED, step=step, log=False)
        self._eval_progress = ProgressLogger(
            "eval",
            total_eval_steps or None,
            batch_size or self.batch_size,
            self.world_size,
            mininterval=self._log_every_secs,
            miniters=self._eval_log_every,
            clock=self._clock,
        )

    def on_eval_progress(self, eval_step: int) -> None:
        """Call after each eval batch; ``eval_step`` counts from 1."""
        if self._eval_progress is not None:
            self._eval_progress.maybe_log(eval_step)

    def on_eval(
        self,
        step: int,
        epoch: int | None,
        metrics: Mapping[str, float | Tensor],
        seconds: float | None = None,
        samples: int | None = None,
    ) -> dict[str, Any] | None:
        """Writes an evaluation: ``eval_val/`` scalars, eval log, events, console.

        Ranks it into :attr:`best`; a new best is drawn (``run/best_*``) and
        gets a ``best_changed`` event.

        Args:
            step: the train step evaluated.
            epoch: the train epoch.
            metrics: reduced eval metrics by eval-log key.
            seconds: eval duration; measured from :meth:`on_eval_start` if None.
            samples: rows evaluated over all ranks (eval samples/s).

        Returns:
            The eval-log record written (rank 0), else None.
        """
        measured = self._clock() - self._eval_t0 if self._eval_t0 is not None else 0.0
        self._exclude(measured)
        self._eval_t0 = None
        self._eval_progress = None
        values = {k: float(v) for k, v in metrics.items()}
        best = self.best
        best_changed = best.update(step, values.get(best.metric), values)
        if not self.is_rank0:
            return None
        seconds = measured if seconds is None else seconds
        tb = {keys.eval_tag(k): v for k, v in values.items() if math.isfinite(v)}
        if samples and seconds > 0:
            tb[keys.PERF_EVAL_SAMPLES_PER_SEC] = samples / seconds
        if best_changed:
            tb.update(best_scalars(best))
            self._eval_sink.text(step, keys.TEXT_BEST, best_markdown(best))
        seen = self._samples_seen() if self._samples_seen is not None else None
        if seen is not None:
            tb[keys.SAMPLES_SEEN] = float(seen)
        self._eval_sink.scalars(step, tb)
        self._eval_sink.flush()
        assert self._eval_log is not None
        record = self._eval_log.append(
            step, values, epoch=epoch, wall_time=time.time(), samples=seen
        )
        self.on_event(
            keys.EVENT_EVAL_FINISHED,
            step=step,
            seconds=round(seconds, 3),
            metrics=values,
            log=False,
        )
        shown = " ".join(f"{k}={format_value(v)}" for k, v in values.items())
        _logger.info("[eval] step %d done in %.1fs | %s", step, seconds, shown)
        if best_changed:
            self.on_event(
                keys.EVENT_BEST_CHANGED, step=step, metric=best.metric, value=best.value
            )
        return record

    # ---- checkpoints, events, close ----

    def on_checkpoint_start(self, step: int, path: str) -> None:
        """Call before writing a checkpoint."""
        self.on_event(keys.EVENT_CHECKPOINT_STARTED, step=step, path=path, log=False)

    def on_checkpoint(self, step: int, path: str, nbytes: int, seconds: float) -> None:
        """Call after a checkpoint is complete (renamed into place)."""
        self._exclude(seconds)
        mb = nbytes / 2**20
        rate = mb / seconds if seconds > 0 else None
        self.on_event(
            keys.EVENT_CHECKPOINT_FINISHED,
            step=step,
            path=path,
            bytes=int(nbytes),
            seconds=round(seconds, 3),
            mb_per_s=None if rate is None else round(rate, 1),
            log=False,
        )
        if self.is_rank0:
            speed = f", {rate:.1f} MB/s" if rate else ""
            _logger.info(
                "[ckpt] step %d saved %s (%.1f MB in %.2fs%s)",
                step,
                path,
                mb,
                seconds,
                speed,
            )

    def on_event(self, name: str, log: bool = True, **fields: Any) -> None:
        """Appends an event to ``events.jsonl`` (rank 0) and logs it."""
        if self._events is None:
            return
        self._events.write(name, **fields)
        if log:
            shown = " ".join(f"{k}={v}" for k, v in fields.items())
            _logger.info("[event] %s %s", name, shown)

    def close(self, status: str = "ok", reason: str = "") -> None:
        """Writes the run-finished event and closes every writer; idempotent.

        Args:
            status: ``ok``, ``stopped`` (early stop), ``failed`` or
                ``interrupted``.
            reason: free text, e.g. the exception.
        """
        if self._closed:
            return
        self._closed = True
        try:
            self.on_event(
                keys.EVENT_RUN_FINISHED,
                status=status,
                reason=reason,
                step=self._last_step,
                seconds=round(time.time() - self._wall_t0, 3),
            )
        finally:
            try:
                # TensorBoard keeps a session's first end: a run that will
                # be resumed (interrupted, stopped by a signal) writes none.
                if status != "interrupted" and not reason.startswith("signal"):
                    self._eval_sink.session_end(status, time.time())
                self._train_sink.close()
            finally:
                self._eval_sink.close()


def _code(text: str) -> str:
    """Markdown that shows ``text`` verbatim (4-space indented code block)."""
    return "\n".join("    " + line for line in text.splitlines())
