"""Multi-gate mixture of experts (MMoE, Ma et al., 2018)."""

from __future__ import annotations

import torch
from torch import Tensor, nn

from tzrec.modules.mlp import MLP


class MMoE(nn.Module):
    """Shared expert MLPs mixed by one softmax gate per task.

    Args:
        in_features: input width.
        expert_mlp: ``MLP`` proto of every expert.
        num_expert: number of experts.
        num_task: number of gates (one per task).
        gate_mlp: optional ``MLP`` proto before each gate's softmax layer.
        where: config path for errors.
    """

    def __init__(
        self,
        in_features: int,
        expert_mlp,  # noqa: ANN001
        num_expert: int,
        num_task: int,
        gate_mlp=None,  # noqa: ANN001
        where: str = "mmoe",
    ) -> None:
        super().__init__()
        self.experts = nn.ModuleList(
            [
                MLP(in_features, expert_mlp, f"{where}.expert_mlp")
                for _ in range(num_expert)
            ]
        )
        gates = []
        for _ in range(num_task):
            if gate_mlp is not None:
                hidden = MLP(in_features, gate_mlp, f"{where}.gate_mlp")
                gates.append(
                    nn.Sequential(hidden, nn.Linear(hidden.output_dim, num_expert))
                )
            else:
                gates.append(nn.Sequential(nn.Linear(in_features, num_expert)))
        self.gates = nn.ModuleList(gates)
        self.output_dim = self.experts[0].output_dim

    def forward(self, x: Tensor) -> list[Tensor]:
        """One ``[B, expert width]`` mixture per task."""
        experts = torch.stack([e(x) for e in self.experts], dim=1)  # [B, E, D]
        out: list[Tensor] = []
        for gate in self.gates:
            weights = torch.softmax(gate(x), dim=1).unsqueeze(1)  # [B, 1, E]
            out.append(torch.bmm(weights, experts).squeeze(1))
        return out
