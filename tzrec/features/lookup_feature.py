r"""LookupFeature: values looked up in a per-row map by the row's key(s).

``map`` names a map column: a pyarrow map, a list of ``"k:v"`` strings, or a
string ``"k1:v1\x1dk2:v2"`` (pairs split by ``\x1d``, each at its last ``:``;
a pair without ``:`` is a DataError). ``key`` names the key column (scalar,
list, or a string split by ``separator``). Keys match map keys as text; when
a map repeats a key the first pair wins.

Continuous (default): the matched values are numbers combined per row by
``combiner`` (``sum``, ``mean``, ``min``, ``max``; ``count`` = number of
matched keys). A row without a match takes ``default_value`` (default "0");
``count`` gives 0. Then ``normalizer``, then ``boundaries`` (-> one bucket id)
or a dense ``[B, 1]`` value. With ``hash_bucket_size``, ``num_buckets`` or
``vocab_list`` (and no ``need_discrete``, as TorchEasyRec allows) the combined
value itself is the token, bucketized like an id (integral values as
integers, so ``num_buckets`` takes a count as the id).

Discrete (``need_discrete`` or ``need_key``): the matched values are ids
(``key_value`` with ``need_key``), one bag per row, bucketized like an
IdFeature (``hash_bucket_size``, ``num_buckets`` or ``vocab_list``;
``combiner`` unused). A matched value holding several ids split by
``value_separator`` (default ",") gives each its own place in the bag.
Out-of-range ids are dropped; an empty bag takes ``default_value`` when it
is set.
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from tzrec.features.bucketize import Bucketizer
from tzrec.features.dense_emb import DenseEmbSpec, dense_emb_spec
from tzrec.features.feature import (
    BaseFeature,
    SparseValues,
    TableSpec,
    column_of,
    drop_values,
    fill_empty,
    is_text_or_list,
    row_ids,
    split_multi_value,
    to_float,
)
from tzrec.features.normalizer import parse_normalizer
from tzrec.utils.errors import ConfigError, DataError

COMBINERS = ("sum", "mean", "min", "max", "count")
_MAP_SEP = "\x1d"


class LookupFeature(BaseFeature):
    """A map lookup by key, combined (dense / bucketized) or as ids."""

    def __init__(self, config) -> None:
        super().__init__(config)
        where = f"feature {self.name}"
        self.discrete = bool(config.need_discrete or config.need_key)
        self.boundaries = np.asarray(list(config.boundaries), dtype=np.float32)
        # Combined value as a token (TorchEasyRec: a bucket field without
        # need_discrete).
        self.value_token = not self.discrete and bool(
            config.hash_bucket_size or config.num_buckets or len(config.vocab_list)
        )
        self.is_sparse = self.discrete or self.value_token or len(self.boundaries) > 0
        if config.combiner not in COMBINERS:
            raise ConfigError(
                f'bad combiner "{config.combiner}"', where, f"use one of {COMBINERS}"
            )
        self.normalizer = parse_normalizer(config.normalizer, f"{where}.normalizer")
        tokens = self.discrete or self.value_token
        self.bucketizer = Bucketizer(config, where) if tokens else None
        self.default_id: int | None = None
        if self.bucketizer is not None and self.discrete:
            if config.HasField("default_value"):
                self.default_id = self.bucketizer.token_id(config.default_value, where)
        self._dense_emb = dense_emb_spec(config, 1, where, self.is_sparse)
        if not self.discrete:
            try:
                self.default = float(config.default_value or 0.0)
            except ValueError:
                raise ConfigError(
                    f'default_value "{config.default_value}" is not a number', where
                ) from None

    @property
    def inputs(self) -> list[str]:
        """The map column and the key column."""
        where = f"feature {self.name}"
        return [
            column_of(self.config.map, "", where),
            column_of(self.config.key, "", where),
        ]

    @property
    def dense_embedding(self) -> DenseEmbSpec | None:
        """How the model embeds the dense value (autodis / mlp), or None."""
        return self._dense_emb

    @property
    def output_dim(self) -> int:
        """Embedding width when sparse or embedded, else 1."""
        if self.is_sparse or self._dense_emb is not None:
            return int(self.config.embedding_dim)
        return 1

    @property
    def table(self) -> TableSpec | None:
        """The embedding table (None when dense)."""
        if not self.is_sparse:
            return None
        rows = (
            self.bucketizer.size
            if self.bucketizer is not None
            else len(self.boundaries) + 1
        )
        return self.embedding_table(rows)

    def _map_entries(self, col: pa.Array) -> tuple[pa.Array, pa.Array, np.ndarray]:
        if pa.types.is_map(col.type):
            offsets = np.asarray(col.offsets)
            start, n = int(offsets[0]), int(offsets[-1] - offsets[0])
            return col.keys.slice(start, n), col.items.slice(start, n), np.diff(offsets)
        tokens, lengths = split_multi_value(col, _MAP_SEP)
        parts = pc.split_pattern(
            tokens.cast(pa.string()), ":", max_splits=1, reverse=True
        )
        bad = pc.not_equal(pc.list_value_length(parts), 2).to_numpy(
            zero_copy_only=False
        )
        if bad.any():
            raise DataError(
                f'map entry "{tokens[int(np.flatnonzero(bad)[0])]}" is not key:value',
                self.where(self.inputs[0]),
                'write pairs as "k1:v1\\x1dk2:v2" or use a map column',
            )
        return pc.list_element(parts, 0), pc.list_element(parts, 1), lengths

    def _keys(self, col: pa.Array) -> tuple[pa.Array, np.ndarray]:
        if is_text_or_list(col.type):
            return split_multi_value(col, self.config.separator)
        lengths = pc.is_valid(col).to_numpy(zero_copy_only=False).astype(np.int32)
        return pc.drop_null(col), lengths

    def lookup(
        self, columns: dict[str, pa.Array]
    ) -> tuple[np.ndarray, pa.Array, pa.Array, int]:
        """Row of each matched key, the keys, their values, and the batch size."""
        map_keys, map_vals, map_len = self._map_entries(
            self.column(columns, self.inputs[0])
        )
        keys, key_len = self._keys(self.column(columns, self.inputs[1]))
        composite_map = _composite(row_ids(map_len), map_keys)
        composite_key = _composite(row_ids(key_len), keys)
        idx = pc.index_in(composite_key, value_set=composite_map)
        idx = pc.fill_null(idx, -1).to_numpy(zero_copy_only=False)
        hit = idx >= 0
        rows = row_ids(key_len)[hit]
        keys = pc.filter(keys, pa.array(hit))
        values = pc.take(map_vals, pa.array(idx[hit]))
        return rows, keys, values, len(key_len)

    def combined(self, columns: dict[str, pa.Array]) -> np.ndarray:
        """float32 [B, 1]: matched values combined, defaulted and normalized."""
        rows, _, values, batch = self.lookup(columns)
        v = to_float(values, self.where(self.inputs[0]))
        ok = ~np.isnan(v)
        rows, v = rows[ok], v[ok]
        count = np.bincount(rows, minlength=batch).astype(np.float32)
        how = self.config.combiner
        out: np.ndarray  # float32 [B]
        if how == "count":
            out = count
        elif how in ("sum", "mean"):
            out = np.bincount(rows, weights=v, minlength=batch).astype(np.float32)
            if how == "mean":
                out = out / np.maximum(count, 1)
        else:
            out = np.full(batch, np.inf if how == "min" else -np.inf, np.float32)
            (np.minimum if how == "min" else np.maximum).at(out, rows, v)
        if how != "count":
            out = np.where(count > 0, out, np.float32(self.default))
        out = out.astype(np.float32).reshape(-1, 1)
        return out if self.normalizer is None else self.normalizer(out)

    def encode_dense(self, columns: dict[str, pa.Array]) -> np.ndarray:
        """The combined value, float32 [B, 1]."""
        return self.combined(columns)

    def encode_sparse(self, columns: dict[str, pa.Array]) -> SparseValues:
        """Bucket id of the combined value, or the matched values as ids."""
        if self.bucketizer is None:  # neither discrete nor a value token
            vals = self.combined(columns).reshape(-1)
            ids = np.searchsorted(self.boundaries, vals, side="right").astype(np.int64)
            return SparseValues(ids, np.ones(len(vals), np.int32))
        if self.value_token:
            vals = self.combined(columns).reshape(-1)
            ids, valid = self.bucketizer(
                _value_tokens(vals), self.where(self.inputs[0])
            )
            lengths = np.ones(len(vals), np.int32)
            if valid is not None:
                ids, lengths = ids[valid], drop_values(lengths, valid)
            return SparseValues(ids, lengths)
        rows, keys, values, batch = self.lookup(columns)
        tokens = values.cast(pa.string())
        if self.config.value_separator:
            # One map value may hold several ids ("k:a,b").
            tokens, per_value = split_multi_value(tokens, self.config.value_separator)
            rows = np.repeat(rows, per_value)
            keys = pc.take(keys, pa.array(row_ids(per_value)))
        if self.config.need_key:
            tokens = pc.binary_join_element_wise(keys.cast(pa.string()), tokens, "_")
        valid_tok = pc.is_valid(tokens).to_numpy(zero_copy_only=False)
        tokens, rows = pc.filter(tokens, pa.array(valid_tok)), rows[valid_tok]
        lengths = np.bincount(rows, minlength=batch).astype(np.int32)
        ids, valid = self.bucketizer(tokens, self.where(self.inputs[0]))
        if valid is not None:
            ids, lengths = ids[valid], drop_values(lengths, valid)
        return fill_empty(SparseValues(ids, lengths), self.default_id)


def _composite(rows: np.ndarray, keys: pa.Array) -> pa.Array:
    """Row-qualified keys (row, unit separator, key): a lookup stays in its row."""
    return pc.binary_join_element_wise(
        pa.array(rows.astype(np.int64)).cast(pa.string()),
        keys.cast(pa.string()),
        "\x1f",
    )


def _value_tokens(values: np.ndarray) -> pa.Array:
    """Combined values as tokens: integral ones as integers ("3"), others as floats."""
    integral = np.isfinite(values) & (values == np.round(values))
    with np.errstate(invalid="ignore"):
        as_int = pa.array(values.astype(np.int64)).cast(pa.string())
    as_float = pa.array(values.astype(np.float64)).cast(pa.string())
    return pc.if_else(pa.array(integral), as_int, as_float)
