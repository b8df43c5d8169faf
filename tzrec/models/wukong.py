"""WuKong (Zhang et al., 2024): stacked FM-based interaction layers.

Groups (as TorchEasyRec): ``sparse`` (required; embeddings of one width D,
one field each) and ``dense`` (optional; ``dense_mlp`` maps it to one more
field of width D; when its last hidden_units is a multiple k*D it gives k
fields, which TorchEasyRec's wukong_criteo example needs). The fields go through
``wukong_layers`` (tzrec.modules.wukong), are flattened, and read by
``final`` (an MLP) and the output layer.
"""

import torch
from torch import Tensor, nn

from tzrec.models.model import RankModel, output_layer
from tzrec.modules.mlp import MLP
from tzrec.modules.wukong import WuKongLayer
from tzrec.utils.errors import ConfigError

_WHERE = "model_config.wukong"


class WuKongHead(nn.Module):
    """WuKong after the embedding lookup (TorchScript-compatible)."""

    sparse: str
    task: str
    has_dense: bool
    dim: int

    def __init__(
        self,
        sparse: str,
        task: str,
        dense_mlp: MLP | None,
        layers: list[WuKongLayer],
        final: MLP,
        output: nn.Linear,
        dim: int,
    ) -> None:
        super().__init__()
        self.sparse = sparse
        self.task = task
        self.dim = dim
        self.has_dense = dense_mlp is not None
        self.dense_mlp = dense_mlp if dense_mlp is not None else nn.Identity()
        self.layers = nn.Sequential(*layers)
        self.final = final
        self.output = output

    def forward(self, groups: dict[str, list[Tensor]]) -> dict[str, Tensor]:
        """Raw output ``[B, num_class]`` of the task."""
        fields = torch.stack(groups[self.sparse], dim=1)  # [B, F, D]
        if self.has_dense:
            dense = self.dense_mlp(torch.cat(groups["dense"], dim=1))
            fields = torch.cat(
                [dense.view(-1, dense.shape[1] // self.dim, self.dim), fields], dim=1
            )
        x = self.layers(fields).flatten(1)
        return {self.task: self.output(self.final(x))}


class WuKong(RankModel):
    """WuKong ranking model on torchrec embeddings."""

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        cfg = self.model_config.wukong
        # One group: it is the sparse one (as TorchEasyRec).
        sparse = "sparse" if self.has_group("sparse") else self.only_group(_WHERE)
        num_fields, dim = self.fields_of(sparse, "model_config.feature_groups")
        dense_mlp = None
        if sparse != "dense" and self.has_group("dense"):
            if not cfg.HasField("dense_mlp"):
                raise ConfigError(
                    "a dense group needs dense_mlp", f"{_WHERE}.dense_mlp", "add one"
                )
            dense_mlp = MLP(
                self.group_dim("dense"), cfg.dense_mlp, f"{_WHERE}.dense_mlp"
            )
            if dense_mlp.output_dim % dim:
                raise ConfigError(
                    f"dense_mlp ends in {dense_mlp.output_dim} units, not a "
                    f"multiple of the sparse embeddings' width {dim}",
                    f"{_WHERE}.dense_mlp.hidden_units",
                    f"end hidden_units with {dim} (or a multiple)",
                )
            num_fields += dense_mlp.output_dim // dim
        if not cfg.wukong_layers:
            raise ConfigError("no wukong_layers", f"{_WHERE}.wukong_layers", "add one")
        layers = []
        for i, lc in enumerate(cfg.wukong_layers):
            layer = WuKongLayer(num_fields, dim, lc, f"{_WHERE}.wukong_layers[{i}]")
            layers.append(layer)
            num_fields = layer.output_fields
        if not cfg.HasField("final"):
            raise ConfigError("final is required", f"{_WHERE}.final", "add an MLP")
        final = MLP(num_fields * dim, cfg.final, f"{_WHERE}.final")
        task = self.tasks[0]
        self.head = WuKongHead(
            sparse,
            task.name,
            dense_mlp,
            layers,
            final,
            output_layer(final.output_dim, task),
            dim,
        )
