"""SimpleMultiTask: one tower per task on a shared feature group.

Reads one feature group; each ``task_towers`` entry is a task (its own label,
losses, metrics, weight; see :mod:`tzrec.models.tasks`) with an optional MLP
and its output layer, all reading the group as it is (TorchEasyRec's
SimpleMultiTask).
"""

from __future__ import annotations

from torch import Tensor, nn

from tzrec.models.model import RankModel
from tzrec.modules.embedding import cat_fields
from tzrec.modules.task_tower import TaskTowers


class SimpleMultiTaskHead(nn.Module):
    """SimpleMultiTask after the embedding lookup (TorchScript-compatible)."""

    def __init__(self, group: str, towers: TaskTowers) -> None:
        super().__init__()
        self.group = group
        self.towers = towers
        self.num_tasks = len(towers.names)

    def forward(self, groups: dict[str, list[Tensor]]) -> dict[str, Tensor]:
        """Raw outputs ``[B, num_class]`` by task name."""
        x = cat_fields(groups[self.group])
        return self.towers([x] * self.num_tasks)


class SimpleMultiTask(RankModel):
    """Multi-task towers on torchrec embeddings, no shared layers."""

    def __init__(self, *args, **kwargs) -> None:  # noqa: ANN002, ANN003
        super().__init__(*args, **kwargs)
        cfg = self.model_config.simple_multi_task
        group = self.only_group("model_config.simple_multi_task")
        self.embedding_group.fuse([group])
        towers = TaskTowers(
            self.group_dim(group),
            [t.name for t in self.tasks],
            [t.mlp if t.HasField("mlp") else None for t in cfg.task_towers],
            [t.num_class for t in self.tasks],
            [t.where for t in self.tasks],
        )
        self.head = SimpleMultiTaskHead(group, towers)
