"""Config checks of ``feature_configs``, one feature at a time.

Called by :func:`tzrec.config.validate` with its ``Problems`` collector, so
every problem is reported at once. Each check returns the
:class:`FeatureInfo` that the feature-group checks
(:mod:`tzrec.config.validation_groups`) read. Torch-free (config validation
needs no torch).
"""

from __future__ import annotations

import dataclasses
import os
from typing import TypeAlias

from tzrec.config.problems import Problems
from tzrec.config.proto_fields import FeatureMessage
from tzrec.features.build import feature_class
from tzrec.features.feature import SequenceSpec
from tzrec.features.normalizer import parse_normalizer
from tzrec.features.options import check_data_type
from tzrec.protos import pipeline_pb2
from tzrec.protos.feature_pb2 import (
    ComboFeature,
    IdFeature,
    LookupFeature,
    RawFeature,
    SequenceFeature,
)
from tzrec.utils.errors import ConfigError

_POOLINGS = ("sum", "mean")
_COMBINERS = ("sum", "mean", "min", "max", "count")
_ID_BUCKETS = (
    "hash_bucket_size",
    "num_buckets",
    "vocab_list",
    "vocab_dict",
    "vocab_file",
)
_DISCRETE = ("hash_bucket_size", "num_buckets", "vocab_list")
_IMPLEMENTED = ("id_feature", "raw_feature", "combo_feature", "lookup_feature")
_ISSUE17 = (
    "combine_feature",
    "expr_feature",
    "match_feature",
    "overlap_feature",
    "bool_mask_feature",
    "kv_dot_product",
    "tokenize_feature",
)
_ISSUE17_SEQUENCES: tuple[str, ...] = ("combine_feature", "expr_feature")
_ISSUE17_SEQUENCES += ("match_feature", "overlap_feature", "kv_dot_product")

# Fields TorchEasyRec marks required on issue 17's feature types (tzrec
# declares none required, so it reports them here, one line each), with a
# hint for each.
_REQUIRED: dict[str, tuple[tuple[str, str], ...]] = {
    "match_feature": (
        ("nested_map", 'the nested map column, e.g. "user:cate_brand_clicks"'),
        ("pkey", 'the first-level key, e.g. "item:cate" or "ALL"'),
        ("skey", 'the second-level key, e.g. "item:brand" or "ALL"'),
    ),
    "kv_dot_product": (
        ("query", 'the query key:value column, e.g. "user:tags"'),
        ("document", 'the document key:value column, e.g. "item:tags"'),
    ),
    "overlap_feature": (
        ("query", 'the query text column, e.g. "user:query"'),
        ("title", 'the title text column, e.g. "item:title"'),
    ),
    "bool_mask_feature": (("embedding_dim", "e.g. 8"),),
    "tokenize_feature": (("embedding_dim", "e.g. 8"),),
}

# The ones bucketized like ids, whose vocab and dim checks are shared, and
# the numeric ones (normalizer, boundaries).
_IdLike: TypeAlias = IdFeature | ComboFeature
_Numeric: TypeAlias = RawFeature | LookupFeature


@dataclasses.dataclass
class FeatureInfo:
    """What group checks need to know about a feature."""

    dim: int
    sequence: bool = False
    sparse: bool = True
    weighted: bool = False


def _used(f: FeatureMessage, names: tuple[str, ...]) -> list[str]:
    out = []
    for n in names:
        fd = f.DESCRIPTOR.fields_by_name.get(n)
        if fd is None:
            continue
        if (len(getattr(f, n)) > 0) if fd.is_repeated else f.HasField(n):
            out.append(n)
    return out


def check_features(
    config: pipeline_pb2.EasyRecConfig, p: Problems
) -> dict[str, FeatureInfo]:
    """Checks every feature; returns feature name -> what group checks need."""
    infos: dict[str, FeatureInfo] = {}
    taken: set[str] = set()
    for i, fc in enumerate(config.feature_configs):
        kind = fc.WhichOneof("feature")
        if kind is None:
            p.add(f"feature_configs[{i}]", "empty", "add e.g. id_feature { ... }")
            continue
        where = f"feature_configs[{i}].{kind}"
        msg = getattr(fc, kind)
        if kind == "sequence_feature":
            _check_sequence_feature(msg, where, infos, taken, p)
            continue
        if _add_name(taken, msg.feature_name, f"{where}.feature_name", p):
            seq = kind.startswith("sequence_")
            if seq and msg.sequence_length == 0:
                p.add(f"{where}.sequence_length", "must be > 0", "e.g. 50")
            infos[msg.feature_name] = _check_feature(
                kind.removeprefix("sequence_"), msg, where, seq, p
            )
    return infos


