"""PEPNet's blocks (Chang et al., 2023): gate neural units, EPNet and PPNet.

A gate neural unit is ``gamma * sigmoid(Linear(ReLU(Linear(x))))``: a
per-unit scale in ``(0, gamma)``. EPNet scales the main embedding by a gate
over ``[domain features, main embedding]``; PPNet gives every task its own
MLP whose hidden layers are scaled by gates over ``[user/item/author
features, main embedding]``. The main embedding enters the gates detached,
so the gates personalise the network without steering the embeddings
through that path. TorchScript-compatible.
"""

import torch
from torch import Tensor, nn

from tzrec.modules.mlp import make_activation
from tzrec.utils.errors import ConfigError


class GateNU(nn.Module):
    """``gamma * sigmoid(W2 relu(W1 x))``.

    Args:
        in_features: input width.
        hidden: hidden width.
        out_features: output width (the gated width).
        gamma: the scale's upper bound.
    """

    def __init__(
        self, in_features: int, hidden: int, out_features: int, gamma: float
    ) -> None:
        super().__init__()
        self.gamma = float(gamma)
        self.net = nn.Sequential(
            nn.Linear(in_features, hidden),
            nn.ReLU(),
            nn.Linear(hidden, out_features),
            nn.Sigmoid(),
        )

    def forward(self, x: Tensor) -> Tensor:
        """Gate ``[B, out_features]``."""
        return self.gamma * self.net(x)


class EPNet(nn.Module):
    """Embedding personalisation: ``main * gate([domain, main.detach()])``."""

    def __init__(
        self, main_dim: int, domain_dim: int, hidden: int, gamma: float
    ) -> None:
        super().__init__()
        self.gate = GateNU(domain_dim + main_dim, hidden, main_dim, gamma)
        self.output_dim = main_dim

    def forward(self, main: Tensor, domain: Tensor) -> Tensor:
        """The personalised main embedding ``[B, main_dim]``."""
        return main * self.gate(torch.cat([domain, main.detach()], dim=1))


class _GatedLayer(nn.Module):
    """``dropout(act(linear(x)) * gate(g))``."""

    def __init__(
        self, linear: nn.Module, act: nn.Module, gate: GateNU, drop: nn.Module
    ) -> None:
        super().__init__()
        self.linear, self.act, self.gate, self.drop = linear, act, gate, drop

    def forward(self, x: Tensor, g: Tensor) -> Tensor:
        return self.drop(self.act(self.linear(x)) * self.gate(g))


class _GatedMLP(nn.Module):
    def __init__(self, layers: list[_GatedLayer]) -> None:
        super().__init__()
        self.layers = nn.ModuleList(layers)

    def forward(self, x: Tensor, g: Tensor) -> Tensor:
        for layer in self.layers:
            x = layer(x, g)
        return x


class PPNet(nn.Module):
    """Parameter personalisation: per task an MLP with gated hidden layers.

    Args:
        main_dim: width of the (EPNet-scaled) main embedding.
        uia_dim: width of the user/item/author group.
        num_task: number of tasks.
        hidden_units: the MLP's widths.
        activation: activation name (as ``MLP.activation``).
        dropout_ratio: one ratio, one per layer, or none.
        gamma: the gates' upper bound.
        where: config path for errors.
    """

    def __init__(
        self,
        main_dim: int,
        uia_dim: int,
        num_task: int,
        hidden_units: list[int],
        activation: str,
        dropout_ratio: list[float],
        gamma: float,
        where: str,
    ) -> None:
        super().__init__()
        if not hidden_units:
            raise ConfigError(
                "ppnet_hidden_units is empty",
                f"{where}.ppnet_hidden_units",
                "e.g. [512, 256]",
            )
        if len(dropout_ratio) not in (0, 1, len(hidden_units)):
            raise ConfigError(
                f"ppnet_dropout_ratio has {len(dropout_ratio)} values for "
                f"{len(hidden_units)} layers",
                f"{where}.ppnet_dropout_ratio",
                "give one ratio, or one per layer",
            )
        ratios = (
            dropout_ratio * len(hidden_units)
            if len(dropout_ratio) == 1
            else (dropout_ratio or [0.0] * len(hidden_units))
        )
        tasks = []
        for _ in range(num_task):
            width, layers = main_dim, []
            for units, ratio in zip(hidden_units, ratios):
                layers.append(
                    _GatedLayer(
                        nn.Linear(width, units),
                        make_activation(activation, f"{where}.ppnet_activation"),
                        GateNU(main_dim + uia_dim, units, units, gamma),
                        nn.Dropout(ratio),
                    )
                )
                width = units
            tasks.append(_GatedMLP(layers))
        self.tasks = nn.ModuleList(tasks)
        self.output_dim = hidden_units[-1]

    def forward(self, main: Tensor, uia: Tensor) -> list[Tensor]:
        """One ``[B, output_dim]`` per task."""
        gate_in = torch.cat([uia, main.detach()], dim=1)
        return [task(main, gate_in) for task in self.tasks]
