"""One optimisation step, timed in three parts, with no host-device sync."""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable

import torch
from torch import nn

from tzrec.datasets.batch import Batch
from tzrec.monitor.train_window import StepTimings


@dataclasses.dataclass
class StepOutput:
    """What a step leaves for monitoring; tensors stay on the device."""

    losses: dict[str, torch.Tensor]
    total_loss: torch.Tensor
    preds: dict[str, torch.Tensor]
    timings: StepTimings


def train_step(
    model: nn.Module,
    optimizer: torch.optim.Optimizer,
    batch: Batch,
    loss_fn,  # (preds, batch) -> dict of scalar losses
    data_wait: float,
    before_update: Callable[[], None] | None = None,
) -> StepOutput:
    """Forward, backward (embedding tables update here, fused) and dense step.

    Mixed precision runs inside the model's forward (autocast); gradient
    accumulation and clipping live in the optimizer
    (:class:`tzrec.optim.train_optimizer.TrainOptimizer`), whose
    ``loss_scale`` (``1/k`` when accumulating ``k`` micro-batches) scales the
    loss before backward. Returned losses are unscaled.
    """
    t0 = time.perf_counter()
    # Before the forward: it also sets this step's learning rates, and the
    # fused embedding kernels read theirs when the lookup runs.
    optimizer.zero_grad(set_to_none=True)
    preds = model(batch)
    losses = loss_fn(preds, batch)
    total = (
        torch.stack(list(losses.values())).sum()
        if len(losses) > 1
        else next(iter(losses.values()))
    )
    scale = getattr(optimizer, "loss_scale", 1.0)
    (total * scale if scale != 1.0 else total).backward()
    if before_update is not None:  # gradient summaries, on log steps only
        before_update()
    t1 = time.perf_counter()
    optimizer.step()
    t2 = time.perf_counter()
    detached = {k: v.detach() for k, v in losses.items()}
    preds = {k: v.detach() for k, v in preds.items()}
    return StepOutput(
        detached, total.detach(), preds, StepTimings(data_wait, t1 - t0, t2 - t1)
    )
