"""xDeepFM (Lian et al., 2018): a compressed interaction network beside a deep MLP.

Groups (TorchEasyRec's names): ``wide`` (WIDE; every feature an embedding of
``wide_embedding_dim``) feeds the CIN as ``[B, fields, wide_embedding_dim]``;
``deep`` (DEEP) feeds the ``deep`` MLP; ``final`` reads both, then the output
layer. As in TorchEasyRec there is no separate first-order term.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from tzrec.models.model import RankModel, output_layer
from tzrec.modules.cin import CIN
from tzrec.modules.embedding import cat_fields
from tzrec.modules.mlp import MLP
from tzrec.utils.errors import ConfigError


class XDeepFMHead(nn.Module):
    """xDeepFM after the embedding lookup (TorchScript-compatible)."""

    def __init__(
        self,
        task: str,
        wide_fields: tuple[int, int],
        cin: CIN,
        deep: MLP,
        final: MLP,
        output: nn.Linear,
    ) -> None:
        super().__init__()
        self.task = task
        self.wide_num, self.wide_dim = wide_fields
        self.cin = cin
        self.deep = deep
        self.final = final
        self.output = output

    def forward(self, groups: dict[str, list[Tensor]]) -> dict[str, Tensor]:
        """Raw output ``[B, num_class]`` of the task."""
        wide = cat_fields(groups["wide"]).view(-1, self.wide_num, self.wide_dim)
        deep = self.deep(cat_fields(groups["deep"]))
        net = torch.cat([self.cin(wide), deep], dim=1)
        return {self.task: self.output(self.final(net))}


class XDeepFM(RankModel):
    """xDeepFM on torchrec embeddings."""

    def wide_embedding_dim(self) -> int:
        """``xdeepfm.wide_embedding_dim`` (default 4)."""
        return self.model_config.xdeepfm.wide_embedding_dim or 4

    def __init__(self, *args, **kwargs) -> None:  # noqa: ANN002, ANN003
        super().__init__(*args, **kwargs)
        cfg, where = self.model_config.xdeepfm, "model_config.xdeepfm"
        for g in ("wide", "deep"):
            self.require_group(g)
        if "wide" not in self.embedding_group.wide_groups:
            raise ConfigError(
                'xDeepFM\'s feature group "wide" must be a WIDE group',
                "model_config.feature_groups",
                'set group_type: WIDE on the group "wide"',
            )
        if not cfg.cin.cin_layer_size:
            raise ConfigError(
                "CIN has no layers",
                f"{where}.cin.cin_layer_size",
                "set cin_layer_size: [...] (maps per layer)",
            )
        self.embedding_group.fuse(["wide", "deep"])
        self.embedding_group.set_wide_init_fn(cfg.wide_init_fn, f"{where}.wide_init_fn")
        wide_num = len(self.embedding_group.groups["wide"])
        cin = CIN(wide_num, list(cfg.cin.cin_layer_size))
        deep = MLP(self.group_dim("deep"), cfg.deep, f"{where}.deep")
        final = MLP(cin.output_dim + deep.output_dim, cfg.final, f"{where}.final")
        task = self.tasks[0]
        self.head = XDeepFMHead(
            task.name,
            (wide_num, self.wide_embedding_dim()),
            cin,
            deep,
            final,
            output_layer(final.output_dim, task),
        )
