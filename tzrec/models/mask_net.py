"""MaskNet (Wang et al., 2021): instance-guided masks over one feature group."""

from __future__ import annotations

import torch
from torch import Tensor, nn

from tzrec.models.model import RankModel, output_layer
from tzrec.modules.masknet import MaskNetModule


class MaskNetHead(nn.Module):
    """MaskNet after the embedding lookup (TorchScript-compatible)."""

    def __init__(
        self, task: str, group: str, masknet: MaskNetModule, output: nn.Linear
    ) -> None:
        super().__init__()
        self.task = task
        self.group = group
        self.masknet = masknet
        self.output = output

    def forward(self, groups: dict[str, list[Tensor]]) -> dict[str, Tensor]:
        """Raw output ``[B, num_class]`` of the task."""
        x = torch.cat(groups[self.group], dim=1)
        return {self.task: self.output(self.masknet(x))}


class MaskNet(RankModel):
    """MaskNet on torchrec embeddings (``mask_net.mask_net_module``)."""

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        where = "model_config.mask_net.mask_net_module"
        group = self.only_group("model_config.mask_net")
        module = MaskNetModule(
            self.group_dim(group), self.model_config.mask_net.mask_net_module, where
        )
        task = self.tasks[0]
        self.head = MaskNetHead(
            task.name, group, module, output_layer(module.output_dim, task, bias=False)
        )
