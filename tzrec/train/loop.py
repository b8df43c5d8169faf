"""The training loop: read this file first.

``fit`` runs steps until ``num_steps`` or ``num_epochs``; after every step it
calls the Monitor, and at each checkpoint trigger it saves, evaluates and
updates the best step. Device values are read only on log and eval steps.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable, Iterable, Iterator

import torch

from tzrec.datasets.batch import Batch
from tzrec.train.state import TrainState
from tzrec.train.step import train_step
from tzrec.utils.errors import DataError
from tzrec.utils.failpoints import failpoint


@dataclasses.dataclass
class LoopHooks:
    """What the loop calls out to; built by :mod:`tzrec.train.session`.

    Attributes:
        batches: epoch, batches to skip -> iterator of Batches for this rank.
        step_model: (model, optimizer, loss_fn) for a train step.
        update_train_metrics: (preds, batch) -> None, on the device.
        on_step: (state, StepOutput) -> None, i.e. the Monitor.
        save_and_evaluate: (state, evaluate=True) -> None: checkpoint, eval,
            best, prune.
        should_stop: () -> str | None: a reason to stop now (signal, early stop).
        before_update: step -> callable or None, run between backward and the
            dense optimizer step (gradient summaries on log steps).
        device: where batches go.
        save_due: (step, host batch) -> bool, called on every rank after
            every step: a save trigger besides the step/epoch ones (event
            time, :mod:`tzrec.train.save_cadence`).
    """

    batches: Callable
    step_model: tuple
    update_train_metrics: Callable
    on_step: Callable
    save_and_evaluate: Callable
    should_stop: Callable[[], str | None]
    device: torch.device
    before_update: Callable = lambda step: None
    save_due: Callable[[int, Batch], bool] = lambda step, batch: False


@dataclasses.dataclass
class Schedule:
    """When to stop and save."""

    num_steps: int = 0
    num_epochs: int = 0
    save_steps: int = 0
    save_epochs: int = 0


def fit(state: TrainState, schedule: Schedule, hooks: LoopHooks) -> str:
    """Trains from ``state`` (mutated in place) until the schedule ends.

    Returns:
        Why it ended: ``finished``, or the reason ``should_stop`` gave.
    """
    model, optimizer, loss_fn = hooks.step_model
    last_saved = state.step
    reason = None
    while reason is None and not _done(state, schedule):
        epoch_ended, seen = True, 0
        for batch, wait in _timed(hooks.batches(state.epoch, state.batch_in_epoch)):
            seen += 1
            host_batch = batch
            batch = batch.to(hooks.device, non_blocking=True)
            hook = hooks.before_update(state.step + 1)
            out = train_step(model, optimizer, batch, loss_fn, wait, hook)
            state.step += 1
            state.batch_in_epoch += 1
            failpoint("after_step", state.step)
            hooks.update_train_metrics(out.preds, batch)
            hooks.on_step(state, out)
            timed = hooks.save_due(state.step, host_batch)  # collective: every step
            if timed or (schedule.save_steps and state.step % schedule.save_steps == 0):
                hooks.save_and_evaluate(state)
                last_saved = state.step
            reason = hooks.should_stop()
            if reason or _done(state, schedule):
                epoch_ended = False
                break
        if not epoch_ended:
            continue
        if seen == 0 and state.batch_in_epoch == 0:
            raise DataError(
                "the training data has no rows",
                "train_input_path",
                "check the input files",
            )
        state.epoch += 1
        state.batch_in_epoch = 0
        due = schedule.save_epochs and state.epoch % schedule.save_epochs == 0
        if due and state.step != last_saved:
            hooks.save_and_evaluate(state)
            last_saved = state.step
        reason = hooks.should_stop()
    if state.step != last_saved:
        # A signal asks for a quick exit: save now, evaluate on resume.
        hooks.save_and_evaluate(state, evaluate=reason is None)
    return reason or "finished"


def _timed(batches: Iterable[Batch]) -> Iterator[tuple[Batch, float]]:
    """Yields each batch with the seconds spent waiting for it."""
    it = iter(batches)
    while True:
        t0 = time.perf_counter()
        batch = next(it, None)
        if batch is None:
            return
        yield batch, time.perf_counter() - t0


def _done(state: TrainState, schedule: Schedule) -> bool:
    if schedule.num_steps:
        return state.step >= schedule.num_steps
    return state.epoch >= schedule.num_epochs
