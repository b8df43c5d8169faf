"""PLE's extraction network (Tang et al., 2020): task and shared experts with gates.

One layer holds ``expert_num_per_task`` experts per task and ``share_num``
shared experts. Task ``i``'s gate (a softmax layer over task ``i``'s input)
mixes task ``i``'s experts with the shared ones; on every layer but the last
a shared gate (over the shared input) mixes all experts into the next layer's
shared input. The first layer gives every task and the shared part the same
input. TorchScript-compatible.
"""

import torch
from torch import Tensor, nn

from tzrec.modules.mlp import MLP
from tzrec.utils.errors import ConfigError


def _experts(n: int, in_features: int, config, where: str) -> nn.ModuleList:
    return nn.ModuleList([MLP(in_features, config, where) for _ in range(n)])


def _width(experts: object) -> int:
    """Output width of a list of expert MLPs (all equal)."""
    assert isinstance(experts, nn.ModuleList) and isinstance(experts[0], MLP)
    return experts[0].output_dim


class _TaskExperts(nn.Module):
    """One task's experts and its gate over them and the shared experts."""

    def __init__(self, experts: nn.ModuleList, gate: nn.Linear) -> None:
        super().__init__()
        self.experts = experts
        self.gate = gate

    def forward(self, x: Tensor, shared: list[Tensor]) -> tuple[Tensor, list[Tensor]]:
        """The task's mixture ``[B, D]`` and its experts' outputs."""
        own: list[Tensor] = [e(x) for e in self.experts]
        stacked = torch.stack(own + shared, dim=1)  # [B, E, D]
        weights = torch.softmax(self.gate(x), dim=1).unsqueeze(1)
        return torch.bmm(weights, stacked).squeeze(1), own


class ExtractionNet(nn.Module):
    """One extraction layer of PLE.

    Args:
        task_in: input width of each task's part.
        share_in: input width of the shared part.
        num_task: number of tasks.
        config: ``tzrec.protos.module_pb2.ExtractionNetwork``.
        final: the last layer (no shared output).
        where: config path for errors.
    """

    final: bool

    def __init__(
        self,
        task_in: int,
        share_in: int,
        num_task: int,
        config,
        final: bool,
        where: str,
    ) -> None:
        super().__init__()
        per_task = int(config.expert_num_per_task)
        share = int(config.share_num)
        if per_task < 1:
            raise ConfigError(
                "expert_num_per_task must be >= 1", f"{where}.expert_num_per_task"
            )
        if share and not config.HasField("share_expert_net"):
            raise ConfigError(
                "share_num > 0 needs share_expert_net", f"{where}.share_expert_net"
            )
        self.final = final
        self.tasks = nn.ModuleList(
            [
                _TaskExperts(
                    _experts(
                        per_task,
                        task_in,
                        config.task_expert_net,
                        f"{where}.task_expert_net",
                    ),
                    nn.Linear(task_in, per_task + share),
                )
                for _ in range(num_task)
            ]
        )
        self.share_experts = _experts(
            share, share_in, config.share_expert_net, f"{where}.share_expert_net"
        )
        dim = _width(self.tasks[0].experts)
        if share and _width(self.share_experts) != dim:
            raise ConfigError(
                "task_expert_net and share_expert_net must end in the same width "
                f"({dim} vs {_width(self.share_experts)})",
                f"{where}.share_expert_net.hidden_units",
                "make their last hidden_units equal",
            )
        self.share_gate: nn.Module = (
            nn.Identity()
            if final or not share
            else nn.Linear(share_in, per_task * num_task + share)
        )
        self.output_dim = dim

    def forward(
        self, task_inputs: list[Tensor], share_input: Tensor
    ) -> tuple[list[Tensor], Tensor]:
        """Per task its mixture ``[B, D]``, and the shared mixture (or the input)."""
        shared: list[Tensor] = [e(share_input) for e in self.share_experts]
        all_experts: list[Tensor] = []
        outs: list[Tensor] = []
        for i, task in enumerate(self.tasks):
            out, own = task(task_inputs[i], shared)
            all_experts += own
            outs.append(out)
        if self.final or len(shared) == 0:
            return outs, share_input
        stacked = torch.stack(all_experts + shared, dim=1)
        gate = torch.softmax(self.share_gate(share_input), dim=1)
        return outs, torch.bmm(gate.unsqueeze(1), stacked).squeeze(1)