def _check_sequence_feature(
    seq: SequenceFeature,
    where: str,
    infos: dict[str, FeatureInfo],
    taken: set[str],
    p: Problems,
) -> None:
    if not _add_name(taken, seq.sequence_name, f"{where}.sequence_name", p):
        return
    if seq.sequence_length == 0:
        p.add(f"{where}.sequence_length", "must be > 0", "e.g. 50")
    for j, sfc in enumerate(seq.features):
        sub_kind = sfc.WhichOneof("feature")
        sub_where = f"{where}.features[{j}]"
        if sub_kind is None:
            p.add(sub_where, "empty", "add id_feature or raw_feature")
            continue
        sub = getattr(sfc, sub_kind)
        sub_where += f".{sub_kind}"
        full = f"{seq.sequence_name}__{sub.feature_name}" if sub.feature_name else ""
        if _add_name(taken, full, f"{sub_where}.feature_name", p):
            infos[full] = _check_feature(sub_kind, sub, sub_where, True, p)


def _add_name(taken: set[str], name: str, where: str, p: Problems) -> bool:
    if not name:
        p.add(where, "not set", "every feature needs a name")
        return False
    if name in taken:
        p.add(where, f'duplicate feature name "{name}"', "names must be unique")
        return False
    taken.add(name)
    return True


def _check_feature(
    kind: str, f: FeatureMessage, where: str, seq: bool, p: Problems
) -> FeatureInfo:
    """One feature message (``kind`` without the ``sequence_`` prefix)."""
    try:
        check_data_type(f, where)
    except ConfigError as e:
        p.add(e.where, e.what, e.fix)
    if kind in _ISSUE17 and (not seq or kind in _ISSUE17_SEQUENCES):
        missing = [(n, fix) for n, fix in _REQUIRED.get(kind, ()) if not getattr(f, n)]
        for name, fix in missing:
            p.add(f"{where}.{name}", "not set", fix)
        if missing:
            return FeatureInfo(f.embedding_dim or 1, seq, True)
        return _check_by_building(kind, f, where, seq, p)
    if kind not in _IMPLEMENTED:  # parses; tzrec.config.UNSUPPORTED reports it
        return FeatureInfo(f.embedding_dim or 1, seq, True)
    # Built features (above) check this in their constructor.
    if isinstance(f, _Numeric) and f.WhichOneof("dense_emb") == "autodis":
        if not f.autodis.num_channels:
            p.add(f"{where}.autodis.num_channels", "not set", "e.g. 3")
    if hasattr(f, "pooling") and f.pooling not in _POOLINGS:
        p.add(f"{where}.pooling", f'bad value "{f.pooling}"', "use sum or mean")
    for name in ("hash_bucket_size", "num_buckets"):
        if (
            name in f.DESCRIPTOR.fields_by_name
            and f.HasField(name)
            and not getattr(f, name)
        ):
            p.add(f"{where}.{name}", "must be > 0")
    if isinstance(f, RawFeature):
        return _check_raw(f, where, seq, p)
    if isinstance(f, LookupFeature):
        return _check_lookup(f, where, p)
    assert isinstance(f, (IdFeature, ComboFeature))
    buckets = (
        _ID_BUCKETS if kind == "id_feature" else ("hash_bucket_size", "vocab_list")
    )
    _one_of(f, buckets, where, p)
    if isinstance(f, ComboFeature) and len(f.expression) < 2:
        p.add(f"{where}.expression", "needs at least 2 columns", 'e.g. ["age", "cate"]')
    _check_vocab(f, where, p)
    _check_dim(f, where, p)
    weighted = isinstance(f, IdFeature) and f.weighted
    return FeatureInfo(f.embedding_dim, seq, True, weighted)


def _check_by_building(
    kind: str, f: FeatureMessage, where: str, seq: bool, p: Problems
) -> FeatureInfo:
    """Issue 17's feature types: their constructors hold the checks."""
    spec = SequenceSpec(name=f.feature_name, length=1) if seq else None
    try:
        feature = feature_class(kind)(f, spec)
    except ConfigError as e:
        prefix = f"feature {f.feature_name}"
        at = e.where
        if at.startswith(prefix):
            at = where + at[len(prefix) :]
        elif not at.startswith("feature_configs"):
            at = where
        p.add(at, e.what, e.fix)
        return FeatureInfo(f.embedding_dim or 1, seq, True)
    return FeatureInfo(feature.output_dim, seq, feature.is_sparse)


