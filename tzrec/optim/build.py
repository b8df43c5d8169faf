"""Sparse (fused, in-backward) and dense optimizers from the train config.

Embedding tables are updated inside their backward by fbgemm's fused kernels
(``apply_optimizer_in_backward``): no dense gradient for a table ever exists.
fbgemm's CPU build has SGD, Adagrad and row-wise Adagrad kernels but no Adam
for embeddings, so Adam-family sparse optimizers need CUDA.
"""

from __future__ import annotations

import importlib
import logging
from typing import TYPE_CHECKING, Any

import torch
from torch import nn
from torchrec.optim import RowWiseAdagrad
from torchrec.optim.apply_optimizer_in_backward import apply_optimizer_in_backward
from torchrec.optim.keyed import CombinedOptimizer, KeyedOptimizerWrapper
from torchrec.optim.optimizers import in_backward_optimizer_filter

from tzrec.monitor.keys import param_name
from tzrec.optim.dense import dense_optimizer_factory, group_by_pattern
from tzrec.optim.lr import Schedule, build_schedule
from tzrec.optim.train_optimizer import TrainOptimizer
from tzrec.protos import optimizer_pb2
from tzrec.utils.errors import ConfigError

if TYPE_CHECKING:
    from torchrec.distributed import DistributedModelParallel

_logger = logging.getLogger("tzrec")
_SPARSE_CPU = ("sgd_optimizer", "adagrad_optimizer", "rowwise_adagrad_optimizer")
_SPARSE_CUDA = ("adam_optimizer",)


def sparse_optimizer_spec(
    cfg: optimizer_pb2.SparseOptimizer,
) -> tuple[type, dict[str, Any]]:
    """The optimizer class torchrec fuses into the tables, and its kwargs."""
    kind = cfg.WhichOneof("optimizer")
    where = f"train_config.sparse_optimizer.{kind}"
    if kind is None:
        raise ConfigError(
            "no sparse optimizer",
            "train_config.sparse_optimizer",
            "set e.g. adagrad_optimizer { lr: 0.01 }",
        )
    if kind in _SPARSE_CUDA and not torch.cuda.is_available():
        raise ConfigError(
            f"{kind} needs CUDA: fbgemm's CPU kernels have no Adam for embeddings",
            where,
            "use adagrad_optimizer, rowwise_adagrad_optimizer or sgd_optimizer on CPU",
        )
    if kind not in _SPARSE_CPU + _SPARSE_CUDA:
        raise ConfigError(
            f"sparse {kind} is not supported yet",
            where,
            "use adagrad_optimizer, rowwise_adagrad_optimizer or sgd_optimizer",
        )
    o = getattr(cfg, kind)
    if kind == "sgd_optimizer":
        return torch.optim.SGD, {"lr": o.lr, "weight_decay": o.weight_decay}
    if kind == "adagrad_optimizer":
        return torch.optim.Adagrad, {
            "lr": o.lr,
            "weight_decay": o.weight_decay,
            "eps": 1e-8,
        }
    if kind == "rowwise_adagrad_optimizer":
        return RowWiseAdagrad, {
            "lr": o.lr,
            "weight_decay": o.weight_decay,
            "eps": 1e-8,
            "weight_decay_mode": _weight_decay_mode(o.weight_decay_mode),
        }
    return torch.optim.Adam, {
        "lr": o.lr,
        "betas": (o.beta1, o.beta2),
        "weight_decay": o.weight_decay,
    }


def _weight_decay_mode(value: int) -> Any:
    """The WeightDecayMode of fbgemm for a proto value (NONE 0, L2 1, DECOUPLE 2).

    Looked up by name at run time: fbgemm ships no type information.
    """
    fbgemm = importlib.import_module(
        "fbgemm_gpu.split_table_batched_embeddings_ops_training"
    )
    return fbgemm.WeightDecayMode(value)


