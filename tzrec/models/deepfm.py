"""DeepFM (Guo et al., 2017): wide (first-order) + factorization machine + deep MLP.

Groups: ``wide`` (WIDE), ``deep`` (DEEP) and optionally ``fm`` (DEEP; the
``deep`` group's features when absent). Without ``final`` the output is
wide + FM + linear(deep); with ``final`` an MLP reads all three.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from tzrec.models.model import RankModel, output_layer
from tzrec.modules.fm import FactorizationMachine
from tzrec.modules.mlp import MLP


class DeepFMHead(nn.Module):
    """DeepFM after the embedding lookup (TorchScript-compatible)."""

    def __init__(
        self,
        task: str,
        fm_group: str,
        deep: MLP,
        final: MLP | None,
        output: nn.Linear,
    ) -> None:
        super().__init__()
        self.task = task
        self.fm_group = fm_group
        self.fm = FactorizationMachine()
        self.deep = deep
        self.has_final = final is not None
        self.final = final if final is not None else nn.Identity()
        self.output = output

    def forward(self, groups: dict[str, list[Tensor]]) -> dict[str, Tensor]:
        """Raw output ``[B, num_class]`` of the task."""
        wide = torch.stack(groups["wide"], dim=1).sum(dim=1)
        fm = self.fm(torch.stack(groups[self.fm_group], dim=1))
        deep = self.deep(torch.cat(groups["deep"], dim=1))
        if self.has_final:
            out = self.output(self.final(torch.cat([wide, fm, deep], dim=1)))
        else:
            out = (
                self.output(deep)
                + wide.sum(dim=1, keepdim=True)
                + fm.sum(dim=1, keepdim=True)
            )
        return {self.task: out}


class DeepFM(RankModel):
    """DeepFM on torchrec embeddings."""

    def wide_embedding_dim(self) -> int:
        """``deepfm.wide_embedding_dim`` (default 4)."""
        return self.model_config.deepfm.wide_embedding_dim or 4

    def __init__(self, *args, **kwargs) -> None:  # noqa: ANN002, ANN003
        super().__init__(*args, **kwargs)
        cfg = self.model_config.deepfm
        for g in ("wide", "deep"):
            self.require_group(g)
        fm_group = "fm" if self.has_group("fm") else "deep"
        _, fm_dim = self.fields_of(fm_group, f'feature group "{fm_group}"')
        deep = MLP(self.group_dim("deep"), cfg.deep, "model_config.deepfm.deep")
        final = None
        width = deep.output_dim
        if cfg.HasField("final"):
            final_in = self.wide_embedding_dim() + fm_dim + deep.output_dim
            final = MLP(final_in, cfg.final, "model_config.deepfm.final")
            width = final.output_dim
        task = self.tasks[0]
        self.head = DeepFMHead(
            task.name, fm_group, deep, final, output_layer(width, task)
        )
