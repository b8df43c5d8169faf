"""KvDotProduct: the dot product of two weighted key sets.

TorchEasyRec's ``kv_dot_product``. ``query`` and ``document`` name two
columns of ``key:weight`` pairs: a map column, a list of ``"k:v"`` strings,
or a string split by ``separator``. A key without ``:weight`` weighs 1, so
two plain key lists give the size of their intersection. Per row: the sum,
over query pairs, of the query weight times the document's weight for that
key (the first, when the document repeats a key); no common key gives 0.
Then ``normalizer`` and ``boundaries`` / dense, as for a RawFeature.
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from tzrec.features.feature import (
    SequenceSpec,
    row_ids,
    split_multi_value,
    to_float,
)
from tzrec.features.numeric import NumericFeature


class KvDotProduct(NumericFeature):
    """The weighted-key dot product of two columns (see module doc)."""

    def __init__(self, config, sequence: SequenceSpec | None = None) -> None:  # noqa: ANN001
        super().__init__(config, sequence)
        self.check_sequence()

    def input_expressions(self) -> list[str]:
        """The query and the document."""
        return [self.config.query, self.config.document]

    def _pairs(
        self, columns: dict[str, pa.Array], name: str
    ) -> tuple[pa.Array, np.ndarray, np.ndarray]:
        """Row-qualified keys, weights and rows of one side."""
        col = self.column(columns, name)
        if pa.types.is_map(col.type):
            offsets = np.asarray(col.offsets)
            start, n = int(offsets[0]), int(offsets[-1] - offsets[0])
            keys = col.keys.slice(start, n).cast(pa.string())
            weights = to_float(col.items.slice(start, n), self.where(name))
            lengths = np.diff(offsets)
        else:
            tokens, lengths = split_multi_value(col, self.config.separator)
            tokens = tokens.cast(pa.string())
            weighted = pc.match_substring(tokens, ":")
            tokens = pc.if_else(
                weighted, tokens, pc.binary_join_element_wise(tokens, "1", ":")
            )
            parts = pc.split_pattern(tokens, ":", max_splits=1, reverse=True)
            keys = pc.list_element(parts, 0)
            weights = to_float(pc.list_element(parts, 1), self.where(name))
        rows = row_ids(lengths)
        qualified = pc.binary_join_element_wise(
            pa.array(rows.astype(np.int64)).cast(pa.string()), keys, "\x1f"
        )
        return qualified, np.nan_to_num(weights, nan=0.0), rows

    def compute(self, columns: dict[str, pa.Array]) -> np.ndarray:
        """The dot product per row."""
        q_keys, q_w, q_rows = self._pairs(columns, self.inputs[0])
        d_keys, d_w, _ = self._pairs(columns, self.inputs[1])
        batch = len(self.column(columns, self.inputs[0]))
        idx = pc.fill_null(pc.index_in(q_keys, value_set=d_keys), -1)
        idx = idx.to_numpy(zero_copy_only=False)
        hit = idx >= 0
        prod = q_w[hit] * d_w[idx[hit]]
        return np.bincount(q_rows[hit], weights=prod, minlength=batch).astype(
            np.float32
        )
