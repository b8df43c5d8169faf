r"""MatchFeature: values in a nested (two-level) map, by primary and secondary key.

TorchEasyRec's ``match_feature``. ``nested_map`` names a string column such
as ``"pk1^sk1:0.2,sk2:0.3|pk2^sk4:0.1"`` (``|`` between primary entries,
``^`` after the primary key, ``,`` between secondary pairs, ``:`` inside a
pair; the separators are fixed). ``pkey`` and ``skey`` name the key columns
(scalar, list, or a string split by ``separator``), or are ``ALL`` to match
every primary / secondary key. Keys match as text.

Continuous (default): the row's matched values are numbers, summed; a row
without a match takes ``default_value``; then ``normalizer``, then
``boundaries`` (bucket ids) or the dense ``[B, 1]`` value.

Discrete (``need_discrete``, ``show_pkey``, ``show_skey``, or a bucketing
field set): each matched
value is a token (prefixed by ``pkey_`` / ``skey_`` when shown: ``pk_sk_v``),
one bag per row, bucketized like an IdFeature (``hash_bucket_size``,
``num_buckets``, ``vocab_list``, ``vocab_dict`` or ``vocab_file``); an empty
bag takes ``default_value`` when it is set; ``value_dim: 1`` keeps only the
first matched token (0, the default, keeps all; more is refused).
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from tzrec.features.bucketize import Bucketizer
from tzrec.features.feature import (
    SequenceSpec,
    SparseValues,
    TableSpec,
    check_value_dim,
    drop_values,
    fill_empty,
    first_per_row,
    is_text_or_list,
    row_ids,
    split_multi_value,
    to_float,
)
from tzrec.features.numeric import NumericFeature
from tzrec.utils.errors import ConfigError, DataError

ALL = "ALL"


class MatchFeature(NumericFeature):
    """A nested-map lookup by primary and secondary key (see module doc)."""

    def __init__(self, config, sequence: SequenceSpec | None = None) -> None:  # noqa: ANN001
        super().__init__(config, sequence)
        where = f"feature {self.name}"
        self.bucketizer: Bucketizer | None = None
        self.default_id: int | None = None
        self.value_dim = check_value_dim(config, where)
        if self.discrete and sequence is not None:
            raise ConfigError(
                "a discrete match feature in a sequence is not supported yet "
                "(several ids per position)",
                where,
                "use a continuous match (numbers, boundaries)",
            )
        self.check_sequence()
        if self.discrete:
            self.bucketizer = Bucketizer(config, where)
            if config.HasField("default_value"):
                self.default_id = self.bucketizer.token_id(config.default_value, where)

    @staticmethod
    def _is_discrete(config) -> bool:  # noqa: ANN001
        """Tokens when asked for, or when a bucketing field is set."""
        bucketed = config.hash_bucket_size or config.num_buckets
        bucketed = bucketed or len(config.vocab_list) or len(config.vocab_dict)
        return bool(
            config.need_discrete
            or config.show_pkey
            or config.show_skey
            or bucketed
            or config.vocab_file
        )

    @staticmethod
    def _default(config, where: str) -> float | None:  # noqa: ANN001
        if MatchFeature._is_discrete(config):
            return None
        return NumericFeature._default(config, where)

    def input_expressions(self) -> list[str]:
        """The nested map, then the keys that are not ``ALL``."""
        keys = [k for k in (self.config.pkey, self.config.skey) if k != ALL]
        return [self.config.nested_map, *keys]

    @property
    def table(self) -> TableSpec | None:
        """The embedding table (None when dense)."""
        if self.bucketizer is None:
            return super().table
        return self.embedding_table(self.bucketizer.size)

    def _entries(self, col: pa.Array) -> pa.Table:
        """(row, pkey, skey, value) of every pair of the nested maps."""
        outer, outer_len = split_multi_value(col, "|")
        prim = pc.split_pattern(outer.cast(pa.string()), "^", max_splits=1)
        bad = pc.not_equal(pc.list_value_length(prim), 2).to_numpy(zero_copy_only=False)
        if bad.any():
            raise DataError(
                f'nested map entry "{outer[int(np.flatnonzero(bad)[0])]}" has no "^"',
                self.where(self.inputs[0]),
                'write "pk1^sk1:v1,sk2:v2|pk2^sk3:v3"',
            )
        pkeys = pc.list_element(prim, 0)
        inner, inner_len = split_multi_value(pc.list_element(prim, 1), ",")
        pairs = pc.split_pattern(inner, ":", max_splits=1, reverse=True)
        bad = pc.not_equal(pc.list_value_length(pairs), 2).to_numpy(
            zero_copy_only=False
        )
        if bad.any():
            pair = inner[int(np.flatnonzero(bad)[0])]
            raise DataError(
                f'nested map pair "{pair}" is not key:value',
                self.where(self.inputs[0]),
                'write "pk1^sk1:v1,sk2:v2|pk2^sk3:v3"',
            )
        outer_row = row_ids(outer_len)
        inner_of = row_ids(inner_len)
        return pa.table(
            {
                "row": pa.array(outer_row[inner_of].astype(np.int64)),
                "pk": pc.take(pkeys, pa.array(inner_of)),
                "sk": pc.list_element(pairs, 0),
                "value": pc.list_element(pairs, 1),
                "pos": pa.array(np.arange(len(inner_of), dtype=np.int64)),
            }
        )

    def _keys(self, columns: dict[str, pa.Array], name: str) -> pa.Table:
        col = self.column(columns, name)
        if is_text_or_list(col.type):
            tokens, lengths = split_multi_value(col, self.config.separator)
        else:
            lengths = pc.is_valid(col).to_numpy(zero_copy_only=False).astype(np.int32)
            tokens = pc.drop_null(col)
        return pa.table(
            {
                "row": pa.array(row_ids(lengths).astype(np.int64)),
                "key": tokens.cast(pa.string()),
            }
        )

    def matches(self, columns: dict[str, pa.Array]) -> tuple[pa.Table, int]:
        """The matched pairs (row, pk, sk, value), in map order, and the batch size."""
        names = self.inputs
        entries = self._entries(self.column(columns, names[0]))
        batch = len(self.column(columns, names[0]))
        i = 1
        for key, field in ((self.config.pkey, "pk"), (self.config.skey, "sk")):
            if key == ALL:
                continue
            keys = self._keys(columns, names[i]).group_by(["row", "key"]).aggregate([])
            i += 1
            entries = entries.join(
                keys, keys=["row", field], right_keys=["row", "key"], join_type="inner"
            )
        return entries.sort_by("pos"), batch

    def compute(self, columns: dict[str, pa.Array]) -> np.ndarray:
        """The sum of the matched values per row (NaN without a match)."""
        found, batch = self.matches(columns)
        rows = found["row"].to_numpy()
        values = to_float(found["value"].combine_chunks(), self.where(self.inputs[0]))
        ok = ~np.isnan(values)
        count = np.bincount(rows[ok], minlength=batch)
        total = np.bincount(rows[ok], weights=values[ok], minlength=batch)
        return np.where(count > 0, total, np.nan).astype(np.float32)

    def encode_sparse(self, columns: dict[str, pa.Array]) -> SparseValues:
        """Bucket ids: of the summed value, or of each matched token."""
        if self.bucketizer is None:
            return super().encode_sparse(columns)
        found, batch = self.matches(columns)
        tokens = found["value"].combine_chunks().cast(pa.string())
        if self.config.show_skey:
            tokens = pc.binary_join_element_wise(
                found["sk"].combine_chunks(), tokens, "_"
            )
        if self.config.show_pkey:
            tokens = pc.binary_join_element_wise(
                found["pk"].combine_chunks(), tokens, "_"
            )
        rows = found["row"].to_numpy()
        lengths = np.bincount(rows, minlength=batch).astype(np.int32)
        ids, valid = self.bucketizer(tokens, self.where(self.inputs[0]))
        if valid is not None:
            ids, lengths = ids[valid], drop_values(lengths, valid)
        sv = fill_empty(SparseValues(ids, lengths), self.default_id)
        return first_per_row(sv) if self.value_dim == 1 else sv
