"""DeepFM by hand on torchrec: first-order (wide) + FM + deep MLP.

All features' deep tables (and, with a wide term, their narrow wide tables)
live in one EmbeddingBagCollection and are looked up in one call from one
KJT. FM reads the deep embeddings as a ``[B, F, D]`` view of the pooled
values; the deep MLP reads the same values (plus the dense floats) as
``[B, F * D (+ num_dense)]``.
"""

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


class ReferenceDeepFM(nn.Module):
    """DeepFM; ``forward(sparse, dense)`` gives logits ``[B, 1]``.

    Without ``final`` the logit is ``linear(deep) + sum(wide) + sum(fm)``; with
    ``final`` an MLP reads ``[wide, fm, deep]`` and a linear layer gives the
    logit.

    Args:
        features: the id features (all of one ``embedding_dim``: FM pairs them).
        num_dense: width of the dense float input (0: none); it joins the
            deep MLP's input only.
        wide_dim: width of each feature's first-order (wide) table, summed
            over features (0: no wide term).
        deep: deep MLP widths.
        final: final MLP widths (empty: no final MLP).
        device: where tables are created (``meta`` for DMP to materialise).
    """

    def __init__(
        self,
        features: Sequence[SparseFeature],
        num_dense: int = 0,
        wide_dim: int = 4,
        deep: Sequence[int] = (256, 128, 64),
        final: Sequence[int] = (64,),
        device: torch.device | None = None,
    ) -> None:
        super().__init__()
        dims = {f.embedding_dim for f in features}
        if len(dims) != 1:
            raise ValueError(f"FM needs one embedding_dim, got {sorted(dims)}")
        self.num_fields, self.dim = len(features), dims.pop()
        sets = [bag_configs(features)]
        if wide_dim:
            sets.append(bag_configs(features, prefix="wide_", dim=wide_dim))
        self.wide_dim = wide_dim
        self.lookup = PooledLookup(sets, device)
        dense_device = None if device is None or device.type == "meta" else device
        self.deep = mlp(self.num_fields * self.dim + num_dense, deep).to(dense_device)
        width = deep[-1]
        self.final = None
        if final:
            self.final = mlp(wide_dim + self.dim + width, final).to(dense_device)
            width = final[-1]
        self.output = nn.Linear(width, 1).to(dense_device)

    def forward(self, sparse: KeyedJaggedTensor, dense: Tensor | None) -> Tensor:
        """Logits ``[B, 1]``."""
        pooled = self.lookup(sparse)
        emb = pooled[0]
        fields = emb.view(-1, self.num_fields, self.dim)
        summed = fields.sum(dim=1)
        fm = 0.5 * (summed * summed - (fields * fields).sum(dim=1))
        deep_in = emb if dense is None else torch.cat([emb, dense], dim=1)
        deep = self.deep(deep_in)
        if self.wide_dim:
            wide = pooled[1].view(-1, self.num_fields, self.wide_dim).sum(dim=1)
        else:
            wide = fm.new_zeros(fm.shape[0], 0)
        if self.final is not None:
            return self.output(self.final(torch.cat([wide, fm, deep], dim=1)))
        return (
            self.output(deep)
            + wide.sum(dim=1, keepdim=True)
            + fm.sum(dim=1, keepdim=True)
        )
