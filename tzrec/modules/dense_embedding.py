"""Learned embeddings of dense feature values: ``mlp`` and AutoDis.

Built from the features' :class:`tzrec.features.dense_emb.DenseEmbSpec`; the
embedding group replaces each such feature's ``[B, value_dim]`` value by its
``[B, embedding_dim]`` embedding before the groups are assembled.
"""

from __future__ import annotations

import torch
from torch import nn

from tzrec.features.dense_emb import DenseEmbSpec


class MLPEmbedding(nn.Module):
    """One linear layer ``value_dim -> embedding_dim``."""

    def __init__(self, spec: DenseEmbSpec) -> None:
        super().__init__()
        self.linear = nn.Linear(spec.value_dim, spec.embedding_dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """[B, value_dim] -> [B, embedding_dim]."""
        return self.linear(x)


class AutoDisEmbedding(nn.Module):
    """AutoDis: a soft discretisation of each value over meta-embeddings.

    Per value x (each of ``value_dim``): ``h = LeakyReLU(w x)`` over
    ``num_channels`` channels, ``s = W h + keep_prob * h``, weights
    ``softmax(s / temperature)``, embedding ``sum_c weight_c * ME_c``; the
    ``value_dim`` embeddings are summed (``embedding_dim`` wide).
    """

    def __init__(self, spec: DenseEmbSpec) -> None:
        super().__init__()
        v, c, d = spec.value_dim, spec.num_channels, spec.embedding_dim
        self.w = nn.Parameter(torch.randn(v, c) * 0.1)
        self.mix = nn.Parameter(torch.randn(v, c, c) * (1.0 / c**0.5))
        self.meta = nn.Parameter(torch.randn(v, c, d) * 0.1)
        self.temperature = spec.temperature
        self.keep_prob = spec.keep_prob

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """[B, value_dim] -> [B, embedding_dim]."""
        # Batched over the value_dim axis (bmm keeps parameter gradients
        # contiguous, which DDP's gradient buckets expect).
        h = nn.functional.leaky_relu(x.t().unsqueeze(-1) * self.w.unsqueeze(1))
        s = torch.bmm(h, self.mix) + self.keep_prob * h  # [V, B, C]
        weights = torch.softmax(s / self.temperature, dim=-1)
        return torch.bmm(weights, self.meta).sum(dim=0)  # [B, D]


def dense_embedding(spec: DenseEmbSpec) -> nn.Module:
    """The module for ``spec``."""
    return AutoDisEmbedding(spec) if spec.kind == "autodis" else MLPEmbedding(spec)
