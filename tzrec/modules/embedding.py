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

A model may ask for some DEEP/WIDE groups *fused* (:meth:`EmbeddingGroup.fuse`):
such a group comes back as a one-element list, its features side by side in
one ``[B, width]`` tensor. When the group's features sit next to each other
in the pooled KeyedTensor (the usual case) that tensor is a view of the
collection's output: no split, no concatenation, and one gradient for the
whole block. Heads read such a list with ``cat_fields`` (free for one
element), so they also accept the per-feature lists export passes.

``embedding_name_suffix`` gives a group's sparse features tables of their
own (tzrec.modules.feature_groups, which resolves each group's members).

``trainable: false`` freezes a feature's table (deep or sequence; its wide
table, if any, still trains): the table gets its own in-backward optimizer,
SGD with lr 0, so it is left out of the configured sparse optimizer (which
skips parameters that already carry one) and never changes.
"""

from __future__ import annotations

import torch
from torch import nn
from torchrec import EmbeddingBagCollection, EmbeddingBagConfig, KeyedJaggedTensor
from torchrec.modules.embedding_configs import DataType, PoolingType
from torchrec.sparse.jagged_tensor import KeyedTensor

from tzrec.features.build import shared_tables
from tzrec.features.feature import BaseFeature, TableSpec
from tzrec.modules.dense_embedding import dense_embedding
from tzrec.modules.embedding_tables import check_dims, freeze, init_fn_of
from tzrec.modules.feature_groups import read_groups
from tzrec.modules.sequence_embedding import SequenceEmbedding
from tzrec.modules.sequence_groups import SequenceGroupEncoders
from tzrec.utils.errors import ConfigError

WIDE_PREFIX = "wide_"

# One step of a group's plan: (start, end) columns of the KeyedTensor, or
# (-1, -1) with the dense feature's name.
_Piece = tuple[int, int, str]


def cat_fields(fields: list[torch.Tensor]) -> torch.Tensor:
    """A group's tensors side by side, ``[B, width]`` (no copy for one tensor)."""
    if len(fields) == 1:
        return fields[0]
    return torch.cat(fields, dim=1)


def _module_key(feature: str) -> str:
    """A ModuleDict key for a feature name (no dots allowed there)."""
    return feature.replace(".", "_")


