"""Embeddings of SEQUENCE feature groups, on torchrec EmbeddingCollections.

A SEQUENCE group holds *query* features (ordinary features: the candidate
item, say) and *sequence* features (one value per position: the user's
history). Every sparse feature of a SEQUENCE group is looked up unpooled in a
torchrec ``EmbeddingCollection`` (shardable by DistributedModelParallel like
the bag collections); torchrec wants one width per collection, so there is
one collection (and one KJT, ``sequence_<dim>``) per embedding_dim. Features
sharing an ``embedding_name`` share the table, so a query ``item_id`` and a
history of item ids can live in one space. A table in a SEQUENCE group is
separate from a table of the same name in a DEEP/WIDE group (a bag table).

A group's output is ``[query, sequence, lengths]``:

* ``query`` [B, Dq]: query features concatenated; a multi-value query id is
  pooled with its ``pooling``; dense query features as they are.
* ``sequence`` [B, L, Ds]: sequence features concatenated per position,
  zero-padded to ``L`` = the longest ``sequence_length`` of the group.
* ``lengths`` [B] (int64): positions present, from the group's first sparse
  sequence feature (all of the group's sequences have equal lengths; the
  batch builder checks it).
"""

from __future__ import annotations

import torch
from torch import nn
from torchrec import EmbeddingCollection, EmbeddingConfig, KeyedJaggedTensor

from tzrec.features.build import shared_tables
from tzrec.features.feature import BaseFeature
from tzrec.modules.embedding_tables import check_dims, freeze, init_fn_of
from tzrec.utils.errors import ConfigError


def pool_jagged(
    values: torch.Tensor, lengths: torch.Tensor, mean: bool
) -> torch.Tensor:
    """Sums (or averages) each row's ``values`` [N, D] into [B, D]; empty rows: 0."""
    batch = lengths.numel()
    lengths = lengths.long()
    rows = torch.repeat_interleave(
        torch.arange(batch, device=values.device), lengths, output_size=values.shape[0]
    )
    out = torch.zeros(batch, values.shape[1], dtype=values.dtype, device=values.device)
    out = out.index_add(0, rows, values)
    if mean:
        out = out / lengths.clamp(min=1).unsqueeze(1).to(values.dtype)
    return out


def pad_jagged(
    values: torch.Tensor, lengths: torch.Tensor, max_len: int
) -> torch.Tensor:
    """Rows of ``values`` [N, D] laid out as [B, max_len, D], zero-padded (no sync)."""
    lengths = lengths.long()
    starts = torch.cumsum(lengths, 0) - lengths
    pos = torch.arange(max_len, device=values.device)
    present = pos.unsqueeze(0) < lengths.unsqueeze(1)
    # Absent positions read the appended zero row at index N.
    index = torch.where(
        present, starts.unsqueeze(1) + pos.unsqueeze(0), values.shape[0]
    )
    padded = torch.cat([values, values.new_zeros(1, values.shape[1])], dim=0)
    return padded[index]


class SequenceGroupSpec:
    """Members of one SEQUENCE group, validated.

    Args:
        name: the group name.
        members: the group's features in group order.
        where: config path for errors.
    """

    def __init__(self, name: str, members: list[BaseFeature], where: str) -> None:
        self.name = name
        self.query = [f for f in members if not f.is_sequence]
        self.sequence = [f for f in members if f.is_sequence]
        for f in members:
            if f.is_weighted:
                raise ConfigError(
                    f"weighted feature {f.name} in SEQUENCE group {name} is not "
                    "supported yet",
                    where,
                    "move it to a DEEP group",
                )
        if not any(f.is_sparse for f in self.sequence):
            raise ConfigError(
                f"SEQUENCE group {name} has no sequence id feature",
                where,
                "add a sequence_id_feature or a sequence_feature's id sub-feature",
            )
        self.max_len = max(f.sequence_spec().length for f in self.sequence)
        self.query_dim = sum(f.output_dim for f in self.query)
        self.sequence_dim = sum(f.output_dim for f in self.sequence)
        self.length_key = next(f.name for f in self.sequence if f.is_sparse)

    @property
    def aligned(self) -> list[str]:
        """The group's sequence feature names (their lengths must agree)."""
        return [f.name for f in self.sequence]


class SequenceEmbedding(nn.Module):
    """EmbeddingCollections for every SEQUENCE group, and the groups' outputs.

    Args:
        groups: the SEQUENCE groups.
        device: where tables are created (``meta`` lets DMP materialise them).
    """

    def __init__(
        self, groups: list[SequenceGroupSpec], device: torch.device | None = None
    ) -> None:
        super().__init__()
        self.specs = groups
        by_dim: dict[int, dict[str, BaseFeature]] = {}
        for g in groups:
            for f in g.query + g.sequence:
                if f.is_sparse:
                    by_dim.setdefault(f.output_dim, {})[f.name] = f
        self.layout: dict[str, list[str]] = {}
        self.ecs = nn.ModuleDict()
        for dim, feats in sorted(by_dim.items()):
            key = f"sequence_{dim}"
            self.layout[key] = list(feats)
            self.ecs[key] = self._collection(list(feats.values()), device)
        self._pool_mean = {
            f.name: f.sparse_table().pooling == "mean"
            for g in groups
            for f in g.query
            if f.is_sparse
        }

    @staticmethod
    def _collection(
        feats: list[BaseFeature], device: torch.device | None
    ) -> EmbeddingCollection:
        tables = shared_tables(feats)
        check_dims(tables)
        users: dict[str, list[str]] = {}
        for f in feats:
            users.setdefault(f.sparse_table().name, []).append(f.name)
        configs = [
            EmbeddingConfig(
                name=name,
                embedding_dim=spec.embedding_dim,
                num_embeddings=spec.num_embeddings,
                feature_names=users[name],
                init_fn=init_fn_of(spec.init_fn, spec.num_embeddings),
            )
            for name, spec in tables.items()
        ]
        ec = EmbeddingCollection(tables=configs, device=device)
        for name, spec in tables.items():
            if not spec.trainable:
                freeze(ec.embeddings[name].weight)
        return ec

    def forward(
        self, sparse: dict[str, KeyedJaggedTensor], dense: dict[str, torch.Tensor]
    ) -> dict[str, list[torch.Tensor]]:
        """Per SEQUENCE group, ``[query, sequence, lengths]`` (see the module doc)."""
        jts = {}
        for key, ec in self.ecs.items():
            jts.update(ec(sparse[key]))
        out: dict[str, list[torch.Tensor]] = {}
        for g in self.specs:
            query = [
                pool_jagged(
                    jts[f.name].values(), jts[f.name].lengths(), self._pool_mean[f.name]
                )
                if f.is_sparse
                else dense[f.name]
                for f in g.query
            ]
            seq = [
                pad_jagged(jts[f.name].values(), jts[f.name].lengths(), g.max_len)
                if f.is_sparse
                else _pad_dense(dense[f.name], g.max_len)
                for f in g.sequence
            ]
            lengths = jts[g.length_key].lengths().long()
            batch = lengths.numel()
            q = (
                torch.cat(query, dim=1)
                if query
                else lengths.new_zeros(batch, 0).float()
            )
            out[g.name] = [q, torch.cat(seq, dim=2), lengths]
        return out


def _pad_dense(x: torch.Tensor, max_len: int) -> torch.Tensor:
    """[B, L, d] zero-padded (or cut) to [B, max_len, d]."""
    if x.shape[1] >= max_len:
        return x[:, :max_len]
    return nn.functional.pad(x, (0, 0, 0, max_len - x.shape[1]))
