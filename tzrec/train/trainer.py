"""The trainer: read this file first.

:meth:`Trainer.train` is the whole run, top to bottom: for each batch one
optimizer step (:meth:`Trainer.train_step`), then the Monitor, then a
checkpoint when the save cadence says so (each checkpoint is evaluated, the
best step and early stopping updated, old checkpoints pruned), then the stop
checks. Each part owns its cadence: the Monitor its log steps, the
Checkpointer its saves. Device values are read on the host only on log and
save steps.

:meth:`Trainer.train_step` takes the batch iterator, as torchrec's
``TrainPipelineSparseDist.progress`` does, so a pipelined step can replace it.
"""

from __future__ import annotations

import dataclasses
import logging
import math
import time
from collections.abc import Callable, Iterator
from typing import Any

import torch
from torch import nn

from tzrec.checkpoint.manager import (
    CheckpointManager,
    load_model_weights,
    resolve_checkpoint_path,
)
from tzrec.config.settings import Settings, resolve_settings
from tzrec.datasets.batch import Batch
from tzrec.datasets.dataset import TzrecDataset
from tzrec.metrics.feed import (
    build_eval_metric_set,
    build_train_metric_set,
    eval_metrics_updater,
    grouping_keys,
    train_metrics_updater,
)
from tzrec.monitor import keys
from tzrec.monitor.embedding_health import EmbeddingHealth
from tzrec.monitor.monitor import Monitor
from tzrec.monitor.run_info import collect_run_info
from tzrec.monitor.trackers import build_trackers, check_trackers
from tzrec.monitor.train_window import StepTimings
from tzrec.optim.resume_checks import momentum_switched_on
from tzrec.optim.train_optimizer import TrainOptimizer
from tzrec.protos import pipeline_pb2
from tzrec.run_dir.best import BestSoFar
from tzrec.run_dir.eval_log import eval_log_path, read_records
from tzrec.train.checkpointer import Checkpointer, SaveCadence
from tzrec.train.early_stop import EarlyStopper
from tzrec.train.evaluate import evaluate
from tzrec.train.guards import NonFiniteLoss, StopSignal
from tzrec.train.save_cadence import (
    batch_event_time,
    build_save_cadence,
    timestamp_fields,
)
from tzrec.train.setup import (
    ModelParts,
    build_dataset,
    build_model_parts,
    loader_for,
)
from tzrec.train.sharding import plan_summary
from tzrec.train.state import CheckpointedState, MetricSetState, TrainState
from tzrec.utils.dist import DistInfo
from tzrec.utils.errors import DataError, TzrecError
from tzrec.utils.failpoints import failpoint

_logger = logging.getLogger("tzrec")


@dataclasses.dataclass
class StepOutput:
    """What a step leaves for monitoring; tensors stay on the device."""

    losses: dict[str, torch.Tensor]
    total_loss: torch.Tensor
    preds: dict[str, torch.Tensor]
    timings: StepTimings
    batch: Batch
    event_time: float | None = None  # of the host batch, for timestamp saves


