"""``zch`` (zero-collision hash) options: managed-collision embedding tables.

torchrec 1.8.0's managed-collision modules (``MCHManagedCollisionModule``
with LFU / LRU / DistanceLFU eviction) do run on CPU unsharded (checked:
remap, lookup and backward of a ManagedCollisionEmbeddingBagCollection), but
tzrec trains every table under DistributedModelParallel, and torchrec's
managed-collision sharder allows only ROW_WISE sharding, which its
EmbeddingBagCollection sharder offers on CUDA only: on CPU the planner finds
no sharding for the table ("No available sharding type and compute kernel
combination"). Running the modules outside DMP would give each rank its own
id remapping. ``zch`` is refused with that reason.
"""

from __future__ import annotations

from tzrec.utils.errors import ConfigError


def check_zch(config, where: str) -> None:  # noqa: ANN001
    """Raises the ConfigError that explains why ``zch`` is not supported yet."""
    raise ConfigError(
        "zch (managed-collision tables) is not supported yet: torchrec's MC "
        "modules run on CPU, but their sharder needs ROW_WISE sharding, which "
        "torchrec 1.8 offers on CUDA only",
        where,
        "use hash_bucket_size (a fixed-size hashed table)",
    )
