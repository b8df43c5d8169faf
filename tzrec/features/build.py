"""Builds feature objects from ``feature_configs`` and the tables they share.

A ``sequence_feature`` expands into one feature per sub-feature, named (and
reading the column) ``{sequence_name}__{feature_name}``; a standalone
``sequence_id_feature`` / ``sequence_raw_feature`` is its own sequence.
"""

from __future__ import annotations

from tzrec.features.combo_feature import ComboFeature
from tzrec.features.feature import BaseFeature, SequenceSpec, TableSpec
from tzrec.features.id_feature import IdFeature
from tzrec.features.lookup_feature import LookupFeature
from tzrec.features.raw_feature import RawFeature
from tzrec.utils.errors import ConfigError

_BUILDERS = {
    "id_feature": IdFeature,
    "raw_feature": RawFeature,
    "combo_feature": ComboFeature,
    "lookup_feature": LookupFeature,
}
_SEQUENCE_BUILDERS = {
    "sequence_id_feature": IdFeature,
    "sequence_raw_feature": RawFeature,
}
_SUB_BUILDERS = {"id_feature": IdFeature, "raw_feature": RawFeature}


def _length(n: int, where: str) -> int:
    if n <= 0:
        raise ConfigError(
            "sequence_length must be > 0", f"{where}.sequence_length", "e.g. 50"
        )
    return int(n)


def _sequence_features(fc, where: str) -> list[BaseFeature]:
    seq = fc.sequence_feature
    spec = SequenceSpec(
        name=seq.sequence_name,
        length=_length(seq.sequence_length, where),
        delim=seq.sequence_delim,
        prefix=f"{seq.sequence_name}__",
    )
    out: list[BaseFeature] = []
    for j, sub in enumerate(seq.features):
        kind = sub.WhichOneof("feature")
        if kind not in _SUB_BUILDERS:
            raise ConfigError("empty sub-feature", f"{where}.features[{j}]")
        out.append(_SUB_BUILDERS[kind](getattr(sub, kind), spec))
    return out


def build_features(feature_configs) -> list[BaseFeature]:
    """Feature objects for ``feature_configs``, in config order (sequences expanded)."""
    features: list[BaseFeature] = []
    for i, fc in enumerate(feature_configs):
        kind = fc.WhichOneof("feature")
        where = f"feature_configs[{i}].{kind}"
        if kind == "sequence_feature":
            features += _sequence_features(fc, where)
        elif kind in _SEQUENCE_BUILDERS:
            cfg = getattr(fc, kind)
            spec = SequenceSpec(
                name=cfg.feature_name,
                length=_length(cfg.sequence_length, where),
                delim=cfg.sequence_delim,
            )
            features.append(_SEQUENCE_BUILDERS[kind](cfg, spec))
        elif kind in _BUILDERS:
            features.append(_BUILDERS[kind](getattr(fc, kind)))
        else:
            supported = sorted([*_BUILDERS, *_SEQUENCE_BUILDERS, "sequence_feature"])
            raise ConfigError(
                f"feature type {kind} is not supported yet",
                f"feature_configs[{i}]",
                f"use one of {', '.join(supported)}",
            )
    return features


def shared_tables(features: list[BaseFeature]) -> dict[str, TableSpec]:
    """Tables by name; features sharing an ``embedding_name`` must agree on it.

    Size and width must match; so must ``pooling`` and ``trainable`` (one
    table has one of each). ``init_fn`` is the first feature's.
    """
    tables: dict[str, TableSpec] = {}
    for f in features:
        t = f.table
        if t is None:
            continue
        seen = tables.get(t.name)
        if seen is None:
            tables[t.name] = t
            continue
        for what, a, b in (
            ("size", f"{seen.num_embeddings}x{seen.embedding_dim}",
             f"{t.num_embeddings}x{t.embedding_dim}"),
            ("pooling", seen.pooling, t.pooling),
            ("trainable", seen.trainable, t.trainable),
        ):  # fmt: skip
            if a != b:
                raise ConfigError(
                    f'features sharing embedding "{t.name}" disagree on {what}: '
                    f"{a} vs {b}",
                    f"feature {f.name}",
                    "give shared features the same bucket count, embedding_dim, "
                    "pooling and trainable",
                )
    return tables
