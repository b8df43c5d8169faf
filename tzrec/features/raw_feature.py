"""RawFeature: a numeric value, fed as is or bucketized into an embedding.

Without ``boundaries`` the value (``value_dim`` wide) goes to the MLP as a
dense input. With ``boundaries`` it is bucketized (bucket i holds values in
``[b[i-1], b[i])``) and looked up in a table of ``len(boundaries) + 1`` rows.
Missing values take ``default_value`` (default "0").
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
from tzrec.utils.errors import DataError


class RawFeature(BaseFeature):
    """A dense numeric feature, optionally bucketized."""

    def __init__(self, config) -> None:  # noqa: ANN001
        super().__init__(config)
        self.boundaries = np.asarray(list(config.boundaries), dtype=np.float32)
        self.is_sparse = len(self.boundaries) > 0
        self.value_dim = max(int(config.value_dim), 1)

    @property
    def output_dim(self) -> int:
        """Embedding width when bucketized, else ``value_dim``."""
        if self.is_sparse:
            return int(self.config.embedding_dim)
        return self.value_dim

    @property
    def table(self) -> TableSpec | None:
        """The bucket embedding table, or None for a dense value."""
        if not self.is_sparse:
            return None
        c = self.config
        return TableSpec(
            name=c.embedding_name or self.name,
            num_embeddings=len(self.boundaries) + 1,
            embedding_dim=int(c.embedding_dim),
            pooling=c.pooling or "sum",
            init_fn=c.init_fn,
            trainable=c.trainable,
        )

    def values(self, columns: dict[str, pa.Array]) -> np.ndarray:
        """float32 [B, value_dim] with missing values filled."""
        col = self.column(columns)
        default = float(self.config.default_value or 0.0)
        if self.value_dim == 1 and not _is_text_or_list(col.type):
            try:
                filled = pc.fill_null(col.cast(pa.float32()), default)
            except (pa.ArrowInvalid, pa.ArrowNotImplementedError) as e:
                raise self._bad_value(e) from None
            return filled.to_numpy(zero_copy_only=False).reshape(-1, 1)
        tokens, lengths = split_multi_value(col, self.config.separator)
        try:
            flat = pc.cast(tokens, pa.float32()).to_numpy(zero_copy_only=False)
        except (pa.ArrowInvalid, pa.ArrowNotImplementedError) as e:
            raise self._bad_value(e) from None
        out = np.full((len(lengths), self.value_dim), default, dtype=np.float32)
        full = lengths == self.value_dim
        if not np.all(full | (lengths == 0)):
            bad = int(np.flatnonzero(~(full | (lengths == 0)))[0])
            raise DataError(
                f"row {bad} has {lengths[bad]} values, expected value_dim={self.value_dim}",
                f'column "{self.inputs[0]}", feature {self.name}',
                "fix the data or the feature's value_dim",
            )
        out[full] = flat.reshape(-1, self.value_dim)
        return out

    def encode_dense(self, columns: dict[str, pa.Array]) -> np.ndarray:
        """The value as float32 [B, value_dim]."""
        return self.values(columns)

    def encode_sparse(self, columns: dict[str, pa.Array]) -> SparseValues:
        """Bucket ids, one per value."""
        vals = self.values(columns).reshape(-1)
        ids = np.searchsorted(self.boundaries, vals, side="right").astype(np.int64)
        lengths = np.full(len(vals) // self.value_dim, self.value_dim, dtype=np.int32)
        return SparseValues(ids, lengths)

    def _bad_value(self, e: Exception) -> DataError:
        return DataError(
            f"unparseable number: {str(e)[:100]}",
            f'column "{self.inputs[0]}", feature {self.name}',
            "fix the value or set the column type in input_fields",
        )


def _is_text_or_list(t: pa.DataType) -> bool:
    return (
        pa.types.is_string(t)
        or pa.types.is_large_string(t)
        or pa.types.is_list(t)
        or pa.types.is_large_list(t)
    )
