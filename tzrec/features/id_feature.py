"""IdFeature: categorical ids looked up in an embedding table.

Bucketing, in order of precedence of the configured field:
- ``num_buckets``: the value is the id itself; ids outside ``[0, num_buckets)``
  are treated as missing.
- ``hash_bucket_size``: ids and strings are hashed (stable across processes).
- ``vocab_list``: entry i gets id i; unknown values get the extra bucket
  ``len(vocab_list)``.
Missing values take ``default_value`` when it is set, otherwise the row's bag
is empty (its pooled embedding is zero).
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from tzrec.features.feature import (
    BaseFeature,
    SparseValues,
    TableSpec,
    split_multi_value,
)
from tzrec.features.hashing import hash_ints, hash_strings
from tzrec.utils.errors import DataError


class IdFeature(BaseFeature):
    """A (multi-value) categorical feature."""

    is_sparse = True

    @property
    def num_embeddings(self) -> int:
        """Table rows implied by the bucketing fields."""
        c = self.config
        if c.num_buckets:
            return int(c.num_buckets)
        if c.hash_bucket_size:
            return int(c.hash_bucket_size)
        if len(c.vocab_list):
            return len(c.vocab_list) + 1
        return 0

    @property
    def output_dim(self) -> int:
        """Embedding width."""
        return int(self.config.embedding_dim)

    @property
    def table(self) -> TableSpec:
        """The embedding table (shared when ``embedding_name`` is set)."""
        c = self.config
        return TableSpec(
            name=c.embedding_name or self.name,
            num_embeddings=self.num_embeddings,
            embedding_dim=int(c.embedding_dim),
            pooling=c.pooling or "sum",
            init_fn=c.init_fn,
            trainable=c.trainable,
        )

    def encode_sparse(self, columns: dict[str, pa.Array]) -> SparseValues:
        """Encodes a batch: nulls take the default, multi-values are split."""
        col = self.column(columns)
        c = self.config
        if c.HasField("default_value") and col.null_count:
            if pa.types.is_integer(col.type):
                col = pc.fill_null(col, int(c.default_value))
            else:
                col = pc.fill_null(col.cast(pa.string()), c.default_value)
        if _is_multi_value(col):
            tokens, lengths = split_multi_value(col, c.separator)
        else:
            valid = pc.is_valid(col).to_numpy(zero_copy_only=False)
            lengths = valid.astype(np.int32)
            tokens = pc.drop_null(col)
        ids, keep = self._bucketize(tokens)
        if keep is not None:
            row = np.repeat(np.arange(len(lengths)), lengths)
            lengths = lengths - np.bincount(row[~keep], minlength=len(lengths))
            ids = ids[keep]
        return SparseValues(ids, lengths.astype(np.int32))

    def _bucketize(self, tokens: pa.Array) -> tuple[np.ndarray, np.ndarray | None]:
        """Maps flat tokens to ids; returns ids and an optional keep-mask."""
        c = self.config
        if c.num_buckets:
            ids = self._as_int(tokens)
            keep = (ids >= 0) & (ids < c.num_buckets)
            return ids, (None if keep.all() else keep)
        if c.hash_bucket_size:
            if pa.types.is_integer(tokens.type):
                return hash_ints(
                    tokens.to_numpy().astype(np.int64), c.hash_bucket_size
                ), None
            return hash_strings(tokens.cast(pa.string()), c.hash_bucket_size), None
        vocab = pa.array(list(c.vocab_list), pa.string())
        idx = pc.index_in(tokens.cast(pa.string()), value_set=vocab)
        ids = pc.fill_null(idx, len(c.vocab_list)).to_numpy().astype(np.int64)
        return ids, None

    def _as_int(self, tokens: pa.Array) -> np.ndarray:
        if pa.types.is_integer(tokens.type):
            return tokens.to_numpy(zero_copy_only=False).astype(np.int64)
        try:
            return pc.cast(tokens, pa.int64()).to_numpy().astype(np.int64)
        except (pa.ArrowInvalid, pa.ArrowNotImplementedError) as e:
            raise DataError(
                f"non-integer value in a num_buckets id column: {str(e)[:80]}",
                f'column "{self.inputs[0]}", feature {self.name}',
                "use hash_bucket_size or vocab_list for string ids",
            ) from None


def _is_multi_value(col: pa.Array) -> bool:
    t = col.type
    return (
        pa.types.is_list(t)
        or pa.types.is_large_list(t)
        or pa.types.is_string(t)
        or pa.types.is_large_string(t)
    )
