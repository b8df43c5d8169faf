"""``zch`` (zero-collision hash) options: managed-collision embedding tables.

torchrec 1.8.0's managed-collision modules (``MCHManagedCollisionModule``
with LFU / LRU / DistanceLFU eviction) do run on CPU (checked: remap,
lookup and backward of an unsharded ManagedCollisionEmbeddingBagCollection),
but tzrec shards its tables with DistributedModelParallel, and the
managed-collision sharder and checkpointing of the remap state are not wired
into tzrec yet: ``zch`` is refused with that reason.
"""

from __future__ import annotations

from tzrec.utils.errors import ConfigError


def check_zch(config, where: str) -> None:  # noqa: ANN001
    """Raises the ConfigError that explains why ``zch`` is not supported yet."""
    raise ConfigError(
        "zch (managed-collision tables) is not supported yet: torchrec's MC "
        "modules run on CPU, but tzrec does not yet shard them or checkpoint "
        "their id remapping",
        where,
        "use hash_bucket_size (a fixed-size hashed table)",
    )
