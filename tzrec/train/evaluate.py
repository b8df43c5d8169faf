"""Evaluation over the eval set: metrics reduced across ranks, one dict out."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable

import torch
from torch import nn

from tzrec.datasets.batch import Batch
from tzrec.utils.failpoints import failpoint


@torch.no_grad()
def evaluate(
    model: nn.Module,
    batches: Iterable[Batch],
    metrics: dict,
    update_metrics: Callable[[dict, dict[str, torch.Tensor], Batch], None],
    device: torch.device,
    max_steps: int = 0,
    on_progress: Callable[[int], object] | None = None,
) -> tuple[dict[str, float], int, float]:
    """Runs the model over ``batches`` and computes ``metrics``.

    Args:
        model: the (DMP-wrapped) model; put in eval mode for the pass.
        batches: eval batches.
        metrics: name -> metric object with reset/update/compute.
        update_metrics: feeds one batch's predictions into the metrics.
        device: where to compute.
        max_steps: stop after this many batches (0: all).
        on_progress: called with the eval step after each batch.

    Returns:
        (metric values, batches seen, seconds).
    """
    start = time.perf_counter()
    was_training = model.training
    model.eval()
    for m in metrics.values():
        m.reset()
    steps = 0
    try:
        for batch in batches:
            batch = batch.to(device, non_blocking=True)
            preds = model(batch)
            update_metrics(metrics, preds, batch)
            steps += 1
            failpoint("mid_eval", steps)
            if on_progress is not None:
                on_progress(steps)
            if max_steps and steps >= max_steps:
                break
    finally:
        model.train(was_training)
    values = {name: float(m.compute()) for name, m in metrics.items()}
    return values, steps, time.perf_counter() - start
