"""The embedding sharding plan: torchrec's planner, fused kernels only.

Data-parallel tables would get dense gradients and a dense optimizer step over
every row; tzrec keeps the sparse optimizer fused for every table, so the
planner may choose table-, row- or column-wise sharding but not data-parallel.
"""

from __future__ import annotations

import torch.distributed as dist
from torch import nn
from torchrec.distributed.embedding_types import EmbeddingComputeKernel
from torchrec.distributed.planner import (
    EmbeddingShardingPlanner,
    ParameterConstraints,
    Topology,
)
from torchrec.distributed.types import ShardingPlan, ShardingType
from torchrec.modules.embedding_modules import (
    EmbeddingBagCollection,
    EmbeddingCollection,
)

from tzrec.utils.dist import DistInfo

_SHARDING_TYPES = [
    ShardingType.TABLE_WISE.value,
    ShardingType.ROW_WISE.value,
    ShardingType.COLUMN_WISE.value,
    ShardingType.TABLE_ROW_WISE.value,
]


def table_names(model: nn.Module) -> list[str]:
    """Every embedding table name in the model (pooled and sequence tables)."""
    names = []
    for m in model.modules():
        if isinstance(m, EmbeddingBagCollection):
            names += [cfg.name for cfg in m.embedding_bag_configs()]
        elif isinstance(m, EmbeddingCollection):
            names += [cfg.name for cfg in m.embedding_configs()]
    return names


def create_plan(model: nn.Module, dist_info: DistInfo) -> ShardingPlan:
    """Plans sharding of every table across the job's ranks (collectively)."""
    compute_device = dist_info.device.type
    constraints = {
        name: ParameterConstraints(
            sharding_types=_SHARDING_TYPES,
            compute_kernels=[EmbeddingComputeKernel.FUSED.value],
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
    return planner.collective_plan(model, None, dist.GroupMember.WORLD)


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
