"""Config checks of ``model_config.feature_groups``: how groups use features.

Called by :func:`tzrec.config.validate` after the feature checks, with the
:class:`~tzrec.config.validation_features.FeatureInfo` of every valid feature.
Every feature-group check lives here (:func:`check_groups`): names, members,
group-type rules for sequence features, and multi_tower_din's towers.
Torch-free (config validation needs no torch).
"""

from __future__ import annotations

import difflib

from tzrec.config.problems import Problems
from tzrec.config.validation_features import FeatureInfo
from tzrec.protos import model_pb2, rank_model_pb2


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
