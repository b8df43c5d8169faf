"""Embedding lookups for feature groups, on torchrec EmbeddingBagCollections.

Deep groups (DEEP) share one collection of tables at each feature's
``embedding_dim``; wide groups (WIDE) get their own narrow tables
(``wide_embedding_dim``) in a second collection. A group's output is its
features' pooled embeddings and dense values, concatenated in group order.
"""

from __future__ import annotations

import torch
from torch import nn
from torchrec import EmbeddingBagCollection, EmbeddingBagConfig, KeyedJaggedTensor
from torchrec.modules.embedding_configs import PoolingType

from tzrec.features.build import shared_tables
from tzrec.features.feature import BaseFeature, TableSpec
from tzrec.protos import model_pb2
from tzrec.utils.errors import ConfigError

WIDE_PREFIX = "wide_"


def _init_fn(spec: str):  # noqa: ANN202
    """An init function from ``nn.init.normal_,std=0.01``-style text (or None)."""
    if not spec:
        return None
    name, *kwargs = [p.strip() for p in spec.split(",")]
    fn = getattr(nn.init, name.removeprefix("nn.init."), None)
    if fn is None:
        raise ConfigError(
            f'unknown init_fn "{spec}"', "init_fn", "use e.g. nn.init.normal_,std=0.01"
        )
    params = {k.strip(): float(v) for k, v in (kv.split("=") for kv in kwargs)}
    return lambda t: fn(t, **params)


def _bag_config(
    spec: TableSpec, features: list[str], name: str, dim: int
) -> EmbeddingBagConfig:
    return EmbeddingBagConfig(
        name=name,
        embedding_dim=dim,
        num_embeddings=spec.num_embeddings,
        feature_names=features,
        pooling=PoolingType.MEAN if spec.pooling == "mean" else PoolingType.SUM,
        init_fn=_init_fn(spec.init_fn),
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
        deep_feats, wide_feats = [], []
        for g in feature_groups:
            self.groups[g.group_name] = list(g.feature_names)
            target = wide_feats if g.group_type == model_pb2.WIDE else deep_feats
            if g.group_type == model_pb2.WIDE:
                self.wide_groups.add(g.group_name)
            for n in g.feature_names:
                if n not in target:
                    target.append(n)
        self.dense_dims = {f.name: f.output_dim for f in features if not f.is_sparse}
        self.deep_keys = [n for n in deep_feats if by_name[n].is_sparse]
        dense_in_wide = [n for n in wide_feats if not by_name[n].is_sparse]
        if dense_in_wide:
            raise ConfigError(
                f"dense feature {dense_in_wide[0]} is in a WIDE group",
                "model_config.feature_groups",
                "give it boundaries (an embedding) or move it to a DEEP group",
            )
        self.wide_keys = wide_feats
        self.wide_dim = wide_embedding_dim
        self.ebc = self._collection([by_name[n] for n in self.deep_keys], None, device)
        self.wide_ebc = (
            self._collection(
                [by_name[n] for n in self.wide_keys], wide_embedding_dim, device
            )
            if self.wide_keys
            else None
        )
        self.feature_dims = {n: by_name[n].output_dim for n in self.deep_keys}

    @staticmethod
    def _collection(
        feats: list[BaseFeature], wide_dim: int | None, device: torch.device | None
    ) -> EmbeddingBagCollection:
        tables = shared_tables(feats)
        for spec in tables.values():
            dim = wide_dim or spec.embedding_dim
            if dim % 4:
                what = "wide_embedding_dim" if wide_dim else "embedding_dim"
                raise ConfigError(
                    f"{what} {dim} of table {spec.name} is not a multiple of 4",
                    "feature_configs" if not wide_dim else "model_config",
                    f"fbgemm's fused embedding kernels need {what} divisible by 4",
                )
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
        return EmbeddingBagCollection(tables=configs, device=device)

    @property
    def sparse_groups(self) -> dict[str, list[str]]:
        """The KJT layout the batch builder must produce."""
        layout = {"deep": self.deep_keys}
        if self.wide_ebc is not None:
            layout["wide"] = self.wide_keys
        return layout

    def group_dim(self, group: str) -> int:
        """Output width of a group."""
        if group in self.wide_groups:
            return self.wide_dim * len(self.groups[group])
        return sum(
            self.feature_dims.get(n) or self.dense_dims[n] for n in self.groups[group]
        )

    def forward(
        self, sparse: dict[str, KeyedJaggedTensor], dense: dict[str, torch.Tensor]
    ) -> dict[str, list[torch.Tensor]]:
        """Per group, the list of feature outputs in group order."""
        deep = self.ebc(sparse["deep"]).to_dict() if self.deep_keys else {}
        wide = (
            self.wide_ebc(sparse["wide"]).to_dict() if self.wide_ebc is not None else {}
        )
        out: dict[str, list[torch.Tensor]] = {}
        for group, names in self.groups.items():
            if group in self.wide_groups:
                out[group] = [wide[n] for n in names]
            else:
                out[group] = [deep[n] if n in deep else dense[n] for n in names]
        return out
