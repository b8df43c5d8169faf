"""Config checks of ``feature_configs`` and of how feature groups use them.

Called by :func:`tzrec.config.validate` with its ``Problems`` collector, so
every problem is reported at once. Every feature-group check lives here
(:func:`check_groups`). Torch-free (config validation needs no torch).
"""

from __future__ import annotations

import dataclasses
import difflib
import os
from typing import TypeAlias

from tzrec.config.problems import Problems
from tzrec.config.proto_fields import FeatureMessage
from tzrec.features.build import feature_class
from tzrec.features.feature import SequenceSpec
from tzrec.features.normalizer import parse_normalizer
from tzrec.features.options import check_data_type
from tzrec.protos import model_pb2, pipeline_pb2, rank_model_pb2
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
        return _check_by_building(kind, f, where, seq, p)
    if kind not in _IMPLEMENTED:  # parses; tzrec.config.UNSUPPORTED reports it
        return FeatureInfo(f.embedding_dim or 1, seq, True)
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


def check_groups(
    mc: model_pb2.ModelConfig, infos: dict[str, FeatureInfo], p: Problems
) -> dict[str, int]:
    """Every feature-group check; returns group name -> index.

    Names (set, unique), members (known features), group-type rules for
    sequence features, and multi_tower_din's towers.
    """
    groups: dict[str, int] = {}
    kinds: dict[str, int] = {}
    for i, g in enumerate(mc.feature_groups):
        where = f"model_config.feature_groups[{i}]"
        _check_group_names(g, where, i, groups, infos, p)
        kinds.setdefault(g.group_name, g.group_type)
        members = [(n, infos[n]) for n in g.feature_names if n in infos]
        if g.group_type == model_pb2.JAGGED_SEQUENCE:
            p.add(
                f"{where}.group_type",
                "JAGGED_SEQUENCE is not supported yet",
                "use SEQUENCE",
            )
        elif g.group_type == model_pb2.SEQUENCE:
            for n, info in members:
                if info.weighted:
                    p.add(
                        where,
                        f"weighted feature {n} in a SEQUENCE group is not "
                        "supported yet",
                    )
            if members and not any(
                info.sequence and info.sparse for _, info in members
            ):
                p.add(where, "a SEQUENCE group needs a sequence id feature")
        else:
            for n, info in members:
                if info.sequence and not info.sparse:
                    p.add(where, f"dense sequence feature {n} needs a SEQUENCE group")
    model = mc.WhichOneof("model")
    if model == "multi_tower_din":
        _check_din_towers(mc.multi_tower_din, kinds, infos, mc, p)
    elif model is not None and model_pb2.SEQUENCE in kinds.values():
        p.add(
            "model_config.feature_groups",
            f"{model} reads no SEQUENCE group",
            "use multi_tower_din, or make the group DEEP",
        )
    return groups


def _check_group_names(
    g: model_pb2.FeatureGroupConfig,
    where: str,
    i: int,
    groups: dict[str, int],
    infos: dict[str, FeatureInfo],
    p: Problems,
) -> None:
    """The group's name is set and unique; it lists known features."""
    if not g.group_name:
        p.add(f"{where}.group_name", "not set")
    elif g.group_name in groups:
        p.add(f"{where}.group_name", f'duplicate group name "{g.group_name}"')
    else:
        groups[g.group_name] = i
    if not g.feature_names and not g.sequence_groups:
        p.add(f"{where}.feature_names", "empty")
    refs = [(f"{where}.feature_names[{j}]", n) for j, n in enumerate(g.feature_names)]
    for j, sg in enumerate(g.sequence_groups):
        sw = f"{where}.sequence_groups[{j}].feature_names"
        refs += [(f"{sw}[{k}]", n) for k, n in enumerate(sg.feature_names)]
    for ref_where, name in refs:
        if name not in infos:
            close = difflib.get_close_matches(name, list(infos), n=1)
            fix = f'did you mean "{close[0]}"?' if close else "define it first"
            p.add(ref_where, f'unknown feature "{name}"', fix)


def _check_din_towers(
    cfg: rank_model_pb2.MultiTowerDIN,
    kinds: dict[str, int],
    infos: dict[str, FeatureInfo],
    mc: model_pb2.ModelConfig,
    p: Problems,
) -> None:
    base = "model_config.multi_tower_din"
    if not cfg.towers and not cfg.din_towers:
        p.add(
            base, "no towers", "add towers { input: ... } or din_towers { input: ... }"
        )
    seen: set[str] = set()
    for field, want_seq in (("towers", False), ("din_towers", True)):
        for i, t in enumerate(getattr(cfg, field)):
            where = f"{base}.{field}[{i}].input"
            if t.input in seen:
                p.add(where, f'group "{t.input}" is read by two towers')
            seen.add(t.input)
            if t.input not in kinds:
                p.add(where, f'no feature group "{t.input}"')
            elif (kinds[t.input] == model_pb2.SEQUENCE) != want_seq:
                need = "a SEQUENCE group" if want_seq else "a DEEP group"
                p.add(where, f'"{t.input}" must be {need}')
            elif want_seq:
                group = next(g for g in mc.feature_groups if g.group_name == t.input)
                if not any(
                    n in infos and not infos[n].sequence for n in group.feature_names
                ):
                    p.add(where, f'SEQUENCE group "{t.input}" has no query feature')
