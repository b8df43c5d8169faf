"""DLRM by hand on torchrec: dense MLP, pairwise dot interactions, final MLP."""

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


class ReferenceDLRM(nn.Module):
    """DLRM; ``forward(sparse, dense)`` gives logits ``[B, 1]``.

    Fields are the dense MLP's output (when ``num_dense``) followed by every
    feature's pooled embedding, ``[B, N, D]``; the final MLP reads their
    ``N (N - 1) / 2`` pairwise dot products, the dense output and, with
    ``arch_with_sparse``, the embeddings themselves.

    Args:
        features: the id features (all of one ``embedding_dim`` ``D``).
        num_dense: width of the dense float input (0: none).
        dense_mlp: dense MLP widths; the last must be ``D``.
        final: final MLP widths.
        arch_with_sparse: also feed the embeddings to the final MLP.
        device: where tables are created (``meta`` for DMP to materialise).
    """

    pairs: Tensor  # a buffer: the flat indices of the upper-triangle pairs

    def __init__(
        self,
        features: Sequence[SparseFeature],
        num_dense: int = 0,
        dense_mlp: Sequence[int] = (64, 16),
        final: Sequence[int] = (256, 128, 64),
        arch_with_sparse: bool = False,
        device: torch.device | None = None,
    ) -> None:
        super().__init__()
        dims = {f.embedding_dim for f in features}
        if len(dims) != 1:
            raise ValueError(f"DLRM needs one embedding_dim, got {sorted(dims)}")
        self.num_sparse, self.dim = len(features), dims.pop()
        self.lookup = PooledLookup([bag_configs(features)], device)
        dense_device = None if device is None or device.type == "meta" else device
        self.dense_mlp = None
        if num_dense:
            if dense_mlp[-1] != self.dim:
                raise ValueError("dense_mlp must end with the embedding_dim")
            self.dense_mlp = mlp(num_dense, dense_mlp).to(dense_device)
        n = self.num_sparse + (1 if num_dense else 0)
        rows, cols = torch.triu_indices(n, n, offset=1)
        self.register_buffer("pairs", rows * n + cols, persistent=False)
        width = n * (n - 1) // 2 + (self.dim if num_dense else 0)
        self.arch_with_sparse = arch_with_sparse
        if arch_with_sparse:
            width += self.num_sparse * self.dim
        self.final = mlp(width, final).to(dense_device)
        self.output = nn.Linear(final[-1], 1).to(dense_device)

    def forward(self, sparse: KeyedJaggedTensor, dense: Tensor | None) -> Tensor:
        """Logits ``[B, 1]``."""
        emb = self.lookup(sparse)[0]
        fields = emb.view(-1, self.num_sparse, self.dim)
        parts: list[Tensor] = []
        if self.dense_mlp is not None and dense is not None:
            dense_out = self.dense_mlp(dense)
            fields = torch.cat([dense_out.unsqueeze(1), fields], dim=1)
            parts.append(dense_out)
        gram = torch.bmm(fields, fields.transpose(1, 2)).flatten(1)
        parts.insert(0, gram.index_select(1, self.pairs))
        if self.arch_with_sparse:
            parts.append(emb)
        return self.output(self.final(torch.cat(parts, dim=1)))
