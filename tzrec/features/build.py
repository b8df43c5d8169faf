"""Builds feature objects from ``feature_configs`` and the tables they share."""

from __future__ import annotations

from tzrec.features.feature import BaseFeature, TableSpec
from tzrec.features.id_feature import IdFeature
from tzrec.features.raw_feature import RawFeature
from tzrec.utils.errors import ConfigError

_BUILDERS = {"id_feature": IdFeature, "raw_feature": RawFeature}


def build_features(feature_configs) -> list[BaseFeature]:  # noqa: ANN001
    """One feature object per ``feature_configs`` entry, in config order."""
    features: list[BaseFeature] = []
    for i, fc in enumerate(feature_configs):
        kind = fc.WhichOneof("feature")
        builder = _BUILDERS.get(kind)
        if builder is None:
            raise ConfigError(
                f"feature type {kind} is not supported yet",
                f"feature_configs[{i}]",
                f"use one of {', '.join(sorted(_BUILDERS))}",
            )
        features.append(builder(getattr(fc, kind)))
    return features


def shared_tables(features: list[BaseFeature]) -> dict[str, TableSpec]:
    """Tables by name; features sharing an ``embedding_name`` must agree on it."""
    tables: dict[str, TableSpec] = {}
    for f in features:
        t = f.table
        if t is None:
            continue
        seen = tables.get(t.name)
        if seen is None:
            tables[t.name] = t
        elif (seen.num_embeddings, seen.embedding_dim) != (
            t.num_embeddings,
            t.embedding_dim,
        ):
            raise ConfigError(
                f'features sharing embedding "{t.name}" disagree on size: '
                f"{seen.num_embeddings}x{seen.embedding_dim} vs "
                f"{t.num_embeddings}x{t.embedding_dim}",
                f"feature {f.name}",
                "give shared features the same bucket count and embedding_dim",
            )
    return tables
