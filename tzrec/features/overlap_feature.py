"""OverlapFeature: how much a query's terms overlap a title's.

TorchEasyRec's ``overlap_feature``. ``query`` and ``title`` name two term
columns (lists, or strings split by ``separator``; empty terms dropped).
``method``:

- ``query_common_ratio``: query terms found in the title / query terms.
- ``title_common_ratio``: title terms found in the query / title terms.
- ``is_contain``: 1 when the query's terms appear in the title as one
  contiguous run, in order; else 0.
- ``is_equal``: 1 when the two term lists are equal; else 0.

An empty query or title gives 0. TorchEasyRec's ``index_of`` and
``proximity_*`` methods are not supported yet (a ConfigError names them).
Then ``normalizer`` and ``boundaries`` / dense, as for a RawFeature.
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from tzrec.features.feature import SequenceSpec, row_ids, split_multi_value
from tzrec.features.hashing import hash_strings, mix64
from tzrec.features.numeric import NumericFeature
from tzrec.utils.errors import ConfigError

METHODS = ("query_common_ratio", "title_common_ratio", "is_contain", "is_equal")
_TOKEN_SPACE = 2**62


def _in_other(
    rows: np.ndarray, terms: np.ndarray, other_rows: np.ndarray, other: np.ndarray
) -> np.ndarray:
    """Per term, whether the same row of the other side holds it."""
    key = mix64(terms.view(np.uint64) ^ mix64(rows.astype(np.int64)))
    other_key = mix64(other.view(np.uint64) ^ mix64(other_rows.astype(np.int64)))
    # Arrow's hash set: numpy's sort-based isin took ~10x longer here.
    found = pc.is_in(pa.array(key), value_set=pa.array(other_key))
    return found.to_numpy(zero_copy_only=False)


class OverlapFeature(NumericFeature):
    """A term-overlap measure between two columns (see module doc)."""

    def __init__(self, config, sequence: SequenceSpec | None = None) -> None:  # noqa: ANN001
        super().__init__(config, sequence)
        if config.method not in METHODS:
            raise ConfigError(
                f'overlap method "{config.method}" is not supported yet'
                if config.method
                else "overlap_feature needs a method",
                f"feature {self.name}.method",
                f"use one of {', '.join(METHODS)}",
            )
        self.check_sequence()

    def input_expressions(self) -> list[str]:
        """The query and the title."""
        return [self.config.query, self.config.title]

    def _terms(
        self, columns: dict[str, pa.Array], name: str
    ) -> tuple[np.ndarray, np.ndarray]:
        tokens, lengths = split_multi_value(
            self.column(columns, name), self.config.separator
        )
        return hash_strings(tokens.cast(pa.string()), _TOKEN_SPACE), lengths

    def compute(self, columns: dict[str, pa.Array]) -> np.ndarray:
        """The overlap measure per row."""
        q, q_len = self._terms(columns, self.inputs[0])
        t, t_len = self._terms(columns, self.inputs[1])
        method = self.config.method
        if method.endswith("common_ratio"):
            a, a_len, b, b_len = (
                (q, q_len, t, t_len)
                if method.startswith("query")
                else (t, t_len, q, q_len)
            )
            hit = _in_other(row_ids(a_len), a, row_ids(b_len), b)
            found = np.bincount(row_ids(a_len), weights=hit, minlength=len(a_len))
            return (found / np.maximum(a_len, 1)).astype(np.float32)
        if method == "is_equal":
            same_len = q_len == t_len
            return (_runs_match(q, q_len, t, t_len, same_len) & same_len).astype(
                np.float32
            )
        return _contains(q, q_len, t, t_len).astype(np.float32)


def _runs_match(
    q: np.ndarray, q_len: np.ndarray, t: np.ndarray, t_len: np.ndarray, rows: np.ndarray
) -> np.ndarray:
    """Per row where ``rows`` holds: whether query and title terms are equal."""
    out = np.zeros(len(q_len), bool)
    q_start = np.cumsum(q_len) - q_len
    t_start = np.cumsum(t_len) - t_len
    idx = np.flatnonzero(rows & (q_len > 0))
    n = q_len[idx]
    pos = np.arange(int(n.sum())) - np.repeat(np.cumsum(n) - n, n)
    eq = q[np.repeat(q_start[idx], n) + pos] == t[np.repeat(t_start[idx], n) + pos]
    if len(idx):
        out[idx] = np.logical_and.reduceat(eq, np.cumsum(n) - n)
    return out


def _contains(
    q: np.ndarray, q_len: np.ndarray, t: np.ndarray, t_len: np.ndarray
) -> np.ndarray:
    """Per row: whether the query terms occur contiguously, in order, in the title."""
    q_start = np.cumsum(q_len) - q_len
    t_start = np.cumsum(t_len) - t_len
    offsets = np.where(q_len > 0, np.maximum(t_len - q_len + 1, 0), 0)
    # One candidate per (row, offset); each compares q_len terms.
    cand_row = row_ids(offsets)
    cand_off = np.arange(int(offsets.sum())) - np.repeat(
        np.cumsum(offsets) - offsets, offsets
    )
    width = q_len[cand_row]
    term = np.arange(int(width.sum())) - np.repeat(np.cumsum(width) - width, width)
    row_of_term = np.repeat(cand_row, width)
    eq = (
        q[q_start[row_of_term] + term]
        == t[t_start[row_of_term] + np.repeat(cand_off, width) + term]
    )
    out = np.zeros(len(q_len), bool)
    if len(cand_row):
        cand_ok = np.logical_and.reduceat(eq, np.cumsum(width) - width)
        np.logical_or.at(out, cand_row, cand_ok)
    return out
