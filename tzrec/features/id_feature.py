"""IdFeature: categorical ids looked up in an embedding table.

Bucketing (one of ``num_buckets``, ``hash_bucket_size``, ``vocab_list``,
``vocab_dict``, ``vocab_file``): see tzrec.features.bucketize.

A row's bag is the column's value(s): a scalar, a list, or a string split by
``separator``. Nulls, empty strings and doubled separators add nothing. Ids
outside ``[0, num_buckets)`` are dropped from the bag (a warning is logged
once per feature). A bag left empty gets the single id of ``default_value``
when it is set, otherwise it stays empty (its pooled embedding is zero).

``weighted``: every value is ``id:weight`` (split at the last ``:``), or the
column is a map id -> weight; the weights scale the embeddings in the pooling
(KJT weights). A value without a numeric weight is a DataError naming the
column.

As a sequence feature (``sequence_id_feature`` or a ``sequence_feature``
sub-feature) the column holds one id per position, split by
``sequence_delim`` and truncated to ``sequence_length`` (see
tzrec.features.feature.split_sequence). Positions are never dropped, so
sub-sequences stay aligned: an empty or out-of-range position takes
``default_value`` when it is set; otherwise it is a DataError, except that
string ids bucketed by hash or vocab treat "" as a token (vocab: unknown).
"""

from __future__ import annotations

import logging
from typing import NoReturn

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from tzrec.features.bucketize import Bucketizer
from tzrec.features.feature import (
    BaseFeature,
    SequenceSpec,
    SparseValues,
    TableSpec,
    drop_values,
    fill_empty,
    is_text_or_list,
    split_multi_value,
    split_sequence,
    to_float,
)
from tzrec.utils.errors import ConfigError, DataError

_logger = logging.getLogger(__name__)


class IdFeature(BaseFeature):
    """A (multi-value, optionally weighted, optionally sequence) categorical feature."""

    is_sparse = True

    def __init__(self, config, sequence: SequenceSpec | None = None) -> None:
        super().__init__(config, sequence)
        where = f"feature {self.name}"
        self.bucketizer = Bucketizer(config, where)
        self.is_weighted = bool(config.weighted)
        if self.is_weighted and sequence is not None:
            raise ConfigError(
                "weighted sequence features are not supported yet",
                where,
                "drop weighted",
            )
        self.default: str | None = (
            config.default_value if config.HasField("default_value") else None
        )
        if self.default is not None:
            self.bucketizer.token_id(self.default, where)
        self._warned = False

    @property
    def num_embeddings(self) -> int:
        """Table rows implied by the bucketing fields."""
        return self.bucketizer.size

    @property
    def output_dim(self) -> int:
        """Embedding width."""
        return int(self.config.embedding_dim)

    @property
    def table(self) -> TableSpec:
        """The embedding table (shared when ``embedding_name`` is set)."""
        return self.embedding_table(self.num_embeddings)

    def encode_sparse(self, columns: dict[str, pa.Array]) -> SparseValues:
        """Encodes a batch: see the module doc for missing and invalid values."""
        col = self.column(columns)
        if self.sequence is not None:
            return self._encode_sequence(col)
        weights = None
        if self.is_weighted:
            tokens, lengths, weights = split_weighted(
                col, self.config.separator, self.where()
            )
        elif is_text_or_list(col.type):
            tokens, lengths = split_multi_value(col, self.config.separator)
        else:
            lengths = pc.is_valid(col).to_numpy(zero_copy_only=False).astype(np.int32)
            tokens = pc.drop_null(col)
        ids, valid = self.bucketizer(tokens, self.where())
        if valid is not None:
            self._warn_dropped(int((~valid).sum()))
            ids, lengths = ids[valid], drop_values(lengths, valid)
            weights = None if weights is None else weights[valid]
        sv = SparseValues(ids, lengths.astype(np.int32), weights)
        return fill_empty(sv, self.default_id(tokens.type))

    def default_id(self, token_type: pa.DataType) -> int | None:
        """The id of ``default_value`` read as the data's type (None if unset)."""
        if self.default is None:
            return None
        try:
            token = pa.array([self.default], pa.string()).cast(token_type)
        except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
            raise DataError(
                f'default_value "{self.default}" does not parse as {token_type}',
                self.where(),
                "give a default_value of the column's type",
            ) from None
        return int(self.bucketizer(token, self.where())[0][0])

    def _encode_sequence(self, col: pa.Array) -> SparseValues:
        spec = self.sequence_spec()
        tokens, lengths = split_sequence(col, spec.delim, spec.length)
        is_text = pa.types.is_string(tokens.type) or pa.types.is_large_string(
            tokens.type
        )
        missing = pc.is_null(tokens)
        if is_text:
            missing = pc.or_kleene(missing, pc.equal(tokens, ""))
        missing = missing.to_numpy(zero_copy_only=False)
        if missing.any():
            if self.default is None and (self.bucketizer.mode == "num" or not is_text):
                self._bad_position(lengths, ~missing, "is empty")
            fill = "0" if self.bucketizer.mode == "num" else ""
            fill_scalar = pa.scalar(fill) if is_text else pa.scalar(0, tokens.type)
            tokens = pc.if_else(pa.array(missing), fill_scalar, tokens)
        ids, valid = self.bucketizer(tokens, self.where())
        bad = np.zeros(len(ids), bool) if valid is None else ~valid
        if self.default is not None:
            bad |= missing
        if bad.any():
            fill_id = self.default_id(tokens.type)
            if fill_id is None:
                self._bad_position(lengths, ~bad, "is out of range")
            ids = np.where(bad, fill_id, ids)
        return SparseValues(ids.astype(np.int64), lengths)

    def _bad_position(
        self, lengths: np.ndarray, valid: np.ndarray, what: str
    ) -> NoReturn:
        flat = int(np.flatnonzero(~valid)[0])
        row = int(np.searchsorted(np.cumsum(lengths), flat, side="right"))
        raise DataError(
            f"a sequence position {what} (row {row} of a batch)",
            self.where(),
            "fix the data or set default_value for missing positions",
        )

    def _warn_dropped(self, n: int) -> None:
        if not self._warned:
            self._warned = True
            _logger.warning(
                "feature %s: %d id(s) outside [0, %d) dropped from their bags "
                "(logged once per feature)",
                self.name,
                n,
                self.num_embeddings,
            )


def split_weighted(
    col: pa.Array, separator: str, where: str
) -> tuple[pa.Array, np.ndarray, np.ndarray]:
    """Ids, bag lengths and float32 weights of an ``id:weight`` (or map) column."""
    if pa.types.is_map(col.type):
        offsets = np.asarray(col.offsets)
        start, stop = int(offsets[0]), int(offsets[-1])
        keys = col.keys.slice(start, stop - start)
        weights = to_float(col.items.slice(start, stop - start), where)
        lengths = np.diff(offsets).astype(np.int32)
        return keys, lengths, np.nan_to_num(weights, nan=1.0)
    tokens, lengths = split_multi_value(col, separator)
    parts = pc.split_pattern(tokens.cast(pa.string()), ":", max_splits=1, reverse=True)
    bad = pc.not_equal(pc.list_value_length(parts), 2).to_numpy(zero_copy_only=False)
    if bad.any():
        raise DataError(
            f'weighted value "{tokens[int(np.flatnonzero(bad)[0])]}" is not id:weight',
            where,
            'write each value as "id:weight", e.g. "a:0.5\\x1db:1.0"',
        )
    ids = pc.list_element(parts, 0)
    weights = to_float(pc.list_element(parts, 1), where)
    return ids, lengths, weights
