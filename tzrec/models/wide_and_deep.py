"""Wide & Deep (Cheng et al., 2016): a linear wide part plus a deep MLP.

Groups: ``wide`` (WIDE; the sum of its narrow embeddings is the wide logit)
and ``deep`` (DEEP). Without ``final`` the output is wide + linear(deep);
with ``final`` an MLP reads ``[wide, deep]``.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from tzrec.models.model import RankModel, output_layer
from tzrec.modules.embedding import cat_fields
from tzrec.modules.mlp import MLP


class WideAndDeepHead(nn.Module):
    """Wide & Deep after the embedding lookup (TorchScript-compatible)."""

    def __init__(
        self, task: str, deep: MLP, final: MLP | None, output: nn.Linear
    ) -> None:
        super().__init__()
        self.task = task
        self.deep = deep
        self.has_final = final is not None
        self.final = final if final is not None else nn.Identity()
        self.output = output

    def forward(self, groups: dict[str, list[Tensor]]) -> dict[str, Tensor]:
        """Raw output ``[B, num_class]`` of the task."""
        wide = cat_fields(groups["wide"]).sum(dim=1, keepdim=True)
        deep = self.deep(cat_fields(groups["deep"]))
        if self.has_final:
            out = self.output(self.final(torch.cat([wide, deep], dim=1)))
        else:
            out = wide + self.output(deep)
        return {self.task: out}


class WideAndDeep(RankModel):
    """Wide & Deep on torchrec embeddings."""

    def wide_embedding_dim(self) -> int:
        """``wide_and_deep.wide_embedding_dim`` (default 4)."""
        return self.model_config.wide_and_deep.wide_embedding_dim or 4

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        cfg = self.model_config.wide_and_deep
        for g in ("wide", "deep"):
            self.require_group(g)
        where = "model_config.wide_and_deep"
        self.embedding_group.fuse(["wide", "deep"])
        self.embedding_group.set_wide_init_fn(cfg.wide_init_fn, f"{where}.wide_init_fn")
        deep = MLP(self.group_dim("deep"), cfg.deep, f"{where}.deep")
        final = None
        width = deep.output_dim
        if cfg.HasField("final"):
            final = MLP(1 + deep.output_dim, cfg.final, f"{where}.final")
            width = final.output_dim
        task = self.tasks[0]
        self.head = WideAndDeepHead(task.name, deep, final, output_layer(width, task))