def _bag_config(
    spec: TableSpec, features: list[str], name: str, dim: int
) -> EmbeddingBagConfig:
    return EmbeddingBagConfig(
        name=name,
        embedding_dim=dim,
        num_embeddings=spec.num_embeddings,
        feature_names=features,
        pooling=PoolingType.MEAN if spec.pooling == "mean" else PoolingType.SUM,
        init_fn=init_fn_of(spec.init_fn, spec.num_embeddings),
        data_type=DataType.FP16 if spec.data_type == "FP16" else DataType.FP32,
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
        feature_groups,
        wide_embedding_dim: int = 4,
        device: torch.device | None = None,
    ) -> None:
        super().__init__()
        by_name = {f.name: f for f in features}
        members = read_groups(feature_groups, by_name)
        self.groups = members.groups
        self.wide_groups = members.wide_groups
        self.sequence_groups = members.sequence_groups
        deep_feats, wide_feats = members.deep_features, members.wide_features
        # autodis / mlp: the dense value enters its groups embedded.
        self.dense_embs = nn.ModuleDict(
            {
                _module_key(n): dense_embedding(emb)
                for n in dict.fromkeys(deep_feats)
                if (emb := by_name[n].dense_embedding) is not None
            }
        )
        self.dense_emb_names = {
            _module_key(n): n for n in deep_feats if _module_key(n) in self.dense_embs
        }
        # Input widths of the dense features (what a batch holds); an
        # autodis / mlp feature enters its groups embedding_dim wide.
        self.dense_dims = {
            f.name: f.dense_embedding.value_dim if f.dense_embedding else f.output_dim
            for f in features
            if not f.is_sparse and not f.is_sequence
        }
        self._dense_out = {
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
        self.fused: set[str] = set()
        # KeyedTensor key order -> per group, its pieces (see _plan).
        self._plans: dict[tuple[str, ...], dict[str, list[_Piece]]] = {}
        for name, spec in shared_tables(deep).items():
            if not spec.trainable and self.ebc is not None:
                freeze(self.ebc.embedding_bags[name].weight)

    def set_wide_init_fn(self, spec: str, where: str) -> None:
        """Initialises every wide table with ``spec`` (e.g. ``nn.init.zeros_``).

        TorchEasyRec's ``wide_init_fn``: tables built on the meta device get
        it when DistributedModelParallel materialises them; tables already
        built are re-initialised now.

        Raises:
            ConfigError: ``spec`` names no ``torch.nn.init`` function.
        """
        if init_fn_of(spec, 1, where) is None or self.wide_ebc is None:
            return
        for cfg in self.wide_ebc.embedding_bag_configs():
            fn = init_fn_of(spec, cfg.num_embeddings, where)
            cfg.init_fn = fn
            weight = self.wide_ebc.embedding_bags[cfg.name].weight
            if weight.device.type != "meta":
                with torch.no_grad():
                    fn(weight)

    def fuse(self, groups: list[str]) -> None:
        """Returns these DEEP/WIDE groups as one ``[B, width]`` tensor each.

        Args:
            groups: group names; each comes back as a one-element list.
        """
        for g in groups:
            if g in self.sequence_groups:
                raise ConfigError(
                    f'feature group "{g}" is a SEQUENCE group',
                    "model_config.feature_groups",
                    "read it with a multi_tower_din din_tower, or make it DEEP",
                )
        self.fused.update(groups)
        self._plans.clear()

    @staticmethod
    def _collection(
        feats: list[BaseFeature], wide_dim: int | None, device: torch.device | None
    ) -> EmbeddingBagCollection:
        tables = shared_tables(feats)
        check_dims(tables, wide_dim)
        users: dict[str, list[str]] = {name: [] for name in tables}
        for f in feats:
            users[f.sparse_table().name].append(f.name)
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
            self.feature_dims.get(n) or self._dense_out[n] for n in self.groups[group]
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

    def _plan(
        self, kt_keys: tuple[str, ...], offsets: list[int], wide: bool
    ) -> dict[str, list[_Piece]]:
        """Per group of this collection, where its features lie, runs merged."""
        where = {k: (offsets[i], offsets[i + 1]) for i, k in enumerate(kt_keys)}
        plans: dict[str, list[_Piece]] = {}
        for group, names in self.groups.items():
            if group in self.sequence_groups or (group in self.wide_groups) != wide:
                continue
            pieces: list[_Piece] = []
            for n in names:
                if n not in where:
                    pieces.append((-1, -1, n))
                    continue
                start, end = where[n]
                last = pieces[-1] if pieces else None
                if group in self.fused and last and last[2] == "" and last[1] == start:
                    pieces[-1] = (last[0], end, "")
                else:
                    pieces.append((start, end, ""))
            plans[group] = pieces
        return plans

    def _lookup(
        self,
        kt: KeyedTensor,
        dense: dict[str, torch.Tensor],
        wide: bool,
        out: dict[str, list[torch.Tensor]],
    ) -> None:
        """Fills ``out`` with the groups read from ``kt`` (views of its values)."""
        keys = kt.keys()
        cache_key = (wide, *keys)
        plans = self._plans.get(cache_key)
        if plans is None:
            plans = self._plan(tuple(keys), kt.offset_per_key(), wide)
            self._plans[cache_key] = plans
        values = kt.values()
        for group, pieces in plans.items():
            fields = [
                dense[name] if start < 0 else values[:, start:end]
                for start, end, name in pieces
            ]
            out[group] = [cat_fields(fields)] if group in self.fused else fields

    def forward(
        self, sparse: dict[str, KeyedJaggedTensor], dense: dict[str, torch.Tensor]
    ) -> dict[str, list[torch.Tensor]]:
        """Per group, its outputs in order (SEQUENCE: query, sequence, lengths).

        A fused group's list holds one ``[B, width]`` tensor.
        """
        if self.dense_emb_names:
            dense = dict(dense)
            for key, name in self.dense_emb_names.items():
                dense[name] = self.dense_embs[key](dense[name])
        out: dict[str, list[torch.Tensor]] = (
            self.seq(sparse, dense) if self.seq is not None else {}
        )
        if self.ebc is not None:
            self._lookup(self.ebc(sparse["deep"]), dense, False, out)
        else:
            self._dense_only(dense, out)
        if self.wide_ebc is not None:
            self._lookup(self.wide_ebc(sparse["wide"]), dense, True, out)
        if self.seq_encoders is not None:
            out = self.seq_encoders(out)
            for group in self.fused:
                if len(out.get(group, ())) > 1:
                    # A fused group's heads read one [B, width] tensor; the
                    # encoders appended their outputs after it.
                    out[group] = [cat_fields(out[group])]
        return out

    def _dense_only(
        self, dense: dict[str, torch.Tensor], out: dict[str, list[torch.Tensor]]
    ) -> None:
        """Groups of dense features only (a model without deep embeddings)."""
        for group, names in self.groups.items():
            if group in self.sequence_groups or group in self.wide_groups:
                continue
            fields = [dense[n] for n in names]
            out[group] = [cat_fields(fields)] if group in self.fused else fields
