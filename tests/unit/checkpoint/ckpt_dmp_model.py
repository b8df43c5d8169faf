"""A tiny real torchrec model for checkpoint tests (and the torchrun script).

Two embedding tables built on the meta device, an MLP, fused Adagrad applied
in backward for the tables, Adam (KeyedOptimizerWrapper) for the dense part,
both in one CombinedOptimizer, sharded by DistributedModelParallel on CPU.
"""

from __future__ import annotations

import torch
import torch.distributed as dist
from torch import nn
from torchrec import EmbeddingBagCollection, EmbeddingBagConfig, KeyedJaggedTensor
from torchrec.distributed import DistributedModelParallel
from torchrec.distributed.planner import (
    EmbeddingShardingPlanner,
    ParameterConstraints,
    Topology,
)
from torchrec.distributed.sharding_plan import get_default_sharders
from torchrec.optim.apply_optimizer_in_backward import apply_optimizer_in_backward
from torchrec.optim.keyed import CombinedOptimizer, KeyedOptimizerWrapper
from torchrec.optim.optimizers import in_backward_optimizer_filter

FEATURES = ("f1", "f2")


class TinyModel(nn.Module):
    """EBC over two id features, then an MLP to one logit."""

    def __init__(self, rows: int = 100, dim: int = 8, hidden: int = 4) -> None:
        super().__init__()
        self.ebc = EmbeddingBagCollection(
            tables=[
                EmbeddingBagConfig(
                    name=f"t{i + 1}",
                    embedding_dim=dim,
                    num_embeddings=rows // (i + 1),
                    feature_names=[name],
                )
                for i, name in enumerate(FEATURES)
            ],
            device=torch.device("meta"),
        )
        self.mlp = nn.Sequential(
            nn.Linear(dim * len(FEATURES), hidden), nn.ReLU(), nn.Linear(hidden, 1)
        )

    def forward(self, kjt: KeyedJaggedTensor) -> torch.Tensor:
        return self.mlp(self.ebc(kjt).values()).squeeze(-1)


def build(
    seed: int,
    sharding: dict[str, str] | None = None,
    rows: int = 100,
    dim: int = 8,
    hidden: int = 4,
) -> tuple[DistributedModelParallel, CombinedOptimizer]:
    """Builds the sharded model and its combined optimizer.

    Args:
        seed: torch seed for the initial weights.
        sharding: table name -> sharding type (default table_wise for all).
        rows, dim, hidden: sizes.
    """
    torch.manual_seed(seed)
    model = TinyModel(rows, dim, hidden)
    apply_optimizer_in_backward(
        torch.optim.Adagrad, model.ebc.parameters(), {"lr": 0.1}
    )
    sharding = sharding or {}
    constraints = {
        t: ParameterConstraints(
            sharding_types=[sharding.get(t, "table_wise")],
            compute_kernels=["fused"],
            min_partition=dim // 2,  # column_wise: two shards per table
        )
        for t in ("t1", "t2")
    }
    world = dist.get_world_size()
    planner = EmbeddingShardingPlanner(
        topology=Topology(
            world_size=world, compute_device="cpu", local_world_size=world
        ),
        constraints=constraints,
    )
    plan = planner.collective_plan(
        model, get_default_sharders(), dist.GroupMember.WORLD
    )
    dmp = DistributedModelParallel(model, device=torch.device("cpu"), plan=plan)
    dense = KeyedOptimizerWrapper(
        dict(in_backward_optimizer_filter(dmp.named_parameters())),
        lambda params: torch.optim.Adam(params, lr=0.01),
    )
    return dmp, CombinedOptimizer([dmp.fused_optimizer, dense])


def batch(seed: int, rows: int = 100, size: int = 8) -> KeyedJaggedTensor:
    """A deterministic batch of ``size`` examples for both features."""
    g = torch.Generator().manual_seed(seed)
    lengths = torch.randint(1, 3, (len(FEATURES) * size,), generator=g)
    values = torch.randint(0, rows // 2, (int(lengths.sum()),), generator=g)
    return KeyedJaggedTensor.from_lengths_sync(
        keys=list(FEATURES), values=values, lengths=lengths
    )


def train(dmp: nn.Module, opt: CombinedOptimizer, steps: int, seed: int = 0) -> None:
    """Runs ``steps`` optimizer steps on deterministic batches."""
    for i in range(steps):
        loss = dmp(batch(seed * 1000 + i)).pow(2).mean()
        loss.backward()
        opt.step()
        opt.zero_grad()


def pieces(state: dict) -> dict[str, tuple[list[int], list]]:
    """Dotted key -> (global size, [(offsets, copy of local piece)]) of a state.

    Sharded tensors give their local shards; plain tensors one whole piece.
    """
    from tzrec.checkpoint._dcp import flatten

    out = {}
    for key, value in flatten(state)[0].items():
        if hasattr(value, "local_shards"):
            parts = [
                (list(s.metadata.shard_offsets), s.tensor.detach().clone())
                for s in value.local_shards()
            ]
        else:
            parts = [([0] * value.dim(), value.detach().clone())]
        out[key] = (list(value.size()), parts)
    return out


def assemble(*rank_pieces: dict) -> dict[str, torch.Tensor]:
    """Full tensors from the ``pieces`` of one or more ranks."""
    out: dict[str, torch.Tensor] = {}
    for per_rank in rank_pieces:
        for key, (size, parts) in per_rank.items():
            full = out.setdefault(key, torch.zeros(size))
            for offsets, tensor in parts:
                idx = tuple(slice(o, o + n) for o, n in zip(offsets, tensor.shape))
                full[idx] = tensor
    return out


def snapshot(state: dict) -> dict[str, torch.Tensor]:
    """Dotted-key full copies of every tensor in a one-process state dict."""
    return assemble(pieces(state))
