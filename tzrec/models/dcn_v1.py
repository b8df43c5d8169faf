"""DCN v1 (Wang et al., 2017): a cross network beside a deep MLP.

Reads one feature group. ``cross_tower`` and ``deep_tower`` read the group in
parallel; ``final_dnn`` reads both, then a bias-free output layer
(TorchEasyRec's DCNV1).
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from tzrec.models.model import RankModel, output_layer
from tzrec.modules.cross import CrossNet
from tzrec.modules.embedding import cat_fields
from tzrec.modules.mlp import MLP


class DCNV1Head(nn.Module):
    """DCN v1 after the embedding lookup (TorchScript-compatible)."""

    def __init__(
        self,
        task: str,
        group: str,
        cross: CrossNet,
        deep: MLP,
        final: MLP,
        output: nn.Linear,
    ) -> None:
        super().__init__()
        self.task = task
        self.group = group
        self.cross = cross
        self.deep = deep
        self.final = final
        self.output = output

    def forward(self, groups: dict[str, list[Tensor]]) -> dict[str, Tensor]:
        """Raw output ``[B, num_class]`` of the task."""
        x = cat_fields(groups[self.group])
        net = torch.cat([self.cross(x), self.deep(x)], dim=1)
        return {self.task: self.output(self.final(net))}


class DCNV1(RankModel):
    """DCN v1 on torchrec embeddings."""

    def __init__(self, *args, **kwargs) -> None:  # noqa: ANN002, ANN003
        super().__init__(*args, **kwargs)
        cfg, where = self.model_config.dcn_v1, "model_config.dcn_v1"
        group = self.only_group(where)
        self.embedding_group.fuse([group])
        width = self.group_dim(group)
        cross = CrossNet(width, cfg.cross_tower.cross_num)
        deep = MLP(width, cfg.deep_tower, f"{where}.deep_tower")
        final = MLP(width + deep.output_dim, cfg.final_dnn, f"{where}.final_dnn")
        task = self.tasks[0]
        self.head = DCNV1Head(
            task.name,
            group,
            cross,
            deep,
            final,
            output_layer(final.output_dim, task, bias=False),
        )
