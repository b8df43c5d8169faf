"""DeepFM (Guo et al., 2017): wide (first-order) + factorization machine + deep MLP.

Groups: ``wide`` (WIDE), ``deep`` (DEEP) and optionally ``fm`` (DEEP; the
``deep`` group's features when absent). Without ``final`` the output is
wide + FM + linear(deep); with ``final`` an MLP reads all three.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from tzrec.models.model import RankModel, output_layer
from tzrec.modules.embedding import cat_fields
from tzrec.modules.fm import FactorizationMachine
from tzrec.modules.mlp import MLP


class DeepFMHead(nn.Module):
    """DeepFM after the embedding lookup (TorchScript-compatible).

    Reads each group as one ``[B, width]`` block (fused groups come as one;
    per-feature lists are concatenated) and views it per field for the wide
    sum and FM, so training does no stacking or splitting.
    """

    def __init__(
        self,
        task: str,
        fm_group: str,
        deep: MLP,
        final: MLP | None,
        output: nn.Linear,
        wide_fields: tuple[int, int],
        fm_fields: tuple[int, int],
    ) -> None:
        super().__init__()
        self.task = task
        self.fm_group = fm_group
        self.wide_num, self.wide_dim = wide_fields
        self.fm_num, self.fm_dim = fm_fields
        self.fm = FactorizationMachine()
        self.deep = deep
        self.has_final = final is not None
        self.final = final if final is not None else nn.Identity()
        self.output = output

    def forward(self, groups: dict[str, list[Tensor]]) -> dict[str, Tensor]:
        """Raw output ``[B, num_class]`` of the task."""
        wide_in = cat_fields(groups["wide"])
        wide = wide_in.view(-1, self.wide_num, self.wide_dim).sum(dim=1)
        fm_in = cat_fields(groups[self.fm_group])
        fm = self.fm(fm_in.view(-1, self.fm_num, self.fm_dim))
        deep = self.deep(cat_fields(groups["deep"]))
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

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        cfg = self.model_config.deepfm
        for g in ("wide", "deep"):
            self.require_group(g)
        fm_group = "fm" if self.has_group("fm") else "deep"
        fm_num, fm_dim = self.fields_of(fm_group, f'feature group "{fm_group}"')
        wide_num = len(self.embedding_group.groups["wide"])
        self.embedding_group.fuse(["wide", "deep", fm_group])
        self.embedding_group.set_wide_init_fn(
            cfg.wide_init_fn, "model_config.deepfm.wide_init_fn"
        )
        deep = MLP(self.group_dim("deep"), cfg.deep, "model_config.deepfm.deep")
        final = None
        width = deep.output_dim
        if cfg.HasField("final"):
            final_in = self.wide_embedding_dim() + fm_dim + deep.output_dim
            final = MLP(final_in, cfg.final, "model_config.deepfm.final")
            width = final.output_dim
        task = self.tasks[0]
        self.head = DeepFMHead(
            task.name,
            fm_group,
            deep,
            final,
            output_layer(width, task),
            (wide_num, self.wide_embedding_dim()),
            (fm_num, fm_dim),
        )
