"""Factorization machine second-order interaction."""

from __future__ import annotations

import torch
from torch import nn


class FactorizationMachine(nn.Module):
    """Pairwise interactions of field embeddings: 0.5 * ((sum v)^2 - sum v^2).

    Input [B, N, D]; output [B, D] (sum it for the scalar FM term).
    """

    def forward(self, fields: torch.Tensor) -> torch.Tensor:
        """Computes the per-dimension second-order term."""
        sum_sq = fields.sum(dim=1).pow(2)
        sq_sum = fields.pow(2).sum(dim=1)
        return 0.5 * (sum_sq - sq_sum)
