"""Embedding lookups for feature groups, on torchrec embedding collections.

Deep groups (DEEP) share one EmbeddingBagCollection of tables at each
feature's ``embedding_dim``; wide groups (WIDE) get their own narrow tables
(``wide_embedding_dim``) in a second one. A DEEP/WIDE group's output is its
features' pooled embeddings and dense values, in group order. SEQUENCE groups
are looked up unpooled (tzrec.modules.sequence_embedding) and give
``[query, sequence, lengths]``. A group's ``sequence_groups`` are looked up
the same way and its ``sequence_encoders``' outputs are appended to the
group's outputs (tzrec.modules.sequence_groups).

KJT layout (``sparse_groups``): ``deep``, ``wide`` (when there is a WIDE
group) and ``sequence_<dim>`` per SEQUENCE embedding width. A bag collection
holding a ``weighted`` feature is a weighted collection: its KJT carries
weights, 1.0 for its unweighted features.

``trainable: false`` freezes a feature's table (deep or sequence; its wide
table, if any, still trains): the table gets its own in-backward optimizer,
SGD with lr 0, so it is left out of the configured sparse optimizer (which
skips parameters that already carry one) and never changes.
"""

from __future__ import annotations

import torch
from torch import nn
from torchrec import EmbeddingBagCollection, EmbeddingBagConfig, KeyedJaggedTensor
from torchrec.modules.embedding_configs import PoolingType

from tzrec.features.build import shared_tables
from tzrec.features.feature import BaseFeature, TableSpec
from tzrec.modules.embedding_tables import check_dims, freeze, init_fn_of
from tzrec.modules.sequence_embedding import SequenceEmbedding, SequenceGroupSpec
from tzrec.modules.sequence_groups import SequenceGroupEncoders, internal_name
from tzrec.protos import model_pb2
from tzrec.utils.errors import ConfigError

WIDE_PREFIX = "wide_"


def _bag_config(
    spec: TableSpec, features: list[str], name: str, dim: int
) -> EmbeddingBagConfig:
    return EmbeddingBagConfig(
        name=name,
        embedding_dim=dim,
        num_embeddings=spec.num_embeddings,
        feature_names=features,
        pooling=PoolingType.MEAN if spec.pooling == "mean" else PoolingType.SUM,
        init_fn=init_fn_of(spec.init_fn),
    )


