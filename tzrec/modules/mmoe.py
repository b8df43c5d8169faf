"""Multi-gate mixture of experts (MMoE, Ma et al., 2018)."""

from __future__ import annotations

import math

import torch
from torch import Tensor, nn

from tzrec.modules.mlp import MLP
from tzrec.monitor.diagnostics import Diagnosable, entropy


class MMoE(nn.Module, Diagnosable):
    """Shared expert MLPs mixed by one softmax gate per task.

    On train log steps it reports, per task, each expert's mean gate weight
    (``mmoe/<task>/gate_weight/<expert>``) and the gate's mean entropy
    (``mmoe/<task>/gate_entropy``): a collapsed gate (entropy near 0, one
    expert near 1) shows at once.

    Args:
        in_features: input width.
        expert_mlp: ``MLP`` proto of every expert.
        num_expert: number of experts.
        num_task: number of gates (one per task).
        gate_mlp: optional ``MLP`` proto before each gate's softmax layer.
        where: config path for errors.
        task_names: names in the diagnostics' tags (default ``task<i>``).
    """

    def __init__(
        self,
        in_features: int,
        expert_mlp,
        num_expert: int,
        num_task: int,
        gate_mlp=None,
        where: str = "mmoe",
        task_names: list[str] | None = None,
    ) -> None:
        super().__init__()
        self.diag_names = [
            n or f"task{i}" for i, n in enumerate(task_names or [""] * num_task)
        ]
        experts = [
            MLP(in_features, expert_mlp, f"{where}.expert_mlp")
            for _ in range(num_expert)
        ]
        self.experts = nn.ModuleList(experts)
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
        self.output_dim = experts[0].output_dim

    def forward(self, x: Tensor) -> list[Tensor]:
        """One ``[B, expert width]`` mixture per task."""
        experts = torch.stack([e(x) for e in self.experts], dim=1)  # [B, E, D]
        out: list[Tensor] = []
        for i, gate in enumerate(self.gates):
            weights = torch.softmax(gate(x), dim=1)  # [B, E]
            if not torch.jit.is_scripting():
                if self.diagnosing():
                    self._report(self.diag_names[i], weights)
            out.append(torch.bmm(weights.unsqueeze(1), experts).squeeze(1))
        return out

    @torch.jit.unused
    def _report(self, task: str, weights: Tensor) -> None:
        n = weights.shape[1]
        self.put(
            f"mmoe/{task}/gate_weight",
            weights.float().mean(0),
            description=f"Mean gate weight of each of the {n} experts for task "
            f"{task} over the batch (sums to 1; uniform is {1 / n:.3g}).",
        )
        self.put(
            f"mmoe/{task}/gate_entropy",
            entropy(weights).mean(),
            description=f"Mean entropy (nats) of task {task}'s gate over the "
            f"batch: 0 is one expert only, ln {n} = {math.log(n):.3g} uniform.",
        )
