"""Case (b): the hand-written loop tzrec is measured against.

The same model (built by :func:`tzrec.train.setup.build_model_parts`, so the
same sharding plan and fused sparse optimizer), the same batches (read ahead
through the configured DataLoader and held in memory, on the device), the
same optimizers (the fused sparse one and the config's dense one, combined as
a torchrec user would: no schedules, accumulation or clipping wrapper), and a
plain ``for`` loop: forward, loss, zero_grad, backward, step. No monitor, no
metrics, no data wait.
"""

from __future__ import annotations

import gc
import itertools
import time
from typing import cast

import torch
from torchrec.optim.keyed import CombinedOptimizer, KeyedOptimizerWrapper
from torchrec.optim.optimizers import in_backward_optimizer_filter

from tzrec.benchmark.train_bench import cpu_seconds, sync
from tzrec.benchmark.workload import Workload
from tzrec.datasets.batch import Batch
from tzrec.optim.build import dense_optimizer_factory
from tzrec.train.setup import build_dataset, build_model_parts, loader_for
from tzrec.utils.dist import DistInfo


def lean_optimizer(dmp: torch.nn.Module, dense_config) -> CombinedOptimizer:
    """The fused sparse optimizer plus the dense one, nothing around them."""
    dense = {
        name: p
        for name, p in in_backward_optimizer_filter(dmp.named_parameters())
        if p.requires_grad
    }
    parts = [("sparse", dmp.fused_optimizer)]
    if dense:
        parts.append(
            (
                "dense",
                KeyedOptimizerWrapper(dense, dense_optimizer_factory(dense_config)),
            )
        )
    return CombinedOptimizer(parts)


def prebuilt_batches(
    workload: Workload,
    parts,
    dist_info: DistInfo,
    batch_size: int,
    count: int,
) -> list[Batch]:
    """The first ``count`` batches of the train loader, on the device.

    A train split shorter than ``count`` batches is cycled.
    """
    config = workload.config(batch_size)
    dataset = build_dataset(config, parts, config.train_input_path, dist_info, False)
    batches = list(itertools.islice(loader_for(dataset, config), count))
    batches = [b.to(dist_info.device) for b in batches]
    return [batches[i % len(batches)] for i in range(count)]


def run_lean(
    workload: Workload, dist_info: DistInfo, batch_size: int
) -> dict[str, float]:
    """Times the lean loop; returns ``samples_per_s`` and ``cpu_us_per_sample``."""
    sizes = workload.sizes
    steps = sizes.steps(batch_size)
    config = workload.config(batch_size)
    parts = build_model_parts(config, dist_info)
    model, dmp = parts.model, parts.dmp
    optimizer = lean_optimizer(dmp, config.train_config.dense_optimizer)
    batches = prebuilt_batches(
        workload, parts, dist_info, batch_size, sizes.warmup_steps + steps
    )
    dmp.train()
    t0 = cpu0 = 0.0
    for i, batch in enumerate(batches):
        if i == sizes.warmup_steps:
            sync(dist_info.device)
            t0, cpu0 = time.perf_counter(), cpu_seconds()
        preds = dmp(batch)
        loss = cast(torch.Tensor, sum(model.loss(preds, batch).values()))
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
    sync(dist_info.device)
    seconds, cpu = time.perf_counter() - t0, cpu_seconds() - cpu0
    del parts, model, dmp, optimizer, batches
    gc.collect()
    return {
        "samples_per_s": steps * batch_size * dist_info.world_size / seconds,
        "cpu_us_per_sample": 1e6 * cpu / (steps * batch_size),
    }
