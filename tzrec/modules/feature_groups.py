"""Which features each feature group holds: the group configs, resolved.

:func:`read_groups` turns the model's ``feature_groups`` into member lists
of feature objects, with the checks that need those objects (a dense feature
in a WIDE group, a dense sequence feature outside a SEQUENCE group, ...).
:class:`tzrec.modules.embedding.EmbeddingGroup` then builds the lookups.

``embedding_name_suffix`` on a group (or a ``sequence_groups`` entry) gives
its sparse features tables of their own: each is looked up as a copy named
``name@suffix`` in table ``embedding_name + suffix`` (the batch encodes the
copy from the same columns), so two groups with different suffixes learn
independent embeddings of one feature.
"""

from __future__ import annotations

import dataclasses

from tzrec.features.feature import SUFFIX_SEP, BaseFeature
from tzrec.modules.sequence_embedding import SequenceGroupSpec
from tzrec.modules.sequence_groups import internal_name
from tzrec.protos import model_pb2
from tzrec.utils.errors import ConfigError


@dataclasses.dataclass
class GroupMembers:
    """The feature groups, resolved to feature names.

    Attributes:
        groups: group name -> its members in order (suffixed copies by their
            ``name@suffix``).
        wide_groups: the WIDE groups.
        sequence_groups: SEQUENCE groups and the DEEP groups' ``sequence_groups``
            (by :func:`tzrec.modules.sequence_groups.internal_name`).
        deep_features: every DEEP group's members, each once, in first-seen order.
        wide_features: the same for WIDE groups.
    """

    groups: dict[str, list[str]] = dataclasses.field(default_factory=dict)
    wide_groups: set[str] = dataclasses.field(default_factory=set)
    sequence_groups: dict[str, SequenceGroupSpec] = dataclasses.field(
        default_factory=dict
    )
    deep_features: list[str] = dataclasses.field(default_factory=list)
    wide_features: list[str] = dataclasses.field(default_factory=list)


def read_groups(feature_groups, by_name: dict[str, BaseFeature]) -> GroupMembers:
    """Resolves every group's members.

    Args:
        feature_groups: the model's FeatureGroupConfigs.
        by_name: every feature by name; the suffixed copies that
            ``embedding_name_suffix`` asks for are added to it.

    Returns:
        The groups' members.

    Raises:
        ConfigError: an unknown feature, or a feature the group type cannot hold.
    """
    out = GroupMembers()
    for i, g in enumerate(feature_groups):
        where = f"model_config.feature_groups[{i}]"
        members = _suffixed(
            _members(g, by_name, where), g.embedding_name_suffix, by_name
        )
        out.groups[g.group_name] = [f.name for f in members]
        if g.group_type == model_pb2.SEQUENCE:
            out.sequence_groups[g.group_name] = SequenceGroupSpec(
                g.group_name, members, where
            )
            continue
        for j, sg in enumerate(g.sequence_groups):
            name = internal_name(g.group_name, sg.group_name)
            sub = [_feature(n, by_name, where) for n in sg.feature_names]
            out.sequence_groups[name] = SequenceGroupSpec(
                name,
                _suffixed(sub, sg.embedding_name_suffix, by_name),
                f"{where}.sequence_groups[{j}]",
            )
        wide = g.group_type == model_pb2.WIDE
        if wide:
            out.wide_groups.add(g.group_name)
        target = out.wide_features if wide else out.deep_features
        target += [f.name for f in members if f.name not in target]
    return out


def _members(g, by_name: dict[str, BaseFeature], where: str) -> list[BaseFeature]:
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
        f = _feature(n, by_name, where)
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


def _feature(name: str, by_name: dict[str, BaseFeature], where: str) -> BaseFeature:
    if name not in by_name:
        raise ConfigError(f'unknown feature "{name}"', where, "define it first")
    return by_name[name]


def _suffixed(
    members: list[BaseFeature], suffix: str, by_name: dict[str, BaseFeature]
) -> list[BaseFeature]:
    """``embedding_name_suffix``: the group's sparse features on tables of their own.

    Each sparse member is replaced by a copy named ``name@suffix`` whose table
    is ``table_name() + suffix`` (added to ``by_name``); dense members stay.
    """
    if not suffix:
        return members
    out = []
    for f in members:
        if f.table is not None:
            key = f"{f.name}{SUFFIX_SEP}{suffix}"
            f = by_name.setdefault(key, f.with_table_suffix(suffix))
        out.append(f)
    return out
