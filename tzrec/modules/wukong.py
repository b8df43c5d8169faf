"""WuKong's interaction layer (Zhang et al., 2024): LCB + FMB with a residual.

Input and output are ``[B, fields, D]``. The linear compress block (LCB)
mixes the input fields linearly into ``lcb_feature_num`` fields. The
factorization machine block (FMB) computes an optimised FM, ``X (X^T W)``
with ``W`` projecting the fields to ``compressed_feature_num`` columns (the
pairwise interactions, rank-limited), then LayerNorm, ``feature_num_mlp`` and
a linear layer to ``fmb_feature_num`` fields of width D. The two are
concatenated, the input is added (projected over the field axis when the
field count changes), and the result is layer-normalised over D.
TorchScript-compatible.
"""

import torch
from torch import Tensor, nn

from tzrec.modules.mlp import MLP
from tzrec.utils.errors import ConfigError


class WuKongLayer(nn.Module):
    """One WuKong layer.

    Args:
        num_fields: fields of the input.
        dim: width D of every field.
        config: ``tzrec.protos.module_pb2.WuKongLayer``.
        where: config path for errors.
    """

    lcb: int
    fmb: int
    dim: int

    def __init__(self, num_fields: int, dim: int, config, where: str) -> None:
        super().__init__()
        self.lcb, self.fmb, self.dim = (
            int(config.lcb_feature_num),
            int(config.fmb_feature_num),
            dim,
        )
        k = int(config.compressed_feature_num)
        if self.lcb < 1 or self.fmb < 1 or k < 1:
            raise ConfigError(
                "lcb_feature_num, fmb_feature_num and compressed_feature_num must "
                "be >= 1",
                where,
                "e.g. lcb_feature_num: 16 fmb_feature_num: 16",
            )
        self.lcb_weight = nn.Linear(num_fields, self.lcb, bias=False)
        self.compress = nn.Linear(num_fields, k, bias=False)
        self.fm_norm = nn.LayerNorm(num_fields * k)
        self.fm_mlp = MLP(
            num_fields * k, config.feature_num_mlp, f"{where}.feature_num_mlp"
        )
        self.fm_out = nn.Linear(self.fm_mlp.output_dim, self.fmb * dim)
        out_fields = self.lcb + self.fmb
        self.residual: nn.Module = (
            nn.Identity()
            if out_fields == num_fields
            else nn.Linear(num_fields, out_fields, bias=False)
        )
        self.norm = nn.LayerNorm(dim)
        self.output_fields = out_fields

    def forward(self, x: Tensor) -> Tensor:
        """``[B, fields, D]`` -> ``[B, lcb + fmb, D]``."""
        xt = x.transpose(1, 2)  # [B, D, F]
        lcb = self.lcb_weight(xt).transpose(1, 2)  # [B, lcb, D]
        fm = torch.bmm(x, self.compress(xt))  # [B, F, k]
        fm = self.fm_out(self.fm_mlp(self.fm_norm(fm.flatten(1))))
        fm = fm.view(-1, self.fmb, self.dim)
        out = torch.cat([lcb, fm], dim=1)
        res = (
            self.residual(xt).transpose(1, 2)
            if self.lcb + self.fmb != xt.shape[2]
            else x
        )
        return self.norm(out + res)
