"""Wide & Deep by hand on torchrec: a linear wide part plus a deep MLP."""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import Tensor, nn
from torchrec import KeyedJaggedTensor

from tzrec.benchmark.reference.common import (
    PooledLookup,
    SparseFeature,
    bag_configs,
    mlp,
)


class ReferenceWideAndDeep(nn.Module):
    """Wide & Deep; ``forward(sparse, dense)`` gives logits ``[B, 1]``.

    The wide logit is the sum of every feature's narrow wide embedding (all
    its ``wide_dim`` entries); the deep MLP reads the deep embeddings and the
    dense floats. Without ``final`` the logit is ``wide + linear(deep)``; with
    ``final`` an MLP reads ``[wide, deep]``.

    Args:
        features: the id features (deep tables at their ``embedding_dim``).
        num_dense: width of the dense float input (0: none).
        wide_dim: width of each feature's wide table.
        deep: deep MLP widths.
        final: final MLP widths (empty: none).
        device: where tables are created (``meta`` for DMP to materialise).
    """

    def __init__(
        self,
        features: Sequence[SparseFeature],
        num_dense: int = 0,
        wide_dim: int = 4,
        deep: Sequence[int] = (256, 128, 64),
        final: Sequence[int] = (),
        device: torch.device | None = None,
    ) -> None:
        super().__init__()
        sets = [bag_configs(features), bag_configs(features, "wide_", wide_dim)]
        self.lookup = PooledLookup(sets, device)
        dense_device = None if device is None or device.type == "meta" else device
        in_dim = sum(f.embedding_dim for f in features) + num_dense
        self.deep = mlp(in_dim, deep).to(dense_device)
        width = deep[-1]
        self.final = mlp(1 + width, final).to(dense_device) if final else None
        if final:
            width = final[-1]
        self.output = nn.Linear(width, 1).to(dense_device)

    def forward(self, sparse: KeyedJaggedTensor, dense: Tensor | None) -> Tensor:
        """Logits ``[B, 1]``."""
        emb, wide_emb = self.lookup(sparse)
        wide = wide_emb.sum(dim=1, keepdim=True)
        deep = self.deep(emb if dense is None else torch.cat([emb, dense], dim=1))
        if self.final is not None:
            return self.output(self.final(torch.cat([wide, deep], dim=1)))
        return wide + self.output(deep)
