"""One train_eval run: builds the parts, restores, trains, evaluates, closes.

The loop (:mod:`tzrec.train.loop`) only steps; this module decides what a
checkpoint trigger does (save, evaluate, track the best, prune) and owns every
object that must be closed on exit.
"""

from __future__ import annotations

import logging
import math
import os
import signal
from typing import Any

import torch

from tzrec.checkpoint.best import best_step
from tzrec.checkpoint.manager import CheckpointManager
from tzrec.checkpoint.state import restore_rng_state
from tzrec.config.settings import resolve_settings
from tzrec.datasets.batch import Batch
from tzrec.metrics.feed import (
    build_eval_metric_set,
    build_train_metric_set,
    eval_metrics_updater,
    grouping_keys,
    train_metrics_updater,
)
from tzrec.monitor import keys
from tzrec.monitor.embedding_health import EmbeddingHealth
from tzrec.monitor.events import read_records
from tzrec.monitor.monitor import Monitor
from tzrec.monitor.run_info import collect_run_info
from tzrec.monitor.trackers import build_trackers, check_trackers
from tzrec.protos import pipeline_pb2
from tzrec.train.early_stop import BestTracker, EarlyStopper
from tzrec.train.evaluate import evaluate
from tzrec.train.loop import LoopHooks, Schedule, fit
from tzrec.train.save_cadence import (
    batch_event_time,
    build_save_cadence,
    timestamp_fields,
)
from tzrec.train.setup import build_dataset, build_model_parts, loader_for
from tzrec.train.sharding import plan_summary
from tzrec.train.state import TrainState
from tzrec.utils.dist import DistInfo
from tzrec.utils.errors import CheckpointError, TzrecError

_logger = logging.getLogger("tzrec")


class _StopFlag:
    """SIGTERM/SIGINT set a reason; the loop stops after the current step.

    Under several ranks the stop is agreed after every step (a one-int MAX
    all-reduce on a CPU gloo group, so no device sync): a signal that reaches
    one rank alone (a scheduler, a user's kill) stops every rank at the same
    step, instead of one rank saving while the others wait in a collective.
    """

    def __init__(self, world_size: int = 1) -> None:
        self.reason: str | None = None
        self._previous: dict[int, Any] = {}
        self._group = None
        if world_size > 1 and torch.distributed.is_initialized():
            self._group = torch.distributed.new_group(backend="gloo")

    def install(self) -> None:
        for sig in (signal.SIGTERM, signal.SIGINT):
            self._previous[sig] = signal.signal(sig, self._handle)

    def _handle(self, signum: int, frame: Any) -> None:
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
        for sig, handler in self._previous.items():
            signal.signal(sig, handler)


