"""Synthetic columns for the derived feature types (issue 17).

Used by tzrec.datasets.synthetic_from_config: what columns combine, expr,
match, overlap, bool_mask, kv_dot_product and tokenize features (and the
sequence combine / expr features) read, and how to draw them:

* ``terms``: 1-4 tokens from the column's vocabulary joined by its separator
  (overlap query/title, combine's ``value_map`` keys, tokenize words,
  bool_mask values, kv keys with ``:weight`` when ``weighted``);
* ``mask``: as many ``true``/``false`` as the values column has tokens;
* ``nested_map``: ``"c1^b2:0.5,b3:1.2|c4^b0:2.0"`` over the key columns'
  vocabularies (``c0..c4`` primary, ``b0..b4`` secondary).
"""

from __future__ import annotations

import json
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

_TERMS = tuple(f"t{i}" for i in range(12))
_PKEYS = tuple(f"c{i}" for i in range(5))
_SKEYS = tuple(f"b{i}" for i in range(5))


def _words_of(vocab_file: str) -> tuple[str, ...]:
    """A tokenize feature's vocabulary words (a WordLevel json or a word list)."""
    try:
        with open(vocab_file, encoding="utf-8") as f:
            text = f.read()
    except OSError:
        return _TERMS
    if text.lstrip().startswith("{"):
        try:
            vocab = json.loads(text)["model"]["vocab"]
        except (ValueError, KeyError, TypeError):
            return _TERMS
        return tuple(w for w in vocab if not w.startswith("[")) or _TERMS
    return tuple(w.strip() for w in text.splitlines() if w.strip()) or _TERMS


def derived_columns(kind: str, cfg: Any, column: Any, col_of: Any) -> list | None:
    """The Columns a derived feature reads, or None for another kind.

    Args:
        kind: the feature kind (``combine_feature``, ``sequence_expr_feature``...).
        cfg: the feature message.
        column: the Column class.
        col_of: ``expression -> column name`` for this feature.
    """
    base = kind.removeprefix("sequence_")
    seq = kind.startswith("sequence_")

    def sequenced(col: Any) -> Any:
        if seq:
            col.kind = "seq_float" if col.kind == "float" else "seq_id"
            col.sequence = cfg.feature_name
            col.seq_len = int(cfg.sequence_length) or 10
            col.delim = cfg.sequence_delim
        return col

    if base == "combine_feature":
        keys = tuple(sorted(cfg.value_map.keys()))
        if keys:
            col = column(col_of(cfg.expression), "text", vocab=keys, card=len(keys))
            return [sequenced(col)]
        return [sequenced(column(col_of(cfg.expression), "float"))]
    if base == "expr_feature":
        single = len(cfg.variables) == 1
        return [
            sequenced(column(col_of(v), "float"))
            if single or not v.startswith(("user:", "context:"))
            else column(col_of(v), "float")
            for v in cfg.variables
        ]
    if seq and base in ("overlap_feature", "kv_dot_product", "match_feature"):
        return _sequence_columns(base, cfg, column, col_of, sequenced)
    if seq:
        return None
    if base == "overlap_feature":
        sep = cfg.separator
        return [
            column(col_of(cfg.query), "terms", vocab=_TERMS, separator=sep),
            column(col_of(cfg.title), "terms", vocab=_TERMS, separator=sep),
        ]
    if base == "kv_dot_product":
        sep = cfg.separator
        return [
            column(col_of(c), "terms", vocab=_TERMS, separator=sep, weighted=True)
            for c in (cfg.query, cfg.document)
        ]
    if base == "tokenize_feature":
        words = _words_of(cfg.vocab_file)
        return [column(col_of(cfg.expression), "terms", vocab=words, separator=" ")]
    if base == "bool_mask_feature":
        values, mask = (col_of(e) for e in cfg.expression)
        sep = cfg.separator
        return [
            column(values, "terms", vocab=_TERMS, separator=sep),
            column(mask, "mask", separator=sep, sequence=values),
        ]
    if base == "match_feature":
        cols = [column(col_of(cfg.nested_map), "nested_map")]
        for key, vocab in ((cfg.pkey, _PKEYS), (cfg.skey, _SKEYS)):
            if key != "ALL":
                cols.append(column(col_of(key), "text", vocab=vocab, card=len(vocab)))
        return cols
    return None


