"""DeepFM: wide (first-order) + factorization machine + deep MLP.

Groups: ``wide`` (WIDE), ``deep`` (DEEP) and optionally ``fm`` (DEEP; the
``deep`` group's features when absent). Without ``final`` the logit is
wide + FM + linear(deep); with ``final`` an MLP reads all three.
"""

from __future__ import annotations

import torch
from torch import nn

from tzrec.datasets.batch import Batch
from tzrec.models.model import RankModel
from tzrec.modules.fm import FactorizationMachine
from tzrec.modules.mlp import MLP
from tzrec.utils.errors import ConfigError


class DeepFM(RankModel):
    """DeepFM (Guo et al., 2017) on torchrec embeddings."""

    def wide_embedding_dim(self) -> int:
        """``deepfm.wide_embedding_dim`` (default 4)."""
        return self.model_config.deepfm.wide_embedding_dim or 4

    def __init__(self, *args, **kwargs) -> None:  # noqa: ANN002, ANN003
        super().__init__(*args, **kwargs)
        cfg = self.model_config.deepfm
        for g in ("wide", "deep"):
            self.require_group(g)
        self.fm_group = "fm" if self.has_group("fm") else "deep"
        dims = {
            self.embedding_group.feature_dims.get(n)
            for n in self.embedding_group.groups[self.fm_group]
        }
        if len(dims) != 1 or None in dims:
            raise ConfigError(
                "FM features must all be embeddings of one embedding_dim",
                f'feature group "{self.fm_group}"',
                "give every FM feature the same embedding_dim (bucketize dense ones)",
            )
        self.fm_dim = dims.pop()
        self.fm = FactorizationMachine()
        self.deep = MLP(self.group_dim("deep"), cfg.deep, "model_config.deepfm.deep")
        if cfg.HasField("final"):
            width = self.wide_embedding_dim() + self.fm_dim + self.deep.output_dim
            self.final = MLP(width, cfg.final, "model_config.deepfm.final")
            self.output = nn.Linear(self.final.output_dim, 1)
        else:
            self.final = None
            self.output = nn.Linear(self.deep.output_dim, 1)

    def predict(self, batch: Batch) -> dict[str, torch.Tensor]:
        """Logits and probabilities, [B] each."""
        groups = self.embedding_group(batch.sparse, batch.dense)
        wide = torch.stack(groups["wide"], dim=1).sum(dim=1)
        fm = self.fm(torch.stack(groups[self.fm_group], dim=1))
        deep = self.deep(torch.cat(groups["deep"], dim=1))
        if self.final is not None:
            logits = self.output(self.final(torch.cat([wide, fm, deep], dim=1)))
        else:
            logits = (
                self.output(deep)
                + wide.sum(dim=1, keepdim=True)
                + fm.sum(dim=1, keepdim=True)
            )
        logits = logits.squeeze(1)
        return {"logits": logits, "probs": torch.sigmoid(logits)}