class TrainSession:
    """Everything one train_eval run holds.

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
        self.settings = resolve_settings(config)
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
        self.train_metrics = build_train_metric_set(config)
        self.eval_metrics = build_eval_metric_set(config, self.parts.model.loss_names)
        extra = grouping_keys(config)
        self.save_cadence = build_save_cadence(tc, dist_info.world_size)
        self.train_ds = build_dataset(
            config,
            self.parts,
            config.train_input_path,
            dist_info,
            False,
            [*timestamp_fields(tc), *grouping_keys(config, train=True)],
        )
        self.eval_ds = build_dataset(
            config, self.parts, config.eval_input_path, dist_info, True, extra
        )
        self.ckpt = CheckpointManager(
            self.model_dir, tc.keep_checkpoint_max, self._best_for_prune
        )
        self.state = TrainState()
        removed = self.ckpt.cleanup_incomplete()
        if removed:
            _logger.info(
                "[ckpt] removed %d incomplete checkpoint(s): %s",
                len(removed),
                ", ".join(removed),
            )
        if continue_train:
            self._restore()
        elif tc.fine_tune_checkpoint:
            self._fine_tune(tc.fine_tune_checkpoint)
        self.parts.optimizer.set_global_step(self.state.step)  # LR schedules
        self.save_cadence.watermark = self.state.event_time_watermark
        self.schedule = Schedule(
            num_steps=tc.num_steps,
            num_epochs=tc.num_epochs,
            save_steps=tc.save_checkpoints_steps
            if not tc.save_checkpoints_epochs
            else 0,
            save_epochs=tc.save_checkpoints_epochs,
        )
        # The loader's own count: worker and rank shares round up separately.
        total = tc.num_steps or self.train_ds.num_batches() * tc.num_epochs or None
        self.monitor = Monitor(
            self.model_dir,
            self.settings.monitor,
            is_rank0=dist_info.is_rank0,
            hparams=hparams_of(config, total),
            eval_metric_names=list(self.eval_metrics),
            train_metric_names=list(self.train_metrics),
            total_steps=total,
            world_size=dist_info.world_size,
            start_step=self.state.step,
            samples_seen=lambda: self._samples(self.state),
            embedding_health=(
                EmbeddingHealth(self.parts.model, self.parts.dmp, self.parts.features)
                if dist_info.is_rank0 and self.settings.monitor.embedding_health
                else None
            ),
            trackers=build_trackers(
                config,
                dist_info.is_rank0,
                self.state.step,
                collect_run_info(
                    self.settings.monitor.config_hash, dist_info.world_size
                ),
            ),
        )
        self.stop = _StopFlag(dist_info.world_size)
        best = self.settings.eval.best
        self.best = BestTracker(best.name, best.larger_is_better)
        self.early_stopper = None
        es = self.settings.train.early_stop
        if es is not None:
            self.early_stopper = EarlyStopper(
                es.goal.name, es.goal.larger_is_better, es.patience, es.min_delta
            )
        self._eval_pending = self._replay_eval_log()
        self._first_bad: torch.Tensor | None = None
        self._batch = None
        self._update_metrics = train_metrics_updater(self.parts.model)
        self._step_counter: torch.Tensor | None = None

    # ---- restore ----

    def _restore(self) -> None:
        latest = self.ckpt.latest()
        if latest is None:
            _logger.info(
                "[resume] no complete checkpoint in %s: starting fresh", self.model_dir
            )
            return
        step, path = latest
        saved = self.ckpt.restore(path, self.parts.dmp, self.parts.optimizer)
        self.state = TrainState.from_dict(saved.get("train_state", saved))
        for name, m in self.train_metrics.items():
            if name in self.state.train_metrics:
                m.load_state_dict(self.state.train_metrics[name])
        if "rng" in saved:
            restore_rng_state(saved["rng"])
        _logger.info(
            "[resume] restored %s: step %d, epoch %d, batch %d of the epoch",
            path,
            self.state.step,
            self.state.epoch,
            self.state.batch_in_epoch,
        )
        self._check_data_layout(path)
        if step != self.state.step:
            raise CheckpointError(
                f"checkpoint name says step {step}, its state {self.state.step}",
                path,
                "remove the damaged checkpoint",
            )

    def _check_data_layout(self, path: str) -> None:
        """Warns when the data position cannot mean the same rows any more."""
        saved, now = self.state.data_layout, self.train_ds.layout()
        changed = [
            f"{k} {saved[k]} -> {now[k]}" for k in now if saved.get(k, now[k]) != now[k]
        ]
        if changed and self.state.batch_in_epoch:
            _logger.warning(
                "[resume] %s was written with another data layout (%s): the rest "
                "of epoch %d skips %d batches of the new order, so some rows of "
                "this epoch may be read twice or not at all; the next epochs are "
                "complete",
                path,
                ", ".join(changed),
                self.state.epoch,
                self.state.batch_in_epoch,
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
        path = os.path.join(self.model_dir, keys.EVAL_RESULT_FILE)
        evaluated = False
        for rec in read_records(path):
            if rec["global_step"] > self.state.step:
                break
            self.best.update(rec["global_step"], rec)
            if self.early_stopper is not None:
                self.early_stopper.update(rec["global_step"], rec)
            evaluated = evaluated or rec["global_step"] == self.state.step
        self.state.best_step, self.state.best_value = self.best.step, self.best.value
        return not evaluated

    def _fine_tune(self, path: str) -> None:
        from tzrec.checkpoint.manager import load_model_weights, resolve_checkpoint_path

        _, ckpt_path = resolve_checkpoint_path(path)
        missing, unexpected = load_model_weights(ckpt_path, self.parts.dmp)
        _logger.info(
            "[fine_tune] initialised from %s; %d missing, %d unexpected parameters%s",
            ckpt_path,
            len(missing),
            len(unexpected),
            (": missing " + ", ".join(missing[:10])) if missing else "",
        )

    # ---- the loop's hooks ----

    def _batches(self, epoch: int, skip: int):
        self.train_ds.skip_batches = skip
        self.train_ds.epoch = epoch
        return loader_for(self.train_ds, self.config)

    def _on_step(self, state: TrainState, out) -> None:
        self._track_nonfinite(out.total_loss)
        if self.monitor.should_log(state.step):
            self._raise_if_nonfinite()
        self.monitor.on_step(
            state.step,
            state.epoch,
            out.losses,
            self._lrs(),
            self.train_metrics,
            out.timings,
            self.parts.dmp,
            batch=self._batch,
        )
        self._batch = None

    def _update_train_metrics(self, preds, batch) -> None:
        self._update_metrics(self.train_metrics, preds, batch)
        self._batch = batch  # embedding health reads it on log steps

    def _lrs(self) -> list[float]:
        return [g["lr"] for g in self.parts.optimizer.param_groups[:1]] + [
            g["lr"] for g in self._dense_groups()
        ]

    def _dense_groups(self) -> list[dict]:
        # "dense", then one "part<i>" per matched part_optimizers entry.
        opt = self.parts.optimizer
        return [
            g
            for name, o in getattr(opt, "optimizers", [])
            if name != "sparse"
            for g in o.param_groups
        ]

    def _save_and_evaluate(self, state: TrainState, evaluate: bool = True) -> None:
        self._check_weights_finite(state)
        state.train_metrics = {n: m.state_dict() for n, m in self.train_metrics.items()}
        state.data_layout = self.train_ds.layout()
        path = os.path.join(self.model_dir, f"model.ckpt-{state.step}")
        self.monitor.on_checkpoint_start(state.step, path)
        result = self.ckpt.save(
            state.step,
            self.parts.dmp,
            self.parts.optimizer,
            state.to_dict(),
            self.parts.plan,
        )
        self.monitor.on_checkpoint(
            state.step, result.path, result.nbytes, result.seconds
        )
        if evaluate:
            self._evaluate(state)
        self.ckpt.prune()

    def _evaluate(self, state: TrainState) -> None:
        loader = loader_for(self.eval_ds, self.config)
        total = self.eval_ds.num_batches()
        max_steps = self.config.eval_config.num_steps
        self.monitor.on_eval_start(
            state.step, min(total or max_steps, max_steps or total or 0) or None
        )
        values, batches, seconds = evaluate(
            self.parts.dmp,
            loader,
            self.eval_metrics,
            eval_metrics_updater(self.parts.model),
            self.dist.device,
            max_steps,
            self.monitor.on_eval_progress,
        )
        rows = batches * self.config.data_config.batch_size * self.dist.world_size
        if self.eval_ds.total_rows:
            rows = min(rows, self.eval_ds.total_rows)
        self.monitor.on_eval(state.step, state.epoch, values, seconds, rows)
        state.last_eval_step = state.step
        if self.best.update(state.step, values):
            state.best_step, state.best_value = self.best.step, self.best.value
            self.monitor.on_event(
                keys.EVENT_BEST_CHANGED,
                step=state.step,
                metric=self.best.metric,
                value=self.best.value,
            )
        if self.early_stopper is not None:
            reason = self.early_stopper.update(state.step, values)
            state.early_stop = self.early_stopper.state_dict()
            if reason:
                self.monitor.on_event(
                    keys.EVENT_EARLY_STOP, step=state.step, reason=reason
                )

    def _samples(self, state: TrainState) -> int:
        """Training rows read by all ranks up to ``state`` (resumes included)."""
        ds = self.train_ds
        return state.epoch * ds.total_rows + ds.rows_read(state.batch_in_epoch)

    def _track_nonfinite(self, total_loss: torch.Tensor) -> None:
        """Remembers the first step with a non-finite loss, on the device."""
        if self._first_bad is None:
            dev = total_loss.device
            self._first_bad = torch.full((), -1, dtype=torch.long, device=dev)
            self._step_counter = torch.full(
                (), self.state.step, dtype=torch.long, device=dev
            )
        self._step_counter += 1
        newly_bad = (self._first_bad < 0) & ~torch.isfinite(total_loss)
        self._first_bad = torch.where(newly_bad, self._step_counter, self._first_bad)

    def _raise_if_nonfinite(self) -> None:
        """Stops the run at a non-finite loss (a host read: log and save steps only)."""
        if self._first_bad is None:
            return
        bad = int(self._first_bad)
        if bad >= 0:
            self.monitor.on_event(keys.EVENT_NON_FINITE_LOSS, step=bad, log=False)
            raise TzrecError(
                f"non-finite loss at step {bad}",
                self.model_dir,
                "lower the learning rate or check the data for NaN/inf; "
                "the last good checkpoint is kept as the latest",
            )

    def _check_weights_finite(self, state: TrainState) -> None:
        self._raise_if_nonfinite()

    def _best_for_prune(self) -> int | None:
        best = self.settings.eval.best
        path = os.path.join(self.model_dir, keys.EVAL_RESULT_FILE)
        if not os.path.exists(path):
            return None
        try:
            found = best_step(path, best.name, best.larger_is_better)
        except TzrecError:
            return None
        return found[0] if found else None

    def _gradient_hook(self, step: int):
        # Called before each step's forward: the monitor arms diagnostics.
        self.monitor.before_step(step)
        if not self.monitor.wants_gradients(step):
            return None
        return lambda: self.monitor.on_gradients(step, self.parts.dmp)

    def _timed_save_due(self, step: int, batch: Batch) -> bool:
        field = self.config.train_config.save_checkpoints_timestamp_field
        due = self.save_cadence.due(step, batch_event_time(batch, field))
        self.state.event_time_watermark = self.save_cadence.watermark
        return due

    def _should_stop(self) -> str | None:
        if self.stop.agreed():
            return self.stop.reason
        return self.early_stopper.reason if self.early_stopper is not None else None

    # ---- run ----

    def run(self) -> str:
        """Trains to the end of the schedule; returns why it ended."""
        self.stop.install()
        status, reason = "failed", ""
        try:
            self.monitor.on_train_start(self.train_ds.total_rows)
            if self._eval_pending:
                self._evaluate(self.state)
            hooks = LoopHooks(
                batches=self._batches,
                step_model=(
                    self.parts.dmp,
                    self.parts.optimizer,
                    self.parts.model.loss,
                ),
                update_train_metrics=self._update_train_metrics,
                on_step=self._on_step,
                save_and_evaluate=self._save_and_evaluate,
                should_stop=self._should_stop,
                device=self.dist.device,
                before_update=self._gradient_hook,
                save_due=self._timed_save_due,
            )
            reason = fit(self.state, self.schedule, hooks)
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