class Trainer:
    """One train_eval run: builds its parts, restores, trains, evaluates, closes.

    Args:
        config: the validated, resolved pipeline config.
        dist_info: this process's rank.
        continue_train: resume from the latest complete checkpoint.
    """

    def __init__(
        self,
        config: pipeline_pb2.EasyRecConfig,
        dist_info: DistInfo,
        continue_train: bool,
    ) -> None:
        self.config = config
        self.settings: Settings = resolve_settings(config)
        self.dist = dist_info
        self.model_dir = config.model_dir
        tc = config.train_config
        check_trackers(tc.trackers)  # a missing library fails before any work
        self.parts = build_model_parts(config, dist_info)
        _logger.debug(
            "rank %d/%d on %s; sharding plan:\n%s",
            dist_info.rank,
            dist_info.world_size,
            dist_info.device,
            plan_summary(self.parts.plan),
        )
        self.model: nn.Module = self.parts.dmp
        assert self.parts.optimizer is not None
        self.optimizer: TrainOptimizer = self.parts.optimizer
        self.train_metrics = build_train_metric_set(config)
        self.eval_metrics = build_eval_metric_set(config, self.parts.model.loss_names)
        # Timestamp-triggered saves: an all-gather of event times after every
        # step when set, so built (a gloo group) on every rank in this order.
        self.event_time_saves = build_save_cadence(tc, dist_info.world_size)
        self._event_time_field = tc.save_checkpoints_timestamp_field
        self.train_ds = build_dataset(
            config, self.parts, config.train_input_path, dist_info, False,
            [*timestamp_fields(tc), *grouping_keys(config, train=True)],
        )  # fmt: skip
        self.eval_ds = build_dataset(
            config, self.parts, config.eval_input_path, dist_info, True,
            grouping_keys(config),
        )  # fmt: skip
        self.checkpointed = CheckpointedState()
        self.checkpointed.register("train_metrics", MetricSetState(self.train_metrics))
        self.state: TrainState = self.checkpointed.progress
        self.checkpointer = Checkpointer(
            CheckpointManager(
                self.model_dir, tc.keep_checkpoint_max, lambda: self.best.step
            ),
            SaveCadence(tc.save_checkpoints_steps, tc.save_checkpoints_epochs),
            self.model,
            self.optimizer,
            self.checkpointed,
            self.parts.plan,
        )
        self._remove_incomplete_checkpoints()
        if continue_train:
            self._restore()
        elif tc.fine_tune_checkpoint:
            self._fine_tune(tc.fine_tune_checkpoint)
        self.optimizer.set_global_step(self.state.step)
        self.event_time_saves.watermark = self.state.event_time_watermark
        # The best evaluation (export metric): kept from pruning; the monitor
        # ranks each evaluation into it and draws it.
        best = self.settings.eval.best
        self.best = BestSoFar(best.name, best.larger_is_better)
        self.early_stopper: EarlyStopper | None = None
        es = self.settings.train.early_stop
        if es is not None:
            self.early_stopper = EarlyStopper(
                es.goal.name, es.goal.larger_is_better, es.patience, es.min_delta
            )
        self._eval_pending = self._replay_eval_log()
        self.monitor = _build_monitor(
            config, self.settings, dist_info, self.parts, self.state.step,
            self.train_ds,
            list(self.eval_metrics), list(self.train_metrics),
            lambda: self._samples(self.state), self.best,
        )  # fmt: skip
        self.stop = StopSignal(dist_info.world_size)
        self.nonfinite = NonFiniteLoss(self.state.step)
        self._update_train_metrics = train_metrics_updater(self.parts.model)
        self._update_eval_metrics = eval_metrics_updater(self.parts.model)

    # ---- the run --------------------------------------------------------------

    def train(self) -> str:
        """Trains to the end of the schedule; returns why it ended.

        Returns:
            ``finished``, or the stop reason (a signal, early stopping).
        """
        self.stop.install()
        status, reason = "failed", ""
        try:
            self.monitor.on_train_start(self.train_ds.total_rows)
            if self._eval_pending:  # the restored step was never evaluated
                self.evaluate()
            stopped = self._train_epochs()
            if self.checkpointer.unsaved():
                # A stop signal asks for a quick exit: save now, evaluate on resume.
                self.save_and_evaluate(evaluate=stopped is None)
            reason = stopped or "finished"
            status = "ok" if reason == "finished" else "stopped"
            return reason
        except KeyboardInterrupt:
            status, reason = "interrupted", "KeyboardInterrupt"
            raise
        except BaseException as e:
            reason = f"{type(e).__name__}: {e}"
            raise
        finally:
            self.stop.restore()
            self.monitor.close(status, reason)

    def _train_epochs(self) -> str | None:
        """Steps epoch after epoch until the schedule ends or a stop reason."""
        state = self.state
        while not self._schedule_done():
            batches = self._epoch_batches()
            steps_this_pass = 0
            while not self._schedule_done():
                out = self.train_step(batches)
                if out is None:
                    break  # the epoch's data is used up
                steps_this_pass += 1
                self._monitor_step(out)  # train metrics, NaN check, Monitor.on_step
                timed = self._event_time_save_due(out)  # collective: every step
                if timed or self.checkpointer.due():
                    self.save_and_evaluate()
                if reason := self._stop_reason():
                    return reason
            else:
                return None  # num_steps reached inside the epoch
            if steps_this_pass == 0 and state.batch_in_epoch == 0:
                raise DataError(
                    "the training data has no rows",
                    "train_input_path",
                    "check the input files",
                )
            state.epoch += 1
            state.batch_in_epoch = 0
            if self.checkpointer.due(epoch_ended=True):
                self.save_and_evaluate()
            if reason := self._stop_reason():
                return reason
        return None

    # ---- one step -------------------------------------------------------------

    def train_step(self, batches: Iterator[Batch]) -> StepOutput | None:
        """Takes the next batch and runs one optimizer step on it.

        Args:
            batches: this epoch's batch iterator (host batches).

        Returns:
            The step's losses, predictions and timings, or None when
            ``batches`` is exhausted.
        """
        t0 = time.perf_counter()
        batch = next(batches, None)
        if batch is None:
            return None
        data_wait = time.perf_counter() - t0
        event_time = (
            batch_event_time(batch, self._event_time_field)
            if self.event_time_saves.enabled
            else None
        )
        batch = batch.to(self.dist.device, non_blocking=True)
        step = self.state.step + 1
        self.monitor.before_step(step)  # arms model diagnostics on log steps
        out = train_step(
            self.model,
            self.optimizer,
            batch,
            self.parts.model.loss,
            data_wait,
            self._gradient_summaries(step),
        )
        out.event_time = event_time
        self.state.step = step
        self.state.batch_in_epoch += 1
        failpoint("after_step", step)
        return out

    def _monitor_step(self, out: StepOutput) -> None:
        """Train metrics, the non-finite check and the Monitor (every rank)."""
        step = self.state.step
        self._update_train_metrics(self.train_metrics, out.preds, out.batch)
        self.nonfinite.track(out.total_loss)
        if self.monitor.should_log(step):
            self._raise_if_nonfinite()
        self.monitor.on_step(
            step,
            self.state.epoch,
            out.losses,
            self.optimizer.learning_rates(),
            self.train_metrics,
            out.timings,
            self.model,
            batch=out.batch,  # embedding health reads it on log steps
        )

    def _event_time_save_due(self, out: StepOutput) -> bool:
        """Whether the agreed event time crossed a save boundary (every rank)."""
        due = self.event_time_saves.due(self.state.step, out.event_time)
        self.state.event_time_watermark = self.event_time_saves.watermark
        return due

    def _gradient_summaries(self, step: int) -> Callable[[], None] | None:
        """Writes gradient summaries before the update, on log steps only."""
        if not self.monitor.wants_gradients(step):
            return None
        return lambda: self.monitor.on_gradients(step, self.model)

    # ---- checkpoint and evaluation ---------------------------------------------

    def save_and_evaluate(self, evaluate: bool = True) -> None:
        """Saves a checkpoint, evaluates it, then prunes old ones.

        Args:
            evaluate: False on a stop signal (the resumed run evaluates it).
        """
        self._raise_if_nonfinite()  # never save weights a NaN step touched
        state = self.state
        state.data_layout = self.train_ds.layout()
        step = state.step
        self.monitor.on_checkpoint_start(step, self.checkpointer.path_for(step))
        result = self.checkpointer.save()
        self.monitor.on_checkpoint(step, result.path, result.nbytes, result.seconds)
        if evaluate:
            self.evaluate()
        self.checkpointer.prune()

    def evaluate(self) -> None:
        """Evaluates the current weights; updates the best step and early stopping."""
        state = self.state
        total = self.eval_ds.num_batches()
        max_steps = self.config.eval_config.num_steps
        self.monitor.on_eval_start(
            state.step, min(total or max_steps, max_steps or total or 0) or None
        )
        values, batches, seconds = evaluate(
            self.model,
            loader_for(self.eval_ds, self.config),
            self.eval_metrics,
            self._update_eval_metrics,
            self.dist.device,
            max_steps,
            self.monitor.on_eval_progress,
        )
        rows = batches * self.config.data_config.batch_size * self.dist.world_size
        if self.eval_ds.total_rows:
            rows = min(rows, self.eval_ds.total_rows)
        self.monitor.on_eval(state.step, state.epoch, values, seconds, rows)
        if self.early_stopper is not None:
            reason = self.early_stopper.update(state.step, values)
            if reason:
                self.monitor.on_event(
                    keys.EVENT_EARLY_STOP, step=state.step, reason=reason
                )

    # ---- when to stop ------------------------------------------------------------

    def _schedule_done(self) -> bool:
        tc = self.config.train_config
        if tc.num_steps:
            return self.state.step >= tc.num_steps
        return self.state.epoch >= tc.num_epochs

    def _stop_reason(self) -> str | None:
        """A signal (agreed by all ranks: a collective) or early stopping."""
        if self.stop.agreed():
            return self.stop.reason
        return self.early_stopper.reason if self.early_stopper is not None else None

    def _raise_if_nonfinite(self) -> None:
        """Stops the run at a non-finite loss (a host read: log and save steps)."""
        bad = self.nonfinite.first_bad()
        if bad is None:
            return
        self.monitor.on_event(keys.EVENT_NON_FINITE_LOSS, step=bad, log=False)
        raise TzrecError(
            f"non-finite loss at step {bad}",
            self.model_dir,
            "lower the learning rate or check the data for NaN/inf; "
            "the last good checkpoint is kept as the latest",
        )

    # ---- start: restore, fine-tune, replay ----------------------------------------

    def _remove_incomplete_checkpoints(self) -> None:
        removed = self.checkpointer.manager.cleanup_incomplete()
        if removed:
            _logger.info(
                "[ckpt] removed %d incomplete checkpoint(s): %s",
                len(removed),
                ", ".join(removed),
            )

    def _restore(self) -> None:
        path = self.checkpointer.restore_latest()
        if path is None:
            _logger.info(
                "[resume] no complete checkpoint in %s: starting fresh", self.model_dir
            )
            return
        _logger.info(
            "[resume] restored %s: step %d, epoch %d, batch %d of the epoch",
            path,
            self.state.step,
            self.state.epoch,
            self.state.batch_in_epoch,
        )
        warn_if_layout_changed(self.state, self.train_ds, path)
        updates = self.state.step // self.optimizer.accumulation_steps
        for part in momentum_switched_on(self.optimizer, updates):
            _logger.warning(
                "[resume] the %s optimizer's momentum is on, but %s was trained "
                "without it (no momentum buffers after %d updates): the run gains "
                "momentum from here. Dense SGD's momentum defaults to 0.9 "
                "(TorchEasyRec's default; it was 0.0): set momentum: 0 in the "
                "config to continue as before",
                part,
                path,
                updates,
            )

    def _fine_tune(self, path: str) -> None:
        _, ckpt_path = resolve_checkpoint_path(path)
        missing, unexpected = load_model_weights(ckpt_path, self.model)
        _logger.info(
            "[fine_tune] initialised from %s; %d missing, %d unexpected parameters%s",
            ckpt_path,
            len(missing),
            len(unexpected),
            (": missing " + ", ".join(missing[:10])) if missing else "",
        )

    def _replay_eval_log(self) -> bool:
        """Rebuilds best and early-stopping state from the eval log up to the step.

        The eval log, not the checkpoint, is the record of evaluations (a
        checkpoint is written before its evaluation). Returns True when the
        restored step was never evaluated (killed mid-eval), so the run
        evaluates it first.
        """
        if self.state.step == 0:
            return False
        records = [
            rec
            for rec in read_records(eval_log_path(self.model_dir))
            if rec["global_step"] <= self.state.step
        ]
        for rec in records:
            self.best.update_record(rec)
        if self.early_stopper is not None:
            self.early_stopper.replay(records)
        return not any(rec["global_step"] == self.state.step for rec in records)

    # ---- helpers ------------------------------------------------------------------

    def _epoch_batches(self) -> Iterator[Batch]:
        """The rank's batches of the current epoch, after those already consumed."""
        self.train_ds.skip_batches = self.state.batch_in_epoch
        self.train_ds.epoch = self.state.epoch
        return iter(loader_for(self.train_ds, self.config))

    def _samples(self, state: TrainState) -> int:
        """Training rows read by all ranks up to ``state`` (resumes included)."""
        ds = self.train_ds
        return state.epoch * ds.total_rows + ds.rows_read(state.batch_in_epoch)