def apply_sparse_optimizer(
    model: nn.Module, cfg: optimizer_pb2.SparseOptimizer
) -> None:
    """Attaches the fused optimizer to every embedding table (before DMP wraps)."""
    cls, kwargs = sparse_optimizer_spec(cfg)
    # Frozen tables (trainable: false) already carry their own lr-0 optimizer.
    tables = [
        p
        for name, p in in_backward_optimizer_filter(model.named_parameters())
        if ".embedding_bags." in name or ".embeddings." in name
    ]
    if tables:
        apply_optimizer_in_backward(cls, tables, kwargs)


def init_sparse_accumulators(
    fused: torch.optim.Optimizer, cfg: optimizer_pb2.SparseOptimizer
) -> None:
    """Starts (row-wise) Adagrad's squared-gradient sums at initial_accumulator_value.

    fbgemm's fused kernels take no initial value and start the sums (their
    ``momentum1`` state) at 0, so the value is written into that state once,
    before the first step; a restored checkpoint overwrites it.

    Args:
        fused: the sharded model's fused optimizer (``dmp.fused_optimizer``).
        cfg: the sparse optimizer config.

    """
    kind = cfg.WhichOneof("optimizer")
    if kind not in ("adagrad_optimizer", "rowwise_adagrad_optimizer"):
        return
    value = getattr(cfg, kind).initial_accumulator_value
    if value == 0.0:
        return
    for state in fused.state.values():
        for name, t in state.items():
            if not name.endswith("momentum1"):
                continue
            shards = t.local_shards() if hasattr(t, "local_shards") else None
            for local in [s.tensor for s in shards] if shards is not None else [t]:
                local.fill_(value)


def build_optimizer(dmp: DistributedModelParallel, train_config) -> TrainOptimizer:
    """The fused sparse optimizer and the dense ones, as one keyed optimizer.

    Wrapped in a :class:`TrainOptimizer` for learning-rate schedules,
    gradient accumulation and clipping. Param group order (``lr/g<i>``
    tags): the sparse groups first, then the dense group, then one group per
    ``part_optimizers`` entry that matched parameters (in config order).
    """
    tc = train_config
    dense_cfg = tc.dense_optimizer
    dense = {
        name: p
        for name, p in in_backward_optimizer_filter(dmp.named_parameters())
        if p.requires_grad
    }
    where = "train_config.dense_optimizer"
    patterns = [po.regex_pattern for po in dense_cfg.part_optimizers]
    rest, part_params = group_by_pattern(dense, patterns)
    init_sparse_accumulators(dmp.fused_optimizer, tc.sparse_optimizer)
    parts: list[tuple[str, Any]] = [("sparse", dmp.fused_optimizer)]
    schedules: dict[str, Schedule | None] = {
        "sparse": build_schedule(tc.sparse_optimizer, "train_config.sparse_optimizer"),
        "dense": build_schedule(dense_cfg, where),
    }
    if rest:
        parts.append(
            (
                "dense",
                KeyedOptimizerWrapper(rest, dense_optimizer_factory(dense_cfg, where)),
            )
        )
    for i, (po, params) in enumerate(zip(dense_cfg.part_optimizers, part_params)):
        _logger.info(
            "[optim] part_optimizers[%d] (%s): %d parameters %s",
            i,
            po.regex_pattern,
            len(params),
            sorted(param_name(n) for n in params)[:8],
        )
        if not params:
            continue
        at = f"{where}.part_optimizers[{i}]"
        parts.append(
            (f"part{i}", KeyedOptimizerWrapper(params, dense_optimizer_factory(po, at)))
        )
        schedules[f"part{i}"] = build_schedule(po, at, inherit_from=dense_cfg)
    clip = tc.grad_clipping
    return TrainOptimizer(
        CombinedOptimizer(parts),
        schedules,
        tc.gradient_accumulation_steps,
        clip.clipping_type,
        clip.max_gradient,
        clip.norm_type,
    )
