"""Sharding, optimizers and a plain train / eval loop for the reference models.

The embedding tables are sharded by DistributedModelParallel with the fused
kernel and updated inside their backward (fbgemm's exact Adagrad); every
other parameter is trained by a dense optimizer (Adam) stepped after
backward. Batches are built up front, so the loop measures the model path.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable, Sequence
from typing import Any

import torch
import torch.distributed as dist
import torch.nn.functional as F
from torch import nn
from torchmetrics.functional.classification import binary_auroc
from torchrec.distributed import DistributedModelParallel
from torchrec.distributed.planner import (
    EmbeddingShardingPlanner,
    ParameterConstraints,
    Topology,
)
from torchrec.distributed.types import ShardingType
from torchrec.modules.embedding_modules import EmbeddingBagCollection
from torchrec.optim.apply_optimizer_in_backward import apply_optimizer_in_backward
from torchrec.optim.keyed import CombinedOptimizer, KeyedOptimizerWrapper
from torchrec.optim.optimizers import in_backward_optimizer_filter

from tzrec.benchmark.reference.common import ReferenceBatch


@dataclasses.dataclass
class ReferenceTrainer:
    """A sharded reference model and its optimizer.

    Attributes:
        dmp: the DistributedModelParallel-wrapped model.
        optimizer: the fused sparse optimizer and the dense one, combined.
        device: where batches must be.
    """

    dmp: DistributedModelParallel
    optimizer: CombinedOptimizer
    device: torch.device


def shard(
    model: nn.Module,
    device: torch.device,
    sparse_lr: float = 0.01,
    dense_lr: float = 0.001,
    sparse_eps: float = 1e-8,
    dense_optimizer: Callable[..., torch.optim.Optimizer] | None = None,
) -> ReferenceTrainer:
    """Attaches fused Adagrad to every table, shards, and builds the optimizers.

    Args:
        model: a reference model built on the ``meta`` device (or CPU).
        device: the training device.
        sparse_lr: Adagrad learning rate of the embedding tables.
        dense_lr: learning rate of the dense optimizer.
        sparse_eps: Adagrad epsilon of the tables.
        dense_optimizer: ``params -> optimizer`` (default Adam at ``dense_lr``).
    """
    tables = [m for m in model.modules() if isinstance(m, EmbeddingBagCollection)]
    for ebc in tables:
        apply_optimizer_in_backward(
            torch.optim.Adagrad, ebc.parameters(), {"lr": sparse_lr, "eps": sparse_eps}
        )
    constraints = {
        cfg.name: ParameterConstraints(
            sharding_types=[
                ShardingType.TABLE_WISE.value,
                ShardingType.ROW_WISE.value,
                ShardingType.COLUMN_WISE.value,
            ],
            compute_kernels=["fused"],
        )
        for ebc in tables
        for cfg in ebc.embedding_bag_configs()
    }
    if not dist.is_initialized():  # a single process still needs a group for DMP
        backend = "nccl" if device.type == "cuda" else "gloo"
        dist.init_process_group(backend, store=dist.HashStore(), rank=0, world_size=1)
    planner = EmbeddingShardingPlanner(
        topology=Topology(world_size=dist.get_world_size(), compute_device=device.type),
        constraints=constraints,
    )
    plan = planner.collective_plan(model, None, dist.GroupMember.WORLD)
    dmp = DistributedModelParallel(model, device=device, plan=plan)
    dense = {
        name: p
        for name, p in in_backward_optimizer_filter(dmp.named_parameters())
        if p.requires_grad
    }
    make = dense_optimizer or (lambda ps: torch.optim.Adam(ps, lr=dense_lr))
    parts = [("sparse", dmp.fused_optimizer)]
    if dense:
        parts.append(("dense", KeyedOptimizerWrapper(dense, make)))
    return ReferenceTrainer(dmp, CombinedOptimizer(parts), device)


@dataclasses.dataclass
class TrainTimes:
    """Seconds spent per phase over the timed steps, and how many steps.

    ``forward`` includes the loss; ``backward`` includes the fused table
    updates; ``optimizer`` is the dense step.
    """

    forward: float = 0.0
    backward: float = 0.0
    optimizer: float = 0.0
    steps: int = 0
    rows: int = 0


def train(
    trainer: ReferenceTrainer,
    batches: Sequence[ReferenceBatch],
    warmup_steps: int = 0,
    timed: bool = True,
) -> TrainTimes:
    """One pass over ``batches``: forward, BCE loss, backward, dense step.

    The first ``warmup_steps`` steps are left out of the returned times.
    ``timed=False`` skips the per-phase clock reads.
    """
    dmp, opt = trainer.dmp, trainer.optimizer
    dmp.train()
    times = TrainTimes()
    for i, batch in enumerate(batches):
        t0 = time.perf_counter() if timed else 0.0
        logits = dmp(batch.sparse, batch.dense)
        loss = F.binary_cross_entropy_with_logits(logits.squeeze(1), batch.labels)
        opt.zero_grad(set_to_none=True)
        t1 = time.perf_counter() if timed else 0.0
        loss.backward()
        t2 = time.perf_counter() if timed else 0.0
        opt.step()
        if timed and i >= warmup_steps:
            t3 = time.perf_counter()
            times.forward += t1 - t0
            times.backward += t2 - t1
            times.optimizer += t3 - t2
            times.steps += 1
            times.rows += batch.batch_size
    return times


@torch.no_grad()
def predict(
    trainer: ReferenceTrainer, batches: Sequence[ReferenceBatch]
) -> tuple[torch.Tensor, torch.Tensor]:
    """Probabilities and labels over ``batches``, in order (this rank's rows)."""
    dmp = trainer.dmp
    dmp.eval()
    probs, labels = [], []
    for batch in batches:
        probs.append(torch.sigmoid(dmp(batch.sparse, batch.dense).squeeze(1)))
        labels.append(batch.labels)
    dmp.train()
    return torch.cat(probs), torch.cat(labels)


def evaluate_auc(trainer: ReferenceTrainer, batches: Sequence[ReferenceBatch]) -> float:
    """ROC AUC over ``batches`` (all ranks' rows when distributed)."""
    probs, labels = predict(trainer, batches)
    if dist.is_initialized() and dist.get_world_size() > 1:
        gathered: list[Any] = [None] * dist.get_world_size()
        dist.all_gather_object(gathered, (probs.cpu(), labels.cpu()))
        probs = torch.cat([g[0] for g in gathered])
        labels = torch.cat([g[1] for g in gathered])
    return float(binary_auroc(probs.float(), labels.long()))
