"""Shared tail of the features that compute one number per row.

Expr, combine, match (continuous), overlap and kv_dot_product features each
compute a float32 ``[B, 1]`` value (NaN where a row has none); this base
fills the missing with ``default_value``, applies the ``normalizer`` where
the feature has one, and then, like a RawFeature, either feeds the value to
the MLP (dense), bucketizes it by ``boundaries``, or (combine_feature's
``num_buckets``) takes the integral value itself as the id. A dense value may
be embedded by ``autodis`` / ``mlp`` (tzrec.features.dense_emb).

As a sequence feature (``sequence_*`` or a ``sequence_feature`` sub-feature)
each position gets one value: the batch is unrolled to one row per position
and computed as a plain batch (see :meth:`NumericFeature.compute_sequence`).
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
    column_of,
    row_ids,
    split_sequence,
)
from tzrec.features.normalizer import Normalizer, parse_normalizer
from tzrec.utils.errors import ConfigError, DataError

_ROW_SIDES = ("user:", "context:")


class NumericFeature(BaseFeature):
    """A feature whose value is one computed number per row (see module doc)."""

    def __init__(self, config, sequence: SequenceSpec | None = None) -> None:  # noqa: ANN001
        super().__init__(config, sequence)
        where = f"feature {self.name}"
        fields = config.DESCRIPTOR.fields_by_name
        self.boundaries = np.asarray(list(config.boundaries), dtype=np.float32)
        if np.any(np.diff(self.boundaries) <= 0):
            raise ConfigError(
                "boundaries must be strictly increasing", f"{where}.boundaries"
            )
        self.discrete = self._is_discrete(config)
        self.num_buckets = (
            int(config.num_buckets)
            if "num_buckets" in fields and not self.discrete
            else 0
        )
        if self.num_buckets and len(self.boundaries):
            raise ConfigError(
                "num_buckets and boundaries are both set",
                where,
                "keep one of them",
            )
        self.is_sparse = self.discrete or bool(self.num_buckets or len(self.boundaries))
        self.normalizer: Normalizer | None = None
        if "normalizer" in fields:
            self.normalizer = parse_normalizer(config.normalizer, f"{where}.normalizer")
        self.default = self._default(config, where)
        self._dense_emb = dense_emb_spec(config, 1, where, self.is_sparse)
        if sequence is not None and self._dense_emb is not None:
            raise ConfigError(
                f"{self._dense_emb.kind} on a sequence feature is not supported yet",
                where,
                "use boundaries, or the value itself",
            )
        if self.is_sparse or self._dense_emb is not None:
            if config.embedding_dim == 0:
                raise ConfigError(
                    "embedding_dim must be > 0", f"{where}.embedding_dim", "e.g. 8"
                )

    @staticmethod
    def _is_discrete(config) -> bool:  # noqa: ANN001
        """Whether the feature yields tokens rather than one number (subclasses)."""
        return False

    @staticmethod
    def _default(config, where: str) -> float | None:  # noqa: ANN001
        """``default_value`` as a number; None when it is empty (no default)."""
        fields = config.DESCRIPTOR.fields_by_name
        text = config.default_value if "default_value" in fields else "0"
        if text == "":
            return None
        try:
            return float(text)
        except ValueError:
            raise ConfigError(
                f'default_value "{text}" is not a number',
                f"{where}.default_value",
                'e.g. "0"',
            ) from None

    @property
    def dense_embedding(self) -> DenseEmbSpec | None:
        """How the model embeds the dense value (autodis / mlp), or None."""
        return self._dense_emb

    @property
    def output_dim(self) -> int:
        """Embedding width when bucketized or embedded, else 1."""
        if self.is_sparse or self._dense_emb is not None:
            return int(self.config.embedding_dim)
        return 1

    @property
    def table(self) -> TableSpec | None:
        """The bucket embedding table, or None for a dense value."""
        if not self.is_sparse:
            return None
        return self.embedding_table(self.num_buckets or len(self.boundaries) + 1)

    def compute(self, columns: dict[str, pa.Array]) -> np.ndarray:
        """float32 [B]: the feature's value per row, NaN where it has none."""
        raise NotImplementedError

    def values(self, columns: dict[str, pa.Array]) -> np.ndarray:
        """float32 [B, 1]: computed, missing filled, normalized.

        Without a default (``default_value: ""``) a missing value is 0 for a
        dense feature; a sparse one leaves the row's bag empty.
        """
        return self._finish(self.compute(columns))

    def _finish(self, raw: np.ndarray) -> np.ndarray:
        v = raw.astype(np.float32).reshape(-1, 1)
        fill = 0.0 if self.default is None else self.default
        v = np.where(np.isnan(v), np.float32(fill), v)
        return v if self.normalizer is None else self.normalizer(v)

    def input_expressions(self) -> list[str]:
        """The inputs' expressions (side prefix kept), in ``inputs`` order."""
        return [self.config.expression]

    def per_position(self) -> list[bool]:
        """Which inputs a sequence reads per position (TorchEasyRec's rule).

        A lone input, and the ``item:`` (or unprefixed) inputs of several, are
        sequences; ``user:`` / ``context:`` inputs are one value per row.
        """
        exprs = self.input_expressions()
        if self.sequence is None:
            return [False] * len(exprs)
        single = len(exprs) == 1
        return [single or not e.startswith(_ROW_SIDES) for e in exprs]

    @property
    def inputs(self) -> list[str]:
        """Input columns; per-position ones carry the sequence's prefix."""
        where = f"feature {self.name}"
        exprs = self.input_expressions()
        default = self.config.feature_name if len(exprs) == 1 else ""
        prefix = self.sequence.prefix if self.sequence else ""
        return [
            (prefix if seq else "") + column_of(e, default, where)
            for e, seq in zip(exprs, self.per_position(), strict=True)
        ]

    def check_sequence(self) -> None:
        """Raises a ConfigError for a sequence without a per-position input."""
        if self.sequence is not None and not any(self.per_position()):
            raise ConfigError(
                "a sequence feature needs a per-position (item-side) input",
                f"feature {self.name}",
                'read the sequence from an "item:" column',
            )

    def compute_sequence(
        self, columns: dict[str, pa.Array]
    ) -> tuple[np.ndarray, np.ndarray]:
        """float32 per position (NaN: missing) and per-row lengths [B].

        The batch is unrolled to one row per position (per-position inputs
        split by ``sequence_delim``, per-row inputs repeated) and computed as
        a plain batch: whole columns, no loop over rows.
        """
        names, flags = self.inputs, self.per_position()
        flat: dict[str, pa.Array] = {}
        lengths: np.ndarray | None = None
        for name, seq in zip(names, flags, strict=True):
            if not seq:
                continue
            spec = self.sequence_spec()
            tokens, n = split_sequence(
                self.column(columns, name), spec.delim, spec.length
            )
            if lengths is not None and not np.array_equal(lengths, n):
                row = int(np.flatnonzero(lengths != n)[0])
                raise DataError(
                    f"sequence lengths differ in row {row} of a batch",
                    self.where(name),
                    "give the inputs of one sequence one value per position",
                )
            lengths, flat[name] = n, tokens
        assert lengths is not None  # check_sequence: one input is per position
        rows = pa.array(row_ids(lengths))
        for name, seq in zip(names, flags, strict=True):
            if not seq:
                flat[name] = pc.take(self.column(columns, name), rows)
        return self.compute(flat).astype(np.float32), lengths

    def sequence_values(
        self, columns: dict[str, pa.Array]
    ) -> tuple[np.ndarray, np.ndarray]:
        """Per position float32 [N, 1] (missing filled, normalized), lengths [B]."""
        raw, lengths = self.compute_sequence(columns)
        return self._finish(raw), lengths

    def encode_sequence_dense(
        self, columns: dict[str, pa.Array]
    ) -> tuple[np.ndarray, np.ndarray]:
        """Zero-padded float32 [B, sequence_length, 1] and lengths [B]."""
        flat, lengths = self.sequence_values(columns)
        length = self.sequence_spec().length
        out = np.zeros((len(lengths), length, 1), np.float32)
        pos = np.arange(length)
        out[pos[None, :] < lengths[:, None]] = flat
        return out, lengths

    def encode_dense(self, columns: dict[str, pa.Array]) -> np.ndarray:
        """The value, float32 [B, 1] ([B, sequence_length, 1] for a sequence)."""
        if self.sequence is not None:
            return self.encode_sequence_dense(columns)[0]
        return self.values(columns)

    def _sequence_ids(self, columns: dict[str, pa.Array]) -> SparseValues:
        """One id per position; positions are never dropped (they stay aligned)."""
        vals, lengths = self.sequence_values(columns)
        v = vals.reshape(-1)
        if not self.num_buckets:
            ids = np.searchsorted(self.boundaries, v, side="right")
            return SparseValues(ids.astype(np.int64), lengths)
        ids = np.where(np.isfinite(v), v, -1).astype(np.int64)
        bad = (ids < 0) | (ids >= self.num_buckets)
        if bad.any():
            raise DataError(
                f"a sequence value {v[int(np.flatnonzero(bad)[0])]:g} is not an id "
                f"in [0, {self.num_buckets})",
                self.where(),
                "fix the data, value_map or num_buckets",
            )
        return SparseValues(ids, lengths)

    def encode_sparse(self, columns: dict[str, pa.Array]) -> SparseValues:
        """One bucket id per row (empty bag: no value and no default)."""
        if self.sequence is not None:
            return self._sequence_ids(columns)
        raw = self.compute(columns).astype(np.float32)
        present = ~np.isnan(raw) | (self.default is not None)
        v = self._finish(raw).reshape(-1)
        if self.num_buckets:
            ids = np.where(np.isfinite(v), v, -1).astype(np.int64)
            present &= (ids >= 0) & (ids < self.num_buckets)
        else:
            ids = np.searchsorted(self.boundaries, v, side="right").astype(np.int64)
        return SparseValues(ids[present], present.astype(np.int32))
