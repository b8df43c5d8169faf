"""Feature base class: a column (or columns) turned into model input.

A feature knows the columns it reads, whether it feeds an embedding table
(sparse) or goes straight to the MLP (dense), and how to encode a whole
pyarrow batch at once: no Python loop over rows.
"""

from __future__ import annotations

import dataclasses

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from tzrec.utils.errors import DataError


@dataclasses.dataclass
class SparseValues:
    """One sparse feature of a batch: flat ids and per-row bag lengths."""

    values: np.ndarray  # int64 [sum(lengths)]
    lengths: np.ndarray  # int32 [batch]
    weights: np.ndarray | None = None  # float32 [sum(lengths)]


@dataclasses.dataclass(frozen=True)
class TableSpec:
    """An embedding table a sparse feature looks up.

    Attributes:
        name: table name (``embedding_name`` or the feature name).
        num_embeddings: rows of the table.
        embedding_dim: width.
        pooling: ``sum`` or ``mean``.
        init_fn: optional initialiser spec, e.g. ``nn.init.normal_,std=0.01``.
        trainable: whether the table is updated.

    """

    name: str
    num_embeddings: int
    embedding_dim: int
    pooling: str = "sum"
    init_fn: str = ""
    trainable: bool = True


class BaseFeature:
    """A configured input feature.

    Args:
        config: the feature's proto sub-message (IdFeature, RawFeature, ...).

    """

    is_sparse: bool = True

    def __init__(self, config) -> None:  # noqa: ANN001 - any feature proto
        self.config = config
        self.name: str = config.feature_name

    @property
    def inputs(self) -> list[str]:
        """Column names this feature reads (``expression`` or the feature name)."""
        expr = getattr(self.config, "expression", "")
        if isinstance(expr, str):
            return [expr or self.name]
        return list(expr) or [self.name]

    @property
    def output_dim(self) -> int:
        """Width this feature contributes to a feature group."""
        raise NotImplementedError

    @property
    def table(self) -> TableSpec | None:
        """The embedding table, or None for a dense feature."""
        return None

    def encode_sparse(self, columns: dict[str, pa.Array]) -> SparseValues:
        """Encodes a batch of this feature's columns to ids."""
        raise NotImplementedError

    def encode_dense(self, columns: dict[str, pa.Array]) -> np.ndarray:
        """Encodes a batch of this feature's columns to float32 [B, output_dim]."""
        raise NotImplementedError

    def column(self, columns: dict[str, pa.Array]) -> pa.Array:
        """This feature's single input column, or a DataError naming it."""
        name = self.inputs[0]
        try:
            col = columns[name]
        except KeyError:
            raise DataError(
                f'missing column "{name}"',
                f"feature {self.name}",
                "add the column to the data or fix the feature's expression",
            ) from None
        if isinstance(col, pa.ChunkedArray):
            col = col.combine_chunks()
        return col


def split_multi_value(col: pa.Array, separator: str) -> tuple[pa.Array, np.ndarray]:
    """Splits a string column by ``separator`` into flat tokens and lengths.

    Nulls and empty strings give empty bags. List-typed columns are flattened
    as they are.
    """
    if pa.types.is_list(col.type) or pa.types.is_large_list(col.type):
        lengths = pc.fill_null(pc.list_value_length(col), 0)
        return pc.list_flatten(col), lengths.to_numpy().astype(np.int32)
    if not (pa.types.is_string(col.type) or pa.types.is_large_string(col.type)):
        col = col.cast(pa.string())
    parts = pc.split_pattern(col, separator)
    flat = pc.list_flatten(parts)
    lengths = pc.fill_null(pc.list_value_length(parts), 0).to_numpy().astype(np.int32)
    empty = pc.equal(flat, "")
    if pc.any(empty).as_py():
        # "" tokens (empty cells, doubled separators) are dropped from their bag.
        keep = pc.invert(empty)
        row_of_token = np.repeat(np.arange(len(lengths)), lengths)
        dropped = np.bincount(
            row_of_token[~keep.to_numpy(zero_copy_only=False)],
            minlength=len(lengths),
        )
        lengths = (lengths - dropped).astype(np.int32)
        flat = pc.filter(flat, keep)
    return flat, lengths
