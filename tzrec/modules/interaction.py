"""Pairwise dot-product feature interaction (DLRM, Naumov et al., 2019)."""

from __future__ import annotations

from typing import TYPE_CHECKING

import torch
from torch import Tensor, nn


class DotInteraction(nn.Module):
    """``[B, N, D]`` fields -> their ``N (N-1) / 2`` pairwise dot products.

    Args:
        num_fields: ``N``.
    """

    # For mypy only: TorchScript cannot read string class annotations.
    if TYPE_CHECKING:
        rows: Tensor  # buffers: the pairs i < j
        cols: Tensor

    def __init__(self, num_fields: int) -> None:
        super().__init__()
        rows, cols = torch.triu_indices(num_fields, num_fields, offset=1)
        # Not persistent: derived from the config, so not in checkpoints.
        self.register_buffer("rows", rows, persistent=False)
        self.register_buffer("cols", cols, persistent=False)
        self.output_dim = num_fields * (num_fields - 1) // 2

    def forward(self, fields: Tensor) -> Tensor:
        """Dot products of every pair ``i < j``, ``[B, N (N-1) / 2]``."""
        gram = torch.bmm(fields, fields.transpose(1, 2))
        return gram[:, self.rows, self.cols]
