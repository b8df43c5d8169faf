"""MultiTower: one MLP per feature group, concatenated, then a final MLP."""

import torch
from torch import Tensor, nn

from tzrec.models.model import RankModel, output_layer
from tzrec.modules.mlp import MLP
from tzrec.utils.errors import ConfigError


class MultiTowerHead(nn.Module):
    """MultiTower after the embedding lookup (TorchScript-compatible)."""

    inputs: list[str]

    def __init__(
        self,
        task: str,
        inputs: list[str],
        towers: list[MLP],
        final: MLP | None,
        output: nn.Linear,
    ) -> None:
        super().__init__()
        self.task = task
        self.inputs = list(inputs)
        self.towers = nn.ModuleList(towers)
        self.final = final if final is not None else nn.Identity()
        self.output = output

    def forward(self, groups: dict[str, list[Tensor]]) -> dict[str, Tensor]:
        """Raw output ``[B, num_class]`` of the task."""
        outs: list[Tensor] = []
        for i, tower in enumerate(self.towers):
            outs.append(tower(torch.cat(groups[self.inputs[i]], dim=1)))
        return {self.task: self.output(self.final(torch.cat(outs, dim=1)))}


class MultiTower(RankModel):
    """MultiTower on torchrec embeddings; ``towers[i].input`` names a group."""

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        cfg, where = self.model_config.multi_tower, "model_config.multi_tower"
        if not cfg.towers:
            raise ConfigError(
                "no towers", f"{where}.towers", "add towers { input: ... }"
            )
        inputs, towers = [], []
        for i, t in enumerate(cfg.towers):
            self.require_group(t.input)
            inputs.append(t.input)
            towers.append(
                MLP(self.group_dim(t.input), t.mlp, f"{where}.towers[{i}].mlp")
            )
        width = sum(t.output_dim for t in towers)
        final = None
        if cfg.HasField("final"):
            final = MLP(width, cfg.final, f"{where}.final")
            width = final.output_dim
        task = self.tasks[0]
        self.head = MultiTowerHead(
            task.name, inputs, towers, final, output_layer(width, task)
        )
