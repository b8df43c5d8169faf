"""Sparse (fused, in-backward) and dense optimizers from the train config.

Embedding tables are updated inside their backward by fbgemm's fused kernels
(``apply_optimizer_in_backward``): no dense gradient for a table ever exists.
fbgemm's CPU build has SGD, Adagrad and row-wise Adagrad kernels but no Adam
for embeddings, so Adam-family sparse optimizers need CUDA.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import nn
from torchrec.optim import RowWiseAdagrad
from torchrec.optim.apply_optimizer_in_backward import apply_optimizer_in_backward
from torchrec.optim.keyed import CombinedOptimizer, KeyedOptimizerWrapper
from torchrec.optim.optimizers import in_backward_optimizer_filter

from tzrec.optim.lr import build_schedule
from tzrec.optim.train_optimizer import TrainOptimizer
from tzrec.protos import optimizer_pb2
from tzrec.utils.errors import ConfigError

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
        return RowWiseAdagrad, {"lr": o.lr, "weight_decay": o.weight_decay, "eps": 1e-8}
    return torch.optim.Adam, {
        "lr": o.lr,
        "betas": (o.beta1, o.beta2),
        "weight_decay": o.weight_decay,
    }


def dense_optimizer_factory(cfg: optimizer_pb2.DenseOptimizer):  # noqa: ANN201
    """A function params -> torch optimizer for the dense parameters."""
    kind = cfg.WhichOneof("optimizer")
    where = f"train_config.dense_optimizer.{kind}"
    o = getattr(cfg, kind) if kind else None
    if kind == "adam_optimizer":
        return lambda p: torch.optim.Adam(
            p, lr=o.lr, betas=(o.beta1, o.beta2), weight_decay=o.weight_decay
        )
    if kind == "adamw_optimizer":
        return lambda p: torch.optim.AdamW(
            p, lr=o.lr, betas=(o.beta1, o.beta2), weight_decay=o.weight_decay
        )
    if kind == "sgd_optimizer":
        return lambda p: torch.optim.SGD(
            p, lr=o.lr, momentum=o.momentum, weight_decay=o.weight_decay
        )
    if kind == "adagrad_optimizer":
        return lambda p: torch.optim.Adagrad(
            p,
            lr=o.lr,
            weight_decay=o.weight_decay,
            initial_accumulator_value=o.initial_accumulator_value,
        )
    raise ConfigError(
        f"dense optimizer {kind} is not supported yet"
        if kind
        else "no dense optimizer",
        where if kind else "train_config.dense_optimizer",
        "use adam_optimizer, adamw_optimizer, sgd_optimizer or adagrad_optimizer",
    )


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


def build_optimizer(dmp: nn.Module, train_config) -> TrainOptimizer:  # noqa: ANN001
    """The fused sparse optimizer and the dense one, as one keyed optimizer.

    Wrapped in a :class:`TrainOptimizer` for learning-rate schedules,
    gradient accumulation and clipping. Param group order (``lr/g<i>``
    tags): the sparse groups first, then the dense group.
    """
    dense = {
        name: p
        for name, p in in_backward_optimizer_filter(dmp.named_parameters())
        if p.requires_grad
    }
    factory = dense_optimizer_factory(train_config.dense_optimizer)
    init_sparse_accumulators(dmp.fused_optimizer, train_config.sparse_optimizer)
    parts = [("sparse", dmp.fused_optimizer)]
    if dense:
        parts.append(("dense", KeyedOptimizerWrapper(dense, factory)))
    tc = train_config
    schedules = {
        "sparse": build_schedule(tc.sparse_optimizer, "train_config.sparse_optimizer"),
        "dense": build_schedule(tc.dense_optimizer, "train_config.dense_optimizer"),
    }
    clip = tc.grad_clipping
    return TrainOptimizer(
        CombinedOptimizer(parts),
        schedules,
        tc.gradient_accumulation_steps,
        clip.clipping_type,
        clip.max_gradient,
        clip.norm_type,
    )
