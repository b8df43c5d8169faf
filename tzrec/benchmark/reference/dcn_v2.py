"""DCN-V2 by hand on torchrec: low-rank cross network beside a deep MLP."""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import Tensor, nn
from torchrec import KeyedJaggedTensor
from torchrec.modules.crossnet import LowRankCrossNet

from tzrec.benchmark.reference.common import (
    PooledLookup,
    SparseFeature,
    bag_configs,
    mlp,
)


class ReferenceDCNV2(nn.Module):
    """DCN-V2; ``forward(sparse, dense)`` gives logits ``[B, 1]``.

    ``x`` is the pooled embeddings followed by the dense floats; an optional
    backbone MLP feeds torchrec's ``LowRankCrossNet``; an optional deep MLP
    reads ``x`` in parallel; the final MLP reads both, then a linear layer
    without bias gives the logit.

    Args:
        features: the id features.
        num_dense: width of the dense float input (0: none).
        cross_num: cross layers.
        low_rank: rank of each cross layer's weight.
        backbone: backbone MLP widths (empty: none).
        deep: deep MLP widths (empty: none).
        final: final MLP widths.
        device: where tables are created (``meta`` for DMP to materialise).
    """

    def __init__(
        self,
        features: Sequence[SparseFeature],
        num_dense: int = 0,
        cross_num: int = 3,
        low_rank: int = 32,
        backbone: Sequence[int] = (),
        deep: Sequence[int] = (256, 128, 64),
        final: Sequence[int] = (64,),
        device: torch.device | None = None,
    ) -> None:
        super().__init__()
        self.lookup = PooledLookup([bag_configs(features)], device)
        dense_device = None if device is None or device.type == "meta" else device
        in_dim = sum(f.embedding_dim for f in features) + num_dense
        width = in_dim
        self.backbone = mlp(in_dim, backbone).to(dense_device) if backbone else None
        if backbone:
            width = backbone[-1]
        self.cross = LowRankCrossNet(width, cross_num, low_rank).to(dense_device)
        self.deep = mlp(in_dim, deep).to(dense_device) if deep else None
        if deep:
            width += deep[-1]
        self.final = mlp(width, final).to(dense_device)
        self.output = nn.Linear(final[-1], 1, bias=False).to(dense_device)

    def forward(self, sparse: KeyedJaggedTensor, dense: Tensor | None) -> Tensor:
        """Logits ``[B, 1]``."""
        emb = self.lookup(sparse)[0]
        x = emb if dense is None else torch.cat([emb, dense], dim=1)
        net = self.cross(self.backbone(x) if self.backbone is not None else x)
        if self.deep is not None:
            net = torch.cat([net, self.deep(x)], dim=1)
        return self.output(self.final(net))
