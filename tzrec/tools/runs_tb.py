"""TensorBoard scalars of a run, read with tensorboard's own EventAccumulator."""

from __future__ import annotations

import os

from tzrec.monitor import keys
from tzrec.run_dir import names


def read_scalars(log_dir: str) -> dict[str, list[tuple[int, float]]]:
    """All scalar series in one TensorBoard run folder (not its sub-folders).

    Returns:
        ``{tag: [(step, value), ...]}`` sorted by step; a step written twice
        (a resumed run redoing steps) keeps its last value. A folder without
        event files gives ``{}``.
    """
    if not os.path.isdir(log_dir) or not any(
        n.startswith("events.out.tfevents") for n in os.listdir(log_dir)
    ):
        return {}
    from tensorboard.backend.event_processing.event_accumulator import (
        EventAccumulator,
    )

    acc = EventAccumulator(log_dir, size_guidance={"scalars": 0})
    acc.Reload()
    out = {}
    for tag in acc.Tags().get("scalars", []):
        by_step = {e.step: e.value for e in acc.Scalars(tag)}
        out[tag] = sorted(by_step.items())
    return out


def run_scalars(
    model_dir: str,
) -> tuple[dict[str, list[tuple[int, float]]], dict[str, list[tuple[int, float]]]]:
    """``(train, eval)`` scalars: ``model_dir/`` and ``model_dir/eval_val/``."""
    return read_scalars(model_dir), read_scalars(
        os.path.join(model_dir, names.EVAL_VAL_DIR)
    )


def total_loss_series(
    train: dict[str, list[tuple[int, float]]],
) -> list[tuple[int, float]]:
    """The train loss to plot: ``loss/total``, or the one loss when alone.

    A one-loss run writes no ``loss/total`` (it would repeat the loss).
    """
    if keys.LOSS_TOTAL in train:
        return train[keys.LOSS_TOTAL]
    losses = [t for t in train if t.startswith("loss/")]
    return train[losses[0]] if len(losses) == 1 else []