def _sequence_columns(
    base: str, cfg: Any, column: Any, col_of: Any, sequenced: Any
) -> list:
    """Columns of a sequence match / overlap / kv feature.

    As the features read them: ``item:`` (or unprefixed) inputs one token per
    position, ``user:`` / ``context:`` inputs once per row.
    """
    if base == "match_feature":
        per_row = [column(col_of(cfg.nested_map), "nested_map")]
        keyed = [(cfg.pkey, _PKEYS), (cfg.skey, _SKEYS)]
        inputs = [(k, v) for k, v in keyed if k != "ALL"]
    elif base == "overlap_feature":
        per_row = [
            column(col_of(cfg.query), "terms", vocab=_TERMS, separator=cfg.separator)
        ]
        inputs = [(cfg.title, _TERMS)]
    else:
        per_row = [
            column(
                col_of(cfg.query),
                "terms",
                vocab=_TERMS,
                separator=cfg.separator,
                weighted=True,
            )
        ]
        inputs = [(cfg.document, tuple(f"{t}:1.5" for t in _TERMS))]
    out = []
    for expr, vocab in inputs:
        col = column(col_of(expr), "text", vocab=vocab, card=len(vocab))
        if not expr.startswith(("user:", "context:")):
            col = sequenced(col)
        out.append(col)
    first = cfg.nested_map if base == "match_feature" else cfg.query
    if not first.startswith(("user:", "context:")):
        per_row = [sequenced(c) if c.kind == "text" else c for c in per_row]
    return per_row + out


def draw_derived(
    gen: Any, rng: np.random.Generator, col: Any, n: int, lens: dict
) -> tuple[pa.Array, np.ndarray] | None:
    """Values and per-row effects of a derived column kind (None: another kind)."""
    if col.kind == "terms":
        k = rng.integers(1, 5, n)
        ids = rng.integers(0, len(col.vocab), int(k.sum()))
        lens[f"terms:{col.name}"] = k
        tokens = pa.array(np.asarray(col.vocab, dtype=object)[ids], pa.string())
        if col.weighted:
            w = pa.array(np.round(rng.uniform(0.1, 2.0, len(ids)), 2)).cast(pa.string())
            tokens = pc.binary_join_element_wise(tokens, w, ":")
        eff = gen.effect_table(col.name, len(col.vocab))[ids]
        per_row = np.bincount(np.repeat(np.arange(n), k), weights=eff, minlength=n)
        return _join(tokens, k, col.separator), per_row / k
    if col.kind == "mask":
        k = lens.get(f"terms:{col.sequence}", np.ones(n, np.int64))
        flags = rng.random(int(k.sum())) < 0.6
        tokens = pa.array(np.where(flags, "true", "false").astype(object), pa.string())
        return _join(tokens, k, col.separator), np.zeros(n)
    if col.kind == "nested_map":
        return _nested_map(gen, rng, col, n)
    return None


def _nested_map(
    gen: Any, rng: np.random.Generator, col: Any, n: int
) -> tuple[pa.Array, np.ndarray]:
    per_row = 2
    pk = rng.integers(0, len(_PKEYS), n * per_row)
    inner = 2
    sk = rng.integers(0, len(_SKEYS), n * per_row * inner)
    vals = np.round(rng.uniform(0, 3, n * per_row * inner), 2)
    pairs = pc.binary_join_element_wise(
        pa.array(np.asarray(_SKEYS, dtype=object)[sk], pa.string()),
        pa.array(vals).cast(pa.string()),
        ":",
    )
    inner_joined = _join(pairs, np.full(n * per_row, inner), ",")
    outer = pc.binary_join_element_wise(
        pa.array(np.asarray(_PKEYS, dtype=object)[pk], pa.string()), inner_joined, "^"
    )
    eff = gen.effect_table(col.name, len(_PKEYS))[pk].reshape(n, per_row).mean(axis=1)
    return _join(outer, np.full(n, per_row), "|"), eff


def _join(tokens: pa.Array, lengths: np.ndarray, sep: str) -> pa.Array:
    offsets = np.concatenate([[0], np.cumsum(lengths)]).astype(np.int32)
    return pc.binary_join(pa.ListArray.from_arrays(pa.array(offsets), tokens), sep)
