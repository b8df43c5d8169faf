"""RawFeature: a numeric value, fed as is or bucketized into an embedding.

Without ``boundaries`` the value (``value_dim`` wide) goes to the MLP as a
dense input. With ``boundaries`` it is bucketized (bucket i holds values in
``[b[i-1], b[i])``) and looked up in a table of ``len(boundaries) + 1`` rows.

Missing values (null, empty string, NaN) take ``default_value`` (default "0"),
given in the column's units; then the ``normalizer`` applies (see
tzrec.features.normalizer), then the boundaries. A value that does not parse
as a number, or a row with a number of values other than ``value_dim``, is a
DataError naming the column.

As a sequence feature the column holds one value per position (``value_dim``
numbers split by ``separator`` when wider), split by ``sequence_delim`` and
truncated to ``sequence_length``; dense values come out padded with zeros as
``[B, sequence_length, value_dim]``, bucketized ones as one id per position.
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from tzrec.features.dense_emb import DenseEmbSpec, dense_emb_spec
from tzrec.features.feature import (
    BaseFeature,
    SequenceSpec,
    SparseValues,
    TableSpec,
    is_text_or_list,
    split_multi_value,
    split_sequence,
    to_float,
)
from tzrec.features.normalizer import parse_normalizer
from tzrec.utils.errors import ConfigError, DataError


class RawFeature(BaseFeature):
    """A dense numeric feature, optionally bucketized or per sequence position."""

    def __init__(self, config, sequence: SequenceSpec | None = None) -> None:
        super().__init__(config, sequence)
        where = f"feature {self.name}"
        self.boundaries = np.asarray(list(config.boundaries), dtype=np.float32)
        self.is_sparse = len(self.boundaries) > 0
        self.value_dim = max(int(config.value_dim), 1)
        self.normalizer = parse_normalizer(config.normalizer, f"{where}.normalizer")
        try:
            self.default = float(config.default_value or 0.0)
        except ValueError:
            raise ConfigError(
                f'default_value "{config.default_value}" is not a number', where
            ) from None
        self._dense_emb = dense_emb_spec(config, self.value_dim, where, self.is_sparse)
        if sequence is not None and self._dense_emb is not None:
            raise ConfigError(
                f"{self._dense_emb.kind} on a sequence raw feature is not supported "
                "yet",
                where,
                "use boundaries, or the raw value",
            )
        if sequence is not None and self.is_sparse and self.value_dim != 1:
            raise ConfigError(
                "a bucketized sequence raw feature needs value_dim 1", where
            )

    @property
    def dense_embedding(self) -> DenseEmbSpec | None:
        """How the model embeds the dense value (autodis / mlp), or None."""
        return self._dense_emb

    @property
    def output_dim(self) -> int:
        """Embedding width when bucketized or embedded, else ``value_dim``."""
        if self.is_sparse or self._dense_emb is not None:
            return int(self.config.embedding_dim)
        return self.value_dim

    @property
    def table(self) -> TableSpec | None:
        """The bucket embedding table, or None for a dense value."""
        if not self.is_sparse:
            return None
        return self.embedding_table(len(self.boundaries) + 1)

    def values(self, columns: dict[str, pa.Array]) -> np.ndarray:
        """float32 [B, value_dim]: missing filled, normalized."""
        return self._parse(self.column(columns))

    def _parse(self, col: pa.Array) -> np.ndarray:
        if self.value_dim == 1 and not is_text_or_list(col.type):
            out = to_float(col, self.where()).reshape(-1, 1)
        else:
            tokens, lengths = split_multi_value(col, self.config.separator)
            flat = to_float(tokens, self.where())
            full = lengths == self.value_dim
            if not np.all(full | (lengths == 0)):
                bad = int(np.flatnonzero(~(full | (lengths == 0)))[0])
                raise DataError(
                    f"row {bad} has {lengths[bad]} values, expected value_dim="
                    f"{self.value_dim}",
                    self.where(),
                    "fix the data or the feature's value_dim",
                )
            out = np.full((len(lengths), self.value_dim), np.nan, dtype=np.float32)
            out[full] = flat.reshape(-1, self.value_dim)
        out = np.where(np.isnan(out), np.float32(self.default), out)
        return out if self.normalizer is None else self.normalizer(out)

    def sequence_values(
        self, columns: dict[str, pa.Array]
    ) -> tuple[np.ndarray, np.ndarray]:
        """Per position float32 [N, value_dim] and per-row lengths [B]."""
        spec = self.sequence_spec()
        tokens, lengths = split_sequence(self.column(columns), spec.delim, spec.length)
        if pa.types.is_string(tokens.type) or pa.types.is_large_string(tokens.type):
            tokens = pc.if_else(
                pc.equal(tokens, ""), pa.scalar(None, tokens.type), tokens
            )
        return self._parse(tokens), lengths

    def encode_sequence_dense(
        self, columns: dict[str, pa.Array]
    ) -> tuple[np.ndarray, np.ndarray]:
        """Zero-padded float32 [B, sequence_length, value_dim] and lengths [B]."""
        flat, lengths = self.sequence_values(columns)
        length = self.sequence_spec().length
        out = np.zeros((len(lengths), length, self.value_dim), np.float32)
        pos = np.arange(length)
        out[pos[None, :] < lengths[:, None]] = flat
        return out, lengths

    def encode_dense(self, columns: dict[str, pa.Array]) -> np.ndarray:
        """[B, value_dim], or [B, sequence_length, value_dim] for a sequence."""
        if self.sequence is not None:
            return self.encode_sequence_dense(columns)[0]
        return self.values(columns)

    def encode_sparse(self, columns: dict[str, pa.Array]) -> SparseValues:
        """Bucket ids: one per value, or one per sequence position."""
        if self.sequence is not None:
            vals, lengths = self.sequence_values(columns)
        else:
            vals = self.values(columns)
            lengths = np.full(len(vals), self.value_dim, dtype=np.int32)
        ids = np.searchsorted(self.boundaries, vals.reshape(-1), side="right")
        return SparseValues(ids.astype(np.int64), lengths.astype(np.int32))
