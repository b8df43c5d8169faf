"""ComboFeature: the hashed cross of several categorical columns.

Each ``expression`` column is read like an IdFeature column (scalar, list, or
a string split by ``separator``; nulls and empty tokens add nothing). A row's
bag is the cross product of its columns' values, each crossed value being the
values joined by ``_`` in expression order (``"25_3"``), bucketized by
``hash_bucket_size`` or ``vocab_list`` (unknown -> the extra last id). A row
where any column is empty gets ``default_value`` (a crossed token) when set,
otherwise an empty bag. Built for whole batches: no loop over rows.
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from tzrec.features.bucketize import Bucketizer
from tzrec.features.feature import (
    BaseFeature,
    SparseValues,
    TableSpec,
    fill_empty,
    is_text_or_list,
    row_ids,
    split_multi_value,
)
from tzrec.utils.errors import ConfigError

CROSS_JOIN = "_"


def cross(
    left: pa.Array, left_len: np.ndarray, right: pa.Array, right_len: np.ndarray
) -> tuple[pa.Array, np.ndarray]:
    """Per row, every ``left_right`` string pair (left-major), and the pair counts."""
    counts = (left_len.astype(np.int64) * right_len).astype(np.int64)
    rows = row_ids(counts)
    k = np.arange(int(counts.sum())) - np.repeat(np.cumsum(counts) - counts, counts)
    left_start = np.cumsum(left_len) - left_len
    right_start = np.cumsum(right_len) - right_len
    r = right_len[rows].astype(np.int64)
    li = left_start[rows] + k // np.maximum(r, 1)
    ri = right_start[rows] + k % np.maximum(r, 1)
    joined = pc.binary_join_element_wise(
        pc.take(left, pa.array(li)), pc.take(right, pa.array(ri)), CROSS_JOIN
    )
    return joined, counts.astype(np.int32)


class ComboFeature(BaseFeature):
    """The cross of two or more columns' values, hashed or looked up."""

    is_sparse = True

    def __init__(self, config) -> None:
        super().__init__(config)
        where = f"feature {self.name}"
        if len(config.expression) < 2:
            raise ConfigError(
                "combo_feature needs at least 2 expression columns",
                f"{where}.expression",
                'e.g. expression: ["user:age", "item:cate"]',
            )
        self.bucketizer = Bucketizer(config, where)
        self.default_id = (
            self.bucketizer.token_id(config.default_value, where)
            if config.HasField("default_value")
            else None
        )

    @property
    def output_dim(self) -> int:
        """Embedding width."""
        return int(self.config.embedding_dim)

    @property
    def table(self) -> TableSpec:
        """The embedding table."""
        return self.embedding_table(self.bucketizer.size)

    def _tokens(self, col: pa.Array) -> tuple[pa.Array, np.ndarray]:
        if is_text_or_list(col.type):
            tokens, lengths = split_multi_value(col, self.config.separator)
        else:
            lengths = pc.is_valid(col).to_numpy(zero_copy_only=False).astype(np.int32)
            tokens = pc.drop_null(col)
        return tokens.cast(pa.string()), lengths

    def encode_sparse(self, columns: dict[str, pa.Array]) -> SparseValues:
        """Crossed ids per row (see the module doc)."""
        names = self.inputs
        tokens, lengths = self._tokens(self.column(columns, names[0]))
        for name in names[1:]:
            other, other_len = self._tokens(self.column(columns, name))
            tokens, lengths = cross(tokens, lengths, other, other_len)
        ids, _ = self.bucketizer(tokens, self.where(",".join(names)))
        return fill_empty(SparseValues(ids, lengths), self.default_id)
