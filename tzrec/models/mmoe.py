"""MMoE (Ma et al., 2018): shared experts, a gate and a tower per task.

Reads one feature group. Each ``task_towers`` entry is a task with its own
label, losses, metrics and weight (see :mod:`tzrec.models.tasks`).
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from tzrec.models.model import RankModel
from tzrec.modules.mmoe import MMoE as MMoEModule
from tzrec.modules.task_tower import TaskTowers


class MMoEHead(nn.Module):
    """MMoE after the embedding lookup (TorchScript-compatible)."""

    def __init__(self, group: str, mmoe: MMoEModule, towers: TaskTowers) -> None:
        super().__init__()
        self.group = group
        self.mmoe = mmoe
        self.towers = towers

    def forward(self, groups: dict[str, list[Tensor]]) -> dict[str, Tensor]:
        """Raw outputs ``[B, num_class]`` by task name."""
        return self.towers(self.mmoe(torch.cat(groups[self.group], dim=1)))


class MMoE(RankModel):
    """Multi-task MMoE on torchrec embeddings."""

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        cfg, where = self.model_config.mmoe, "model_config.mmoe"
        group = self.only_group(where)
        mmoe = MMoEModule(
            self.group_dim(group),
            cfg.expert_mlp,
            cfg.num_expert,
            len(self.tasks),
            cfg.gate_mlp if cfg.HasField("gate_mlp") else None,
            where,
            [t.name for t in self.tasks],
        )
        towers = TaskTowers(
            mmoe.output_dim,
            [t.name for t in self.tasks],
            [t.mlp if t.HasField("mlp") else None for t in cfg.task_towers],
            [t.num_class for t in self.tasks],
            [t.where for t in self.tasks],
        )
        self.head = MMoEHead(group, mmoe, towers)
