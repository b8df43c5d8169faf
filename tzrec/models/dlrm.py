"""DLRM (Naumov et al., 2019): dense MLP + pairwise dot interactions + final MLP.

Groups: ``sparse`` (embeddings of one ``embedding_dim``; the only group may
have any name) and optionally ``dense`` (dense features through
``dense_mlp``, whose last width must equal that ``embedding_dim``). The final
MLP reads the interactions, the dense output and, with ``arch_with_sparse``,
the concatenated embeddings.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from tzrec.models.model import RankModel, output_layer
from tzrec.modules.embedding import cat_fields
from tzrec.modules.interaction import DotInteraction
from tzrec.modules.mlp import MLP
from tzrec.utils.errors import ConfigError


class DLRMHead(nn.Module):
    """DLRM after the embedding lookup (TorchScript-compatible)."""

    def __init__(
        self,
        task: str,
        sparse_group: str,
        dense_mlp: MLP | None,
        num_fields: int,
        sparse_fields: tuple[int, int],
        arch_with_sparse: bool,
        final: MLP,
        output: nn.Linear,
    ) -> None:
        super().__init__()
        self.task = task
        self.sparse_group = sparse_group
        self.has_dense = dense_mlp is not None
        self.dense_mlp = dense_mlp if dense_mlp is not None else nn.Identity()
        self.interaction = DotInteraction(num_fields)
        self.sparse_num, self.sparse_dim = sparse_fields
        self.arch_with_sparse = arch_with_sparse
        self.final = final
        self.output = output

    def forward(self, groups: dict[str, list[Tensor]]) -> dict[str, Tensor]:
        """Raw output ``[B, num_class]`` of the task."""
        sparse = cat_fields(groups[self.sparse_group])
        fields = sparse.view(-1, self.sparse_num, self.sparse_dim)
        parts: list[Tensor] = []
        if self.has_dense:
            dense = self.dense_mlp(cat_fields(groups["dense"]))
            fields = torch.cat([dense.unsqueeze(1), fields], dim=1)
            parts.append(dense)
        parts.insert(0, self.interaction(fields))
        if self.arch_with_sparse:
            parts.append(sparse)
        return {self.task: self.output(self.final(torch.cat(parts, dim=1)))}


class DLRM(RankModel):
    """DLRM on torchrec embeddings."""

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        cfg, where = self.model_config.dlrm, "model_config.dlrm"
        groups = list(self.embedding_group.groups)
        sparse_group = groups[0] if len(groups) == 1 else "sparse"
        self.require_group(sparse_group)
        num_sparse, dim = self.fields_of(
            sparse_group, f'feature group "{sparse_group}"'
        )
        dense_mlp = None
        has_dense = sparse_group != "dense" and self.has_group("dense")
        self.embedding_group.fuse(
            [sparse_group, "dense"] if has_dense else [sparse_group]
        )
        if has_dense:
            dense_mlp = MLP(
                self.group_dim("dense"), cfg.dense_mlp, f"{where}.dense_mlp"
            )
            if dense_mlp.output_dim != dim:
                raise ConfigError(
                    f"dense_mlp's last hidden unit ({dense_mlp.output_dim}) must equal "
                    f"the sparse embedding_dim ({dim})",
                    f"{where}.dense_mlp.hidden_units",
                    f"end dense_mlp with {dim}",
                )
        num_fields = num_sparse + (1 if dense_mlp is not None else 0)
        width = num_fields * (num_fields - 1) // 2 + (
            dim if dense_mlp is not None else 0
        )
        if cfg.arch_with_sparse:
            width += num_sparse * dim
        final = MLP(width, cfg.final, f"{where}.final")
        task = self.tasks[0]
        self.head = DLRMHead(
            task.name,
            sparse_group,
            dense_mlp,
            num_fields,
            (num_sparse, dim),
            cfg.arch_with_sparse,
            final,
            output_layer(final.output_dim, task),
        )
