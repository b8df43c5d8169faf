"""Host memory the embedding tables will take, checked before they are allocated.

On CPU every table is allocated in host memory when the model is wrapped for
training, weights and fused-optimizer state together. A config whose tables do
not fit (TorchEasyRec's Criteo examples have five 40,000,000-row tables) would
otherwise be killed by the kernel's out-of-memory killer with no message; this
check says how much they need, how much there is, and what to change.
"""

from __future__ import annotations

import os
from collections.abc import Iterable

import psutil
from torch import nn
from torchrec import EmbeddingBagCollection, EmbeddingCollection
from torchrec.modules.embedding_configs import BaseEmbeddingConfig

from tzrec.utils.dist import DistInfo
from tzrec.utils.errors import ConfigError

GIB = 1024**3

# Optimizer state a fused sparse optimizer keeps, per table: elements of state
# per weight element, and floats of state per row.
_STATE_PER_ELEMENT = {
    "sgd_optimizer": 0,
    "adagrad_optimizer": 1,
    "rowwise_adagrad_optimizer": 0,
    "adam_optimizer": 2,
    "lamb_optimizer": 2,
    "lars_sgd_optimizer": 1,
    "partial_rowwise_adam_optimizer": 1,
    "partial_rowwise_lamb_optimizer": 1,
}
_STATE_PER_ROW = {
    "rowwise_adagrad_optimizer": 1,
    "partial_rowwise_adam_optimizer": 1,
    "partial_rowwise_lamb_optimizer": 1,
}


def model_tables(model: nn.Module) -> list[BaseEmbeddingConfig]:
    """Every embedding table of ``model`` (pooled and sequence), as configured."""
    tables: list[BaseEmbeddingConfig] = []
    for m in model.modules():
        if isinstance(m, EmbeddingBagCollection):
            tables += m.embedding_bag_configs()
        elif isinstance(m, EmbeddingCollection):
            tables += m.embedding_configs()
    return tables


def table_bytes(
    tables: Iterable[BaseEmbeddingConfig], sparse_optimizer: str | None
) -> int:
    """Bytes of the tables' weights plus their fused optimizer state.

    Args:
        tables: the tables.
        sparse_optimizer: the ``sparse_optimizer`` oneof's field name; None
            when no optimizer is built (eval, export).
    """
    per_element = _STATE_PER_ELEMENT.get(sparse_optimizer or "sgd_optimizer", 1)
    per_row = _STATE_PER_ROW.get(sparse_optimizer or "", 0)
    total = 0
    for t in tables:
        weight = 2 if t.data_type.name in ("FP16", "BF16") else 4
        elements = t.num_embeddings * t.embedding_dim
        state = elements * per_element + t.num_embeddings * per_row
        total += elements * weight + state * 4
    return total


def check_table_memory(
    model: nn.Module, sparse_optimizer: str | None, dist_info: DistInfo
) -> None:
    """Refuses, with one line, tables that cannot fit in this host's memory.

    Only for CPU training (on a GPU the sharding planner budgets device
    memory). The ranks of one host share its memory and the tables are
    spread over all ranks, so this host holds its ranks' share of the total.

    Args:
        model: the unsharded model (built on the meta device: nothing allocated).
        sparse_optimizer: the ``sparse_optimizer`` oneof's field name (None:
            weights only).
        dist_info: this process's place in the job.

    Raises:
        ConfigError: the host's share of the tables exceeds its available memory.
    """
    if dist_info.device.type != "cpu":
        return
    tables = model_tables(model)
    local_ranks = int(os.environ.get("LOCAL_WORLD_SIZE", dist_info.world_size))
    need = table_bytes(tables, sparse_optimizer) * local_ranks / dist_info.world_size
    available = psutil.virtual_memory().available
    if need <= available:
        return
    largest = max(tables, key=lambda t: t.num_embeddings * t.embedding_dim)
    raise ConfigError(
        f"the embedding tables need {need / GIB:.1f} GiB of host memory (weights"
        f"{' and ' + sparse_optimizer + ' state' if sparse_optimizer else ''}; "
        f"largest table {largest.name}: "
        f"{largest.num_embeddings:,} rows x {largest.embedding_dim}) but "
        f"{available / GIB:.1f} GiB is available",
        "feature_configs",
        "lower num_buckets / hash_bucket_size, use rowwise_adagrad_optimizer, or "
        "train on more hosts",
    )
