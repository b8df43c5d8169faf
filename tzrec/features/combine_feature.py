"""CombineFeature: a column's values mapped to numbers and combined per row.

TorchEasyRec's ``combine_feature``. The ``expression`` column is read like an
IdFeature column (scalar, list, or a string split by ``separator``; nulls and
empty tokens add nothing). With ``value_map`` each value is looked up as text
(a value missing from the map adds nothing); without it each value must be a
number (else a DataError naming the column). A row's numbers are combined by
``combiner`` (``sum``, ``mean``, ``min``, ``max``). A row with none takes
``default_value`` (a number; the default "" means none: 0 when dense, an
empty bag when sparse). Then ``normalizer``; then ``num_buckets`` (the
integral value is the id; outside ``[0, num_buckets)`` the bag is empty),
``boundaries`` (bucket ids) or the dense ``[B, 1]`` value.

As a sequence feature (``sequence_combine_feature`` or a ``sequence_feature``
sub-feature) the column holds one value per position (split by
``sequence_delim``, truncated to ``sequence_length``); each position keeps
its place: a missing one takes ``default_value`` (0 when none), and with
``num_buckets`` a value outside the range is a DataError.
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from tzrec.features.feature import (
    SequenceSpec,
    is_text_or_list,
    row_ids,
    split_multi_value,
    to_float,
)
from tzrec.features.numeric import NumericFeature
from tzrec.utils.errors import ConfigError

COMBINERS = ("sum", "mean", "min", "max")


def combine_rows(
    rows: np.ndarray, values: np.ndarray, batch: int, how: str
) -> np.ndarray:
    """float32 [batch]: ``values`` combined per row by ``how``; NaN for no value."""
    count = np.bincount(rows, minlength=batch)
    out: np.ndarray
    if how in ("sum", "mean"):
        out = np.bincount(rows, weights=values, minlength=batch)
        if how == "mean":
            out = out / np.maximum(count, 1)
    else:
        out = np.full(batch, np.inf if how == "min" else -np.inf)
        (np.minimum if how == "min" else np.maximum).at(out, rows, values)
    return np.where(count > 0, out, np.nan).astype(np.float32)


class CombineFeature(NumericFeature):
    """Mapped (``value_map``) or numeric values of a column, combined per row."""

    def __init__(self, config, sequence: SequenceSpec | None = None) -> None:  # noqa: ANN001
        super().__init__(config, sequence)
        if config.combiner not in COMBINERS:
            raise ConfigError(
                f'bad combiner "{config.combiner}"',
                f"feature {self.name}.combiner",
                f"use one of {', '.join(COMBINERS)}",
            )
        items = sorted(config.value_map.items())
        self.map_keys = pa.array([k for k, _ in items], pa.string())
        self.map_values = np.array([v for _, v in items], np.float32)

    def _tokens(self, col: pa.Array) -> tuple[pa.Array, np.ndarray]:
        if is_text_or_list(col.type):
            return split_multi_value(col, self.config.separator)
        lengths = pc.is_valid(col).to_numpy(zero_copy_only=False).astype(np.int32)
        return pc.drop_null(col), lengths

    def token_values(self, tokens: pa.Array) -> np.ndarray:
        """float32 per token: its ``value_map`` number (NaN if unmapped) or itself."""
        if len(self.map_keys):
            idx = pc.index_in(tokens.cast(pa.string()), value_set=self.map_keys)
            idx = pc.fill_null(idx, -1).to_numpy(zero_copy_only=False)
            return np.where(idx >= 0, self.map_values[np.maximum(idx, 0)], np.nan)
        return to_float(tokens, self.where())

    def compute(self, columns: dict[str, pa.Array]) -> np.ndarray:
        """The combined value per row (NaN where the row has none)."""
        tokens, lengths = self._tokens(self.column(columns))
        values = self.token_values(tokens)
        rows = row_ids(lengths)
        ok = ~np.isnan(values)
        return combine_rows(rows[ok], values[ok], len(lengths), self.config.combiner)