def train_step(
    model: nn.Module,
    optimizer: TrainOptimizer,
    batch: Batch,
    loss_fn: Callable[[dict[str, torch.Tensor], Batch], dict[str, torch.Tensor]],
    data_wait: float,
    before_update: Callable[[], None] | None = None,
) -> StepOutput:
    """One optimizer step: forward, backward (fused table updates), dense step.

    Mixed precision runs inside the model's forward (autocast); gradient
    accumulation and clipping live in the optimizer
    (:class:`tzrec.optim.train_optimizer.TrainOptimizer`), whose
    ``loss_scale`` (``1/k`` when accumulating ``k`` micro-batches) scales the
    loss before backward. Returned losses are unscaled; nothing is read on
    the host.

    Args:
        model: the (DistributedModelParallel) model.
        optimizer: its optimizer.
        batch: the batch, on the model's device.
        loss_fn: (predictions, batch) -> named scalar losses.
        data_wait: seconds spent waiting for ``batch`` (for the timings).
        before_update: called between backward and the update (gradient
            summaries on log steps).

    Returns:
        The step's detached losses and predictions, and its timings.
    """
    t0 = time.perf_counter()
    optimizer.apply_lr_schedule()  # this step's rates, logged as lr/g<i>
    optimizer.zero_grad(set_to_none=True)
    preds = model(batch)
    losses = loss_fn(preds, batch)
    total = (
        torch.stack(list(losses.values())).sum()
        if len(losses) > 1
        else next(iter(losses.values()))
    )
    scale = optimizer.loss_scale
    (total * scale if scale != 1.0 else total).backward()
    if before_update is not None:
        before_update()
    t1 = time.perf_counter()
    optimizer.step()
    t2 = time.perf_counter()
    return StepOutput(
        {k: v.detach() for k, v in losses.items()},
        total.detach(),
        {k: v.detach() for k, v in preds.items()},
        StepTimings(data_wait, t1 - t0, t2 - t1),
        batch,
    )