def _dense_dim(f: FeatureMessage, value_dim: int) -> int:
    """A dense feature's width in its group: embedding_dim when autodis / mlp."""
    if "dense_emb" in f.DESCRIPTOR.oneofs_by_name and f.WhichOneof("dense_emb"):
        return int(f.embedding_dim)
    return value_dim


def _one_of(
    f: _IdLike | LookupFeature,
    buckets: tuple[str, ...],
    where: str,
    p: Problems,
) -> None:
    used = _used(f, buckets)
    if len(used) != 1:
        got = f" (got {', '.join(used)})" if used else ""
        p.add(
            where,
            f'feature "{f.feature_name}" needs exactly one of '
            f"{', '.join(buckets)}{got}",
        )


def _check_vocab(f: _IdLike, where: str, p: Problems) -> None:
    if len(set(f.vocab_list)) != len(f.vocab_list):
        p.add(f"{where}.vocab_list", "has duplicate entries", "list each token once")
    if f.vocab_file and not os.path.isfile(f.vocab_file):
        p.add(
            f"{where}.vocab_file",
            f'no such file "{f.vocab_file}"',
            "paths are relative to the working directory",
        )
    if isinstance(f, IdFeature) and f.num_buckets and f.HasField("default_value"):
        ok = f.default_value.lstrip("-").isdigit()
        if not ok or not 0 <= int(f.default_value) < f.num_buckets:
            p.add(
                f"{where}.default_value",
                f'"{f.default_value}" is not an id in [0, {f.num_buckets})',
            )


def _check_dim(
    f: _IdLike | _Numeric,
    where: str,
    p: Problems,
) -> None:
    if f.embedding_dim == 0:
        p.add(
            f"{where}.embedding_dim",
            f'feature "{f.feature_name}" needs embedding_dim > 0',
        )
    elif f.embedding_dim % 4:
        p.add(
            f"{where}.embedding_dim",
            f"{f.embedding_dim} is not a multiple of 4",
            "fbgemm's fused embedding kernels need it",
        )


def _check_normalizer(f: _Numeric, where: str, p: Problems) -> None:
    try:
        parse_normalizer(f.normalizer, f"{where}.normalizer")
    except ConfigError as e:
        p.add(e.where, e.what, e.fix)


def _check_boundaries(f: _Numeric, where: str, p: Problems) -> bool:
    bounds = list(f.boundaries)
    if any(a >= b for a, b in zip(bounds[:-1], bounds[1:], strict=True)):
        p.add(f"{where}.boundaries", "must be strictly increasing")
    return bool(bounds)


def _check_raw(f: RawFeature, where: str, seq: bool, p: Problems) -> FeatureInfo:
    _check_normalizer(f, where, p)
    try:
        float(f.default_value or 0)
    except ValueError:
        p.add(f"{where}.default_value", f'"{f.default_value}" is not a number')
    if f.value_dim == 0:
        p.add(f"{where}.value_dim", "must be > 0")
    if not _check_boundaries(f, where, p):
        return FeatureInfo(_dense_dim(f, f.value_dim), seq, False)
    if seq and f.value_dim != 1:
        p.add(
            f"{where}.value_dim", "a bucketized sequence raw feature needs value_dim 1"
        )
    _check_dim(f, where, p)
    return FeatureInfo(f.embedding_dim, seq, True)


def _check_lookup(f: LookupFeature, where: str, p: Problems) -> FeatureInfo:
    for name in ("map", "key"):
        if not getattr(f, name):
            p.add(f"{where}.{name}", "not set", "name the map and the key columns")
    if f.combiner not in _COMBINERS:
        p.add(
            f"{where}.combiner", f'bad value "{f.combiner}"', f"use one of {_COMBINERS}"
        )
    if f.need_discrete or f.need_key:
        _one_of(f, _DISCRETE, where, p)
        if len(f.boundaries):
            p.add(f"{where}.boundaries", "not used with need_discrete / need_key")
        _check_dim(f, where, p)
        return FeatureInfo(f.embedding_dim)
    bucketed = _used(f, _DISCRETE)
    if bucketed:  # TorchEasyRec: the combined value, bucketized like an id
        _one_of(f, _DISCRETE, where, p)
        if len(f.boundaries):
            p.add(
                f"{where}.boundaries",
                f"not used with {bucketed[0]}",
                "keep boundaries or the bucketing field, not both",
            )
    if f.value_dim != 1:
        p.add(
            f"{where}.value_dim", "not supported yet", "only value_dim 1 (one number)"
        )
    _check_normalizer(f, where, p)
    if not bucketed and not _check_boundaries(f, where, p):
        return FeatureInfo(_dense_dim(f, 1), sparse=False)
    _check_dim(f, where, p)
    return FeatureInfo(f.embedding_dim)