class EmbeddingGroup(nn.Module):
    """Looks up every feature group's embeddings.

    Args:
        features: all features.
        feature_groups: the model's FeatureGroupConfigs.
        wide_embedding_dim: width of WIDE groups' tables.
        device: where tables are created (``meta`` lets DMP materialise them).

    """

    def __init__(
        self,
        features: list[BaseFeature],
        feature_groups,  # noqa: ANN001
        wide_embedding_dim: int = 4,
        device: torch.device | None = None,
    ) -> None:
        super().__init__()
        by_name = {f.name: f for f in features}
        self.groups: dict[str, list[str]] = {}
        self.wide_groups: set[str] = set()
        self.sequence_groups: dict[str, SequenceGroupSpec] = {}
        deep_feats, wide_feats = self._read_groups(feature_groups, by_name)
        self.dense_dims = {
            f.name: f.output_dim
            for f in features
            if not f.is_sparse and not f.is_sequence
        }
        self.deep_keys = [n for n in deep_feats if by_name[n].is_sparse]
        self.wide_keys = wide_feats
        self.wide_dim = wide_embedding_dim
        deep = [by_name[n] for n in self.deep_keys]
        self.ebc = self._collection(deep, None, device) if deep else None
        self.wide_ebc = (
            self._collection(
                [by_name[n] for n in self.wide_keys], wide_embedding_dim, device
            )
            if self.wide_keys
            else None
        )
        self.seq = (
            SequenceEmbedding(list(self.sequence_groups.values()), device)
            if self.sequence_groups
            else None
        )
        self.seq_encoders = (
            SequenceGroupEncoders(feature_groups, self.sequence_groups)
            if any(len(g.sequence_encoders) for g in feature_groups)
            or any(len(g.sequence_groups) for g in feature_groups)
            else None
        )
        self.feature_dims = {n: by_name[n].output_dim for n in self.deep_keys}
        for name, spec in shared_tables(deep).items():
            if not spec.trainable:
                freeze(self.ebc.embedding_bags[name].weight)

    def _read_groups(
        self,
        feature_groups,
        by_name: dict[str, BaseFeature],  # noqa: ANN001
    ) -> tuple[list[str], list[str]]:
        """Fills the group tables; returns the deep and the wide feature names."""
        deep_feats: list[str] = []
        wide_feats: list[str] = []
        for i, g in enumerate(feature_groups):
            where = f"model_config.feature_groups[{i}]"
            members = self._members(g, by_name, where)
            self.groups[g.group_name] = [f.name for f in members]
            if g.group_type == model_pb2.SEQUENCE:
                self.sequence_groups[g.group_name] = SequenceGroupSpec(
                    g.group_name, members, where
                )
                continue
            for j, sg in enumerate(g.sequence_groups):
                name = internal_name(g.group_name, sg.group_name)
                self.sequence_groups[name] = SequenceGroupSpec(
                    name,
                    [self._feature(n, by_name, where) for n in sg.feature_names],
                    f"{where}.sequence_groups[{j}]",
                )
            wide = g.group_type == model_pb2.WIDE
            if wide:
                self.wide_groups.add(g.group_name)
            target = wide_feats if wide else deep_feats
            target += [f.name for f in members if f.name not in target]
        return deep_feats, wide_feats

    def _members(
        self, g, by_name: dict[str, BaseFeature], where: str
    ) -> list[BaseFeature]:  # noqa: ANN001
        """The group's features, after the checks that need the feature objects."""
        if g.group_type == model_pb2.JAGGED_SEQUENCE:
            raise ConfigError(
                "JAGGED_SEQUENCE groups are not supported yet", where, "use SEQUENCE"
            )
        if g.group_type != model_pb2.DEEP and (
            len(g.sequence_groups) or len(g.sequence_encoders)
        ):
            raise ConfigError(
                "sequence_groups / sequence_encoders need a DEEP group",
                where,
                "set group_type: DEEP",
            )
        members = []
        for n in g.feature_names:
            f = self._feature(n, by_name, where)
            if g.group_type != model_pb2.SEQUENCE and f.is_sequence and not f.is_sparse:
                raise ConfigError(
                    f"dense sequence feature {n} in a non-SEQUENCE group",
                    where,
                    "put it in a SEQUENCE group, or give it boundaries",
                )
            if g.group_type == model_pb2.WIDE and not f.is_sparse:
                raise ConfigError(
                    f"dense feature {n} is in a WIDE group",
                    "model_config.feature_groups",
                    "give it boundaries (an embedding) or move it to a DEEP group",
                )
            members.append(f)
        return members

    @staticmethod
    def _feature(name: str, by_name: dict[str, BaseFeature], where: str) -> BaseFeature:
        if name not in by_name:
            raise ConfigError(f'unknown feature "{name}"', where, "define it first")
        return by_name[name]

    @staticmethod
    def _collection(
        feats: list[BaseFeature], wide_dim: int | None, device: torch.device | None
    ) -> EmbeddingBagCollection:
        tables = shared_tables(feats)
        check_dims(tables, wide_dim)
        users: dict[str, list[str]] = {name: [] for name in tables}
        for f in feats:
            users[f.table.name].append(f.name)
        configs = [
            _bag_config(
                spec,
                users[name],
                WIDE_PREFIX + name if wide_dim else name,
                wide_dim or spec.embedding_dim,
            )
            for name, spec in tables.items()
        ]
        weighted = any(f.is_weighted for f in feats)
        return EmbeddingBagCollection(
            tables=configs, is_weighted=weighted, device=device
        )

    @property
    def sparse_groups(self) -> dict[str, list[str]]:
        """The KJT layout the batch builder must produce."""
        layout = {"deep": self.deep_keys}
        if self.wide_ebc is not None:
            layout["wide"] = self.wide_keys
        if self.seq is not None:
            layout.update(self.seq.layout)
        return layout

    @property
    def aligned_sequences(self) -> list[list[str]]:
        """Per SEQUENCE group, its sequence features (lengths must agree)."""
        return [g.aligned for g in self.sequence_groups.values() if len(g.aligned) > 1]

    def export_unsupported(self) -> str | None:
        """Why the plain-tensor export cannot serve this model yet (None: it can)."""
        if self.sequence_groups:
            return "SEQUENCE feature groups"
        if any(c is not None and c.is_weighted() for c in (self.ebc, self.wide_ebc)):
            return "weighted id features"
        return None

    def group_dim(self, group: str) -> int:
        """Output width of a DEEP or WIDE group."""
        if group in self.sequence_groups:
            raise ConfigError(
                f'feature group "{group}" is a SEQUENCE group',
                "model_config.feature_groups",
                "read it with a multi_tower_din din_tower, or make it DEEP",
            )
        if group in self.wide_groups:
            return self.wide_dim * len(self.groups[group])
        encoded = self.seq_encoders.extra_dims if self.seq_encoders is not None else {}
        return encoded.get(group, 0) + sum(
            self.feature_dims.get(n) or self.dense_dims[n] for n in self.groups[group]
        )

    def sequence_dims(self, group: str) -> tuple[int, int]:
        """``(query_dim, sequence_dim)`` of a SEQUENCE group."""
        if group not in self.sequence_groups:
            raise ConfigError(
                f'feature group "{group}" is not a SEQUENCE group',
                "model_config.feature_groups",
                "set group_type: SEQUENCE",
            )
        spec = self.sequence_groups[group]
        return spec.query_dim, spec.sequence_dim

    def forward(
        self, sparse: dict[str, KeyedJaggedTensor], dense: dict[str, torch.Tensor]
    ) -> dict[str, list[torch.Tensor]]:
        """Per group, its outputs in order (SEQUENCE: query, sequence, lengths)."""
        deep = self.ebc(sparse["deep"]).to_dict() if self.ebc is not None else {}
        wide = (
            self.wide_ebc(sparse["wide"]).to_dict() if self.wide_ebc is not None else {}
        )
        out: dict[str, list[torch.Tensor]] = (
            self.seq(sparse, dense) if self.seq is not None else {}
        )
        for group, names in self.groups.items():
            if group in self.sequence_groups:
                continue
            if group in self.wide_groups:
                out[group] = [wide[n] for n in names]
            else:
                out[group] = [deep[n] if n in deep else dense[n] for n in names]
        if self.seq_encoders is not None:
            out = self.seq_encoders(out)
        return out
