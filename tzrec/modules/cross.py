"""Cross networks: v1 (DCN, Wang et al., 2017) and v2 (DCN-V2, 2021)."""

from __future__ import annotations

import torch
from torch import Tensor, nn


class CrossLayerV2(nn.Module):
    """``x_{l+1} = x0 * (U (V^T x_l) + b) + x_l`` with ``U, V`` of rank ``r``.

    Args:
        dim: input and output width.
        low_rank: rank ``r`` of the weight ``U V^T``.
    """

    def __init__(self, dim: int, low_rank: int) -> None:
        super().__init__()
        self.U = nn.Parameter(torch.empty(dim, low_rank))
        self.V = nn.Parameter(torch.empty(dim, low_rank))
        self.bias = nn.Parameter(torch.zeros(dim))
        nn.init.xavier_uniform_(self.U)
        nn.init.xavier_uniform_(self.V)

    def forward(self, x0: Tensor, xl: Tensor) -> Tensor:
        """One cross step."""
        return x0 * ((xl @ self.V) @ self.U.t() + self.bias) + xl


class CrossNetV2(nn.Module):
    """``cross_num`` stacked :class:`CrossLayerV2`; output width = input width.

    Args:
        dim: input width.
        cross_num: number of layers.
        low_rank: rank of each layer's weight.
    """

    def __init__(self, dim: int, cross_num: int = 3, low_rank: int = 32) -> None:
        super().__init__()
        self.layers = nn.ModuleList(
            [CrossLayerV2(dim, low_rank) for _ in range(cross_num)]
        )
        self.output_dim = dim

    def forward(self, x: Tensor) -> Tensor:
        """Applies every layer to ``[B, dim]``."""
        xl = x
        for layer in self.layers:
            xl = layer(x, xl)
        return xl


class CrossLayer(nn.Module):
    """``x_{l+1} = x0 * (x_l . w) + b + x_l`` with a weight vector ``w``.

    Args:
        dim: input and output width.
    """

    def __init__(self, dim: int) -> None:
        super().__init__()
        self.weight = nn.Parameter(torch.empty(dim, 1))
        self.bias = nn.Parameter(torch.zeros(dim))
        nn.init.xavier_uniform_(self.weight)

    def forward(self, x0: Tensor, xl: Tensor) -> Tensor:
        """One cross step."""
        return x0 * (xl @ self.weight) + self.bias + xl


class CrossNet(nn.Module):
    """DCN v1's cross network: ``cross_num`` :class:`CrossLayer`.

    TorchEasyRec's ``Cross``; output width = input width.

    Args:
        dim: input width.
        cross_num: number of layers.
    """

    def __init__(self, dim: int, cross_num: int = 3) -> None:
        super().__init__()
        self.layers = nn.ModuleList([CrossLayer(dim) for _ in range(cross_num)])
        self.output_dim = dim

    def forward(self, x: Tensor) -> Tensor:
        """Applies every layer to ``[B, dim]``."""
        xl = x
        for layer in self.layers:
            xl = layer(x, xl)
        return xl
