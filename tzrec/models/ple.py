"""PLE (Progressive Layered Extraction, Tang et al., 2020).

Reads one feature group. ``extraction_networks`` are stacked (see
tzrec.modules.extraction_net); each task's output of the last one goes to the
task's tower (``task_towers``: optional ``mlp``, then the output layer).
"""

import torch
from torch import Tensor, nn

from tzrec.models.model import RankModel
from tzrec.modules.extraction_net import ExtractionNet
from tzrec.modules.task_tower import TaskTowers
from tzrec.utils.errors import ConfigError


class PLEHead(nn.Module):
    """PLE after the embedding lookup (TorchScript-compatible)."""

    num_task: int

    def __init__(
        self, group: str, layers: list[ExtractionNet], towers: TaskTowers
    ) -> None:
        super().__init__()
        self.group = group
        self.layers = nn.ModuleList(layers)
        self.towers = towers
        self.num_task = len(towers.names)

    def forward(self, groups: dict[str, list[Tensor]]) -> dict[str, Tensor]:
        """Raw outputs ``[B, num_class]`` by task name."""
        x = torch.cat(groups[self.group], dim=1)
        task_inputs = [x for _ in range(self.num_task)]
        share = x
        for layer in self.layers:
            task_inputs, share = layer(task_inputs, share)
        return self.towers(task_inputs)


class PLE(RankModel):
    """Multi-task PLE on torchrec embeddings."""

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        cfg, where = self.model_config.ple, "model_config.ple"
        group = self.only_group(where)
        if not cfg.extraction_networks:
            raise ConfigError(
                "no extraction_networks", f"{where}.extraction_networks", "add one"
            )
        width = share_width = self.group_dim(group)
        layers = []
        n = len(cfg.extraction_networks)
        for i, net in enumerate(cfg.extraction_networks):
            layer = ExtractionNet(
                width,
                share_width,
                len(self.tasks),
                net,
                final=i == n - 1,
                where=f"{where}.extraction_networks[{i}]"
                + (f' "{net.network_name}"' if net.network_name else ""),
            )
            layers.append(layer)
            width = share_width = layer.output_dim
        towers = TaskTowers(
            width,
            [t.name for t in self.tasks],
            [t.mlp if t.HasField("mlp") else None for t in cfg.task_towers],
            [t.num_class for t in self.tasks],
            [t.where for t in self.tasks],
        )
        self.head = PLEHead(group, layers, towers)
