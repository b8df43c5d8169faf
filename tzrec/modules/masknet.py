"""MaskNet blocks (Wang et al., 2021): instance-guided masks on embeddings."""

from __future__ import annotations

import torch
from torch import Tensor, nn

from tzrec.modules.mlp import MLP
from tzrec.utils.errors import ConfigError


class MaskBlock(nn.Module):
    """``LN(relu(W (x * mask(m))))`` where ``mask`` is a two-layer MLP of ``m``.

    Args:
        input_dim: width of the input to mask (embeddings or the previous
            block's output).
        mask_input_dim: width of the mask's input (the embeddings).
        hidden_dim: output width.
        aggregation_dim: hidden width of the mask generator.
    """

    def __init__(
        self, input_dim: int, mask_input_dim: int, hidden_dim: int, aggregation_dim: int
    ) -> None:
        super().__init__()
        self.mask_generator = nn.Sequential(
            nn.Linear(mask_input_dim, aggregation_dim),
            nn.ReLU(),
            nn.Linear(aggregation_dim, input_dim),
        )
        self.ffn = nn.Sequential(
            nn.Linear(input_dim, hidden_dim), nn.LayerNorm(hidden_dim), nn.ReLU()
        )
        self.output_dim = hidden_dim

    def forward(self, x: Tensor, mask_input: Tensor) -> Tensor:
        """Masks ``x`` by ``mask_input`` and projects it."""
        return self.ffn(x * self.mask_generator(mask_input))


class MaskNetModule(nn.Module):
    """Parallel or serial MaskBlocks over layer-normed embeddings, then top MLP.

    Args:
        feature_dim: width of the feature group.
        config: ``MaskNetModule`` proto.
        where: config path for errors.
    """

    def __init__(self, feature_dim: int, config, where: str) -> None:
        super().__init__()
        block = config.mask_block
        if not config.n_mask_blocks or not block.hidden_dim:
            raise ConfigError(
                "MaskNet needs n_mask_blocks and mask_block.hidden_dim > 0",
                where,
                "set e.g. n_mask_blocks: 3 mask_block { hidden_dim: 128 }",
            )
        self.ln_emb = nn.LayerNorm(feature_dim)
        self.use_parallel = bool(config.use_parallel)
        blocks = []
        dim = feature_dim
        for _ in range(config.n_mask_blocks):
            agg = _aggregation_dim(block, dim if not self.use_parallel else feature_dim)
            in_dim = feature_dim if self.use_parallel else dim
            blocks.append(MaskBlock(in_dim, feature_dim, block.hidden_dim, agg))
            dim = block.hidden_dim
        self.blocks = nn.ModuleList(blocks)
        out = block.hidden_dim * (config.n_mask_blocks if self.use_parallel else 1)
        top = (
            MLP(out, config.top_mlp, f"{where}.top_mlp")
            if config.HasField("top_mlp")
            else None
        )
        self.top_mlp = top if top is not None else nn.Identity()
        self.output_dim = top.output_dim if top is not None else out

    def forward(self, emb: Tensor) -> Tensor:
        """``[B, feature_dim]`` -> ``[B, output_dim]``."""
        normed = self.ln_emb(emb)
        if self.use_parallel:
            hidden = torch.cat([b(normed, emb) for b in self.blocks], dim=-1)
        else:
            hidden = normed
            for b in self.blocks:
                hidden = b(hidden, emb)
        return self.top_mlp(hidden)


def _aggregation_dim(block, input_dim: int) -> int:
    """``aggregation_dim`` unless ``reduction_ratio`` is set (TorchEasyRec's rule)."""
    if block.HasField("reduction_ratio") or not block.aggregation_dim:
        return max(1, int(input_dim * block.reduction_ratio))
    return block.aggregation_dim
