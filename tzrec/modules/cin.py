"""Compressed interaction network (xDeepFM, Lian et al., 2018)."""

from __future__ import annotations

import torch
from torch import Tensor, nn


class CIN(nn.Module):
    """Vector-wise feature interactions, sum-pooled per layer.

    Layer ``k`` takes the outer products of the previous layer's ``H`` maps
    with the ``N`` input fields along each embedding dimension,
    ``[B, H * N, D]``, and compresses them to ``cin_layer_size[k]`` maps with a
    1x1 convolution (a ``Linear`` over the ``H * N`` axis, with bias, no
    activation: TorchEasyRec's CIN). Each layer's maps are summed over ``D``;
    the output concatenates every layer's sums.

    Args:
        num_fields: ``N``, the fields of the input ``[B, N, D]``.
        layer_sizes: maps per layer.
    """

    def __init__(self, num_fields: int, layer_sizes: list[int]) -> None:
        super().__init__()
        layers = []
        prev = num_fields
        for size in layer_sizes:
            layers.append(nn.Linear(prev * num_fields, size))
            prev = size
        self.layers = nn.ModuleList(layers)
        self.output_dim = sum(layer_sizes)

    def forward(self, x0: Tensor) -> Tensor:
        """``[B, N, D]`` -> ``[B, sum(layer_sizes)]``."""
        # Embedding dimension first, so each layer's products come out in the
        # layout its Linear reads ([B, D, H * N], channel h * N + n): no copies.
        x0t = x0.transpose(1, 2)
        xkt = x0t
        pooled: list[Tensor] = []
        for layer in self.layers:
            z = (xkt.unsqueeze(3) * x0t.unsqueeze(2)).flatten(2)
            xkt = layer(z)
            pooled.append(xkt.sum(dim=1))
        return torch.cat(pooled, dim=1)
