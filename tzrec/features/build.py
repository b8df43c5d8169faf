"""Builds feature objects from ``feature_configs`` and the tables they share.

A ``sequence_feature`` expands into one feature per sub-feature, named (and
reading the column) ``{sequence_name}__{feature_name}``; a standalone
``sequence_*`` feature (id, raw, combine, expr, match, overlap, kv_dot_product)
is its own sequence. ``custom_feature`` (a pyfg
operator library) is refused with the reason.
"""

from __future__ import annotations

from tzrec.features.bool_mask_feature import BoolMaskFeature
from tzrec.features.combine_feature import CombineFeature
from tzrec.features.combo_feature import ComboFeature
from tzrec.features.expr_feature import ExprFeature
from tzrec.features.feature import BaseFeature, SequenceSpec, TableSpec
from tzrec.features.id_feature import IdFeature
from tzrec.features.kv_dot_product import KvDotProduct
from tzrec.features.lookup_feature import LookupFeature
from tzrec.features.match_feature import MatchFeature
from tzrec.features.options import check_options
from tzrec.features.overlap_feature import OverlapFeature
from tzrec.features.raw_feature import RawFeature
from tzrec.features.tokenize_feature import TokenizeFeature
from tzrec.utils.errors import ConfigError

_BUILDERS = {
    "id_feature": IdFeature,
    "raw_feature": RawFeature,
    "combo_feature": ComboFeature,
    "lookup_feature": LookupFeature,
    "combine_feature": CombineFeature,
    "expr_feature": ExprFeature,
    "match_feature": MatchFeature,
    "overlap_feature": OverlapFeature,
    "bool_mask_feature": BoolMaskFeature,
    "kv_dot_product": KvDotProduct,
    "tokenize_feature": TokenizeFeature,
}
_SEQUENCE_BUILDERS = {
    "sequence_id_feature": IdFeature,
    "sequence_raw_feature": RawFeature,
    "sequence_combine_feature": CombineFeature,
    "sequence_expr_feature": ExprFeature,
    "sequence_match_feature": MatchFeature,
    "sequence_overlap_feature": OverlapFeature,
    "sequence_kv_dot_product": KvDotProduct,
}
_SUB_BUILDERS = {
    "id_feature": IdFeature,
    "raw_feature": RawFeature,
    "combine_feature": CombineFeature,
    "expr_feature": ExprFeature,
    "match_feature": MatchFeature,
    "overlap_feature": OverlapFeature,
    "kv_dot_product": KvDotProduct,
}
_CUSTOM = ("custom_feature", "sequence_custom_feature")


def feature_class(kind: str) -> type[BaseFeature]:
    """The class of a (non-sequence) feature kind, e.g. ``expr_feature``."""
    return _BUILDERS[kind]


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
        sub_where = f"{where}.features[{j}]"
        if kind not in _SUB_BUILDERS:
            raise _not_supported(kind, sub_where, sorted(_SUB_BUILDERS))
        cfg = getattr(sub, kind)
        check_options(cfg, f"{sub_where}.{kind}")
        out.append(_SUB_BUILDERS[kind](cfg, spec))
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
            check_options(cfg, where)
            spec = SequenceSpec(
                name=cfg.feature_name,
                length=_length(cfg.sequence_length, where),
                delim=cfg.sequence_delim,
            )
            features.append(_SEQUENCE_BUILDERS[kind](cfg, spec))
        elif kind in _BUILDERS:
            cfg = getattr(fc, kind)
            check_options(cfg, where)
            features.append(_BUILDERS[kind](cfg))
        else:
            supported = sorted([*_BUILDERS, *_SEQUENCE_BUILDERS, "sequence_feature"])
            raise _not_supported(kind, f"feature_configs[{i}]", supported)
    return features


def _not_supported(kind: str | None, where: str, supported: list[str]) -> ConfigError:
    if kind is None:
        return ConfigError("empty feature", where, f"use one of {', '.join(supported)}")
    if kind in _CUSTOM:
        return ConfigError(
            "custom_feature needs a custom FG operator (a .so for pyfg); custom "
            "operators are not supported",
            where,
            "compute the value into a data column and read it with a raw_feature "
            "or id_feature",
        )
    return ConfigError(
        f"feature type {kind} is not supported yet",
        where,
        f"use one of {', '.join(supported)}",
    )


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
            ("data_type", seen.data_type, t.data_type),
        ):  # fmt: skip
            if a != b:
                raise ConfigError(
                    f'features sharing embedding "{t.name}" disagree on {what}: '
                    f"{a} vs {b}",
                    f"feature {f.name}",
                    "give shared features the same bucket count, embedding_dim, "
                    "pooling, trainable and data_type",
                )
    return tables
