"""DCN-V2 (Wang et al., 2021): low-rank cross network beside a deep MLP.

Reads one feature group: optional ``backbone`` MLP, then the cross network;
an optional ``deep`` MLP reads the raw group in parallel (as TorchEasyRec);
``final`` reads both.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from tzrec.models.model import RankModel, output_layer
from tzrec.modules.cross import CrossNetV2
from tzrec.modules.embedding import cat_fields
from tzrec.modules.mlp import MLP


class DCNV2Head(nn.Module):
    """DCN-V2 after the embedding lookup (TorchScript-compatible)."""

    def __init__(
        self,
        task: str,
        group: str,
        backbone: MLP | None,
        cross: CrossNetV2,
        deep: MLP | None,
        final: MLP,
        output: nn.Linear,
    ) -> None:
        super().__init__()
        self.task = task
        self.group = group
        self.backbone = backbone if backbone is not None else nn.Identity()
        self.cross = cross
        self.has_deep = deep is not None
        self.deep = deep if deep is not None else nn.Identity()
        self.final = final
        self.output = output

    def forward(self, groups: dict[str, list[Tensor]]) -> dict[str, Tensor]:
        """Raw output ``[B, num_class]`` of the task."""
        x = cat_fields(groups[self.group])
        net = self.cross(self.backbone(x))
        if self.has_deep:
            net = torch.cat([net, self.deep(x)], dim=1)
        return {self.task: self.output(self.final(net))}


class DCNV2(RankModel):
    """DCN-V2 on torchrec embeddings."""

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        cfg, where = self.model_config.dcn_v2, "model_config.dcn_v2"
        group = self.only_group(where)
        self.embedding_group.fuse([group])
        width = self.group_dim(group)
        backbone = None
        if cfg.HasField("backbone"):
            backbone = MLP(width, cfg.backbone, f"{where}.backbone")
            width = backbone.output_dim
        cross = CrossNetV2(width, cfg.cross.cross_num, cfg.cross.low_rank)
        deep = None
        if cfg.HasField("deep"):
            deep = MLP(self.group_dim(group), cfg.deep, f"{where}.deep")
            width += deep.output_dim
        final = MLP(width, cfg.final, f"{where}.final")
        task = self.tasks[0]
        self.head = DCNV2Head(
            task.name,
            group,
            backbone,
            cross,
            deep,
            final,
            output_layer(final.output_dim, task, bias=False),
        )
