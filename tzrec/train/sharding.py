"""The embedding sharding plan: torchrec's planner, fused kernels only.

Data-parallel tables would get dense gradients and a dense optimizer step over
every row; tzrec keeps the sparse optimizer fused for every table, so the
planner may choose table-, row- or column-wise sharding but not data-parallel.
"""

from __future__ import annotations

import torch.distributed as dist
from torch import nn
from torchrec.distributed.planner import (
    EmbeddingShardingPlanner,
    ParameterConstraints,
    Topology,
)
from torchrec.distributed.types import ShardingPlan
from torchrec.modules.embedding_modules import (
    EmbeddingBagCollection,
    EmbeddingCollection,
)

from tzrec.train.embedding_constraints import TableConstraint, unplannable_error
from tzrec.utils.dist import DistInfo


def table_names(model: nn.Module) -> list[str]:
    """Every embedding table name in the model (pooled and sequence tables)."""
    names = []
    for m in model.modules():
        if isinstance(m, EmbeddingBagCollection):
            names += [cfg.name for cfg in m.embedding_bag_configs()]
        elif isinstance(m, EmbeddingCollection):
            names += [cfg.name for cfg in m.embedding_configs()]
    return names


def create_plan(
    model: nn.Module,
    dist_info: DistInfo,
    table_constraints: dict[str, TableConstraint] | None = None,
) -> ShardingPlan:
    """Plans sharding of every table across the job's ranks (collectively).

    Args:
        model: the unsharded model.
        dist_info: the job's ranks.
        table_constraints: per-table limits (``embedding_constraints``);
            absent tables get tzrec's defaults (fused, not data-parallel).
    """
    compute_device = dist_info.device.type
    given = table_constraints or {}
    constraints = {
        name: ParameterConstraints(
            sharding_types=list(given.get(name, TableConstraint()).sharding_types),
            compute_kernels=list(given.get(name, TableConstraint()).compute_kernels),
        )
        for name in table_names(model)
    }
    planner = EmbeddingShardingPlanner(
        topology=Topology(
            world_size=dist_info.world_size,
            compute_device=compute_device,
            local_world_size=_local_world_size(dist_info),
        ),
        constraints=constraints,
    )
    try:
        return planner.collective_plan(model, None, dist.GroupMember.WORLD)
    except RuntimeError as e:  # constraints that leave no option
        raise unplannable_error(e, compute_device) from e


def _local_world_size(dist_info: DistInfo) -> int:
    import os

    return int(os.environ.get("LOCAL_WORLD_SIZE", dist_info.world_size))


def plan_summary(plan: ShardingPlan) -> str:
    """One line per table: sharding type and ranks."""
    lines = []
    for module, params in plan.plan.items():
        for name, ps in params.items():
            lines.append(f"{module}.{name}: {ps.sharding_type} ranks={ps.ranks}")
    return "\n".join(lines)