def warn_if_layout_changed(state: TrainState, dataset: TzrecDataset, path: str) -> None:
    """Warns when the restored data position cannot mean the same rows any more."""
    saved, now = state.data_layout, dataset.layout()
    changed = [
        f"{k} {saved[k]} -> {now[k]}" for k in now if saved.get(k, now[k]) != now[k]
    ]
    if changed and state.batch_in_epoch:
        _logger.warning(
            "[resume] %s was written with another data layout (%s): the rest "
            "of epoch %d skips %d batches of the new order, so some rows of "
            "this epoch may be read twice or not at all; the next epochs are "
            "complete",
            path,
            ", ".join(changed),
            state.epoch,
            state.batch_in_epoch,
        )


def _build_monitor(
    config: pipeline_pb2.EasyRecConfig,
    settings: Settings,
    dist_info: DistInfo,
    parts: ModelParts,
    start_step: int,
    train_ds: TzrecDataset,
    eval_metric_names: list[str],
    train_metric_names: list[str],
    samples_seen: Callable[[], int],
    best: BestSoFar,
) -> Monitor:
    """The run's Monitor, from the config (after restore: it knows the start step)."""
    tc = config.train_config
    # The loader's own count: worker and rank shares round up separately.
    total = tc.num_steps or train_ds.num_batches() * tc.num_epochs or None
    return Monitor(
        config.model_dir,
        settings.monitor,
        is_rank0=dist_info.is_rank0,
        hparams=hparams_of(config, total),
        eval_metric_names=eval_metric_names,
        train_metric_names=train_metric_names,
        total_steps=total,
        world_size=dist_info.world_size,
        start_step=start_step,
        samples_seen=samples_seen,
        embedding_health=(
            EmbeddingHealth(parts.model, parts.dmp, parts.features)
            if dist_info.is_rank0 and settings.monitor.embedding_health
            else None
        ),
        trackers=build_trackers(
            config,
            dist_info.is_rank0,
            start_step,
            collect_run_info(settings.monitor.config_hash, dist_info.world_size),
        ),
        best=best,
    )


def hparams_of(
    config: pipeline_pb2.EasyRecConfig, total_steps: int | None = None
) -> dict[str, Any]:
    """A few hyperparameters worth comparing runs by.

    ``num_steps`` is the run's length in steps, also for an epoch-based run
    (``total_steps``, when the row count is known).
    """
    tc, dc = config.train_config, config.data_config
    sparse = tc.sparse_optimizer.WhichOneof("optimizer") or ""
    dense = tc.dense_optimizer.WhichOneof("optimizer") or ""
    return {
        "model": config.model_config.WhichOneof("model") or "",
        "batch_size": dc.batch_size,
        "sparse_optimizer": sparse,
        "sparse_lr": getattr(tc.sparse_optimizer, sparse).lr if sparse else math.nan,
        "dense_optimizer": dense,
        "dense_lr": getattr(tc.dense_optimizer, dense).lr if dense else math.nan,
        "num_steps": tc.num_steps or total_steps or 0,
        "num_epochs": tc.num_epochs,
        "num_features": len(config.feature_configs),
    }
