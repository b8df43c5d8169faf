"""Which columns a pipeline config's features read, and how to draw each.

:func:`plan_columns` walks ``feature_configs`` and returns one
:class:`Column` per input column (name, value shape, cardinality, sequence
layout); :mod:`tzrec.datasets.synthetic_from_config` draws them. Ids are
drawn from at most ``MAX_IDS`` values per column.
"""

from __future__ import annotations

import dataclasses
from typing import Any

from tzrec.datasets.synthetic_derived import derived_columns
from tzrec.features.feature import column_of
from tzrec.protos import pipeline_pb2

MAX_IDS = 50


@dataclasses.dataclass
class Column:
    """How one column is drawn.

    Attributes:
        name: column name.
        kind: ``id``, ``text``, ``float``, ``map``, ``seq_id``, ``seq_float``.
        card: distinct ids drawn (ids lie in ``[0, card)``).
        vocab: tokens to draw from (``text`` with a vocabulary).
        separator: joins multi-values (or value_dim floats).
        multi: values per row for multi-value ids (0: scalar).
        weighted: ``id:weight`` tokens.
        value_dim: floats per value.
        boundaries: raw value range hints.
        sequence: the sequence a ``seq_*`` column belongs to.
        seq_len: most positions.
        delim: position separator.
        map_int: map values are ids (discrete lookup).
    """

    name: str
    kind: str
    card: int = MAX_IDS
    vocab: tuple[str, ...] = ()
    separator: str = "\x1d"
    multi: int = 0
    weighted: bool = False
    value_dim: int = 1
    boundaries: tuple[float, ...] = ()
    sequence: str = ""
    seq_len: int = 0
    delim: str = ";"
    map_int: bool = False


def plan_columns(config: pipeline_pb2.EasyRecConfig) -> tuple[list[Column], list[str]]:
    """Columns the config's features read, and the feature types skipped."""
    cols: dict[str, Column] = {}
    skipped: list[str] = []

    def add(col: Column) -> None:
        cols.setdefault(col.name, col)

    for fc in config.feature_configs:
        kind = fc.WhichOneof("feature")
        cfg: Any = getattr(fc, kind) if kind else None
        if kind in ("id_feature", "sequence_id_feature"):
            seq = kind == "sequence_id_feature"
            add(_id_column(cfg, _col(cfg), seq, cfg.feature_name, cfg))
        elif kind in ("raw_feature", "sequence_raw_feature"):
            add(_raw_column(cfg, _col(cfg), kind.startswith("sequence"), cfg))
        elif kind == "combo_feature":
            for expr in cfg.expression or [cfg.feature_name]:
                name = column_of(expr, "", f"feature {cfg.feature_name}")
                add(Column(name, "id"))
        elif kind == "lookup_feature":
            where = f"feature {cfg.feature_name}"
            discrete = cfg.need_discrete or cfg.need_key
            add(Column(column_of(cfg.map, "", where), "map", map_int=discrete))
            add(Column(column_of(cfg.key, "", where), "text", card=10))
        elif kind == "sequence_feature":
            seq = cfg
            for sub in seq.features:
                sk = sub.WhichOneof("feature")
                scfg = getattr(sub, sk)
                if sk == "id_feature":
                    name = f"{seq.sequence_name}__{_col(scfg)}"
                    col = _id_column(scfg, name, True, seq.sequence_name, seq)
                elif sk in _SEQUENCE_DERIVED:
                    for col in (
                        derived_columns(f"sequence_{sk}", scfg, Column, _namer(scfg))
                        or []
                    ):
                        if col.kind.startswith("seq_"):
                            col.name = f"{seq.sequence_name}__{col.name}"
                            col.sequence = seq.sequence_name
                            col.seq_len = int(seq.sequence_length) or 10
                            col.delim = seq.sequence_delim
                        add(col)
                    continue
                else:
                    name = f"{seq.sequence_name}__{_col(scfg)}"
                    col = _raw_column(scfg, name, True, seq)
                    col.sequence = seq.sequence_name
                add(col)
        elif derived := derived_columns(
            kind or "", cfg, Column, _namer(cfg)
        ):  # issue 17's derived feature types
            for col in derived:
                add(col)
        else:
            skipped.append(kind or "(empty)")
    return list(cols.values()), skipped


_SEQUENCE_DERIVED: tuple[str, ...] = (
    "combine_feature",
    "expr_feature",
    "match_feature",
)
_SEQUENCE_DERIVED += ("overlap_feature", "kv_dot_product")


def _namer(cfg: Any) -> Any:
    where = f"feature {getattr(cfg, 'feature_name', '')}"
    return lambda expr: column_of(expr, "", where)


def _col(cfg: Any) -> str:
    return column_of(cfg.expression, cfg.feature_name, f"feature {cfg.feature_name}")


def _id_column(cfg: Any, name: str, seq: bool, seq_name: str, seq_cfg: Any) -> Column:
    vocab = tuple(cfg.vocab_list) or tuple(cfg.vocab_dict.keys())
    card = int(cfg.num_buckets) if cfg.num_buckets else MAX_IDS
    col = Column(
        name,
        "text" if (vocab or cfg.hash_bucket_size or cfg.vocab_file) else "id",
        card=max(1, min(card, MAX_IDS)),
        vocab=vocab,
        separator=cfg.separator,
        multi=3 if cfg.HasField("value_dim") and cfg.value_dim == 0 else 0,
        weighted=cfg.weighted,
    )
    if seq:
        col.kind = "seq_id"
        col.sequence = seq_name
        col.seq_len = int(seq_cfg.sequence_length) or 10
        col.delim = seq_cfg.sequence_delim
    return col


def _raw_column(cfg: Any, name: str, seq: bool, seq_cfg: Any) -> Column:
    col = Column(
        name,
        "float",
        separator=cfg.separator,
        value_dim=max(int(cfg.value_dim), 1),
        boundaries=tuple(cfg.boundaries),
    )
    if seq:
        col.kind = "seq_float"
        col.sequence = cfg.feature_name
        col.seq_len = int(seq_cfg.sequence_length) or 10
        col.delim = seq_cfg.sequence_delim
    return col
