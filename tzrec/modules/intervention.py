"""DC2VR's low-rank intervention between task towers."""

from __future__ import annotations

import torch
from torch import Tensor, nn


class OrthonormalBasis(nn.Module):
    """A ``[dim, rank]`` matrix with orthonormal columns, learned.

    The Q of a QR factorisation of a free parameter (signs fixed by R's
    diagonal), so it stays orthonormal under any optimizer and scripts.

    Args:
        dim: rows.
        rank: columns (<= dim).
    """

    def __init__(self, dim: int, rank: int) -> None:
        super().__init__()
        self.raw = nn.Parameter(torch.empty(dim, rank))
        nn.init.orthogonal_(self.raw)

    def forward(self) -> Tensor:
        """The basis ``[dim, rank]``."""
        q, r = torch.linalg.qr(self.raw)
        return q * torch.sign(torch.diagonal(r)).unsqueeze(0)


class Intervention(nn.Module):
    """Moves a tower's features by another's in a shared low-rank space.

    ``out = dropout(base + B (B^T base - S^T source))`` with ``B``, ``S``
    orthonormal bases of the base and source spaces and ``source`` detached
    (the intervening towers get no gradient from this one): TorchEasyRec's
    ``Intervention``.

    Args:
        base_dim: width of the tower's features (also the output's).
        source_dim: width of the intervening features.
        low_rank_dim: width of the shared space (< base_dim).
        dropout_ratio: dropout on the output.
    """

    def __init__(
        self, base_dim: int, source_dim: int, low_rank_dim: int, dropout_ratio: float
    ) -> None:
        super().__init__()
        self.base_basis = OrthonormalBasis(base_dim, low_rank_dim)
        self.source_basis = OrthonormalBasis(source_dim, low_rank_dim)
        self.dropout = nn.Dropout(dropout_ratio)
        self.output_dim = base_dim

    def forward(self, base: Tensor, source: Tensor) -> Tensor:
        """``[B, base_dim]`` intervened features."""
        b = self.base_basis()
        moved = (base @ b - source.detach() @ self.source_basis()) @ b.t()
        return self.dropout(moved + base)


class NoIntervention(nn.Module):
    """A tower without intervention: its features pass unchanged."""

    def forward(self, base: Tensor, source: Tensor) -> Tensor:
        """``base``."""
        return base
