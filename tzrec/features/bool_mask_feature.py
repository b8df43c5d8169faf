"""BoolMaskFeature: the values of one column kept where a second column says so.

TorchEasyRec's ``bool_mask_feature`` (like ``tf.boolean_mask``):
``expression`` names the values column and the mask column. Both are read as
multi-value columns (lists, or strings split by ``separator``); a mask
element is true for ``true`` / ``1`` (any case) or a non-zero number, false
for ``false`` / ``0``. A row whose value and mask counts differ is a
DataError naming it. The kept values are a bag bucketized like an IdFeature
(``hash_bucket_size``, ``num_buckets``, ``vocab_list``, ``vocab_dict``,
``vocab_file``); an empty bag takes ``default_value`` when it is set (the
default "" means none). ``value_dim: 1`` keeps only the first kept value
(0, the default, keeps all; more is refused).
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from tzrec.features.bucketize import Bucketizer
from tzrec.features.feature import (
    BaseFeature,
    SequenceSpec,
    SparseValues,
    TableSpec,
    check_value_dim,
    drop_values,
    fill_empty,
    first_per_row,
    split_multi_value,
)
from tzrec.utils.errors import ConfigError, DataError

_TRUE = pa.array(["true", "1"])
_FALSE = pa.array(["false", "0"])


def mask_values(flags: pa.Array, where: str) -> np.ndarray:
    """Bool per mask element; a DataError for one that is not a boolean."""
    if pa.types.is_boolean(flags.type):
        return pc.fill_null(flags, False).to_numpy(zero_copy_only=False)
    if pa.types.is_integer(flags.type) or pa.types.is_floating(flags.type):
        return pc.fill_null(pc.not_equal(flags, 0), False).to_numpy(
            zero_copy_only=False
        )
    text = pc.utf8_lower(pc.utf8_trim_whitespace(flags.cast(pa.string())))
    yes = pc.is_in(text, value_set=_TRUE).to_numpy(zero_copy_only=False)
    no = pc.is_in(text, value_set=_FALSE).to_numpy(zero_copy_only=False)
    bad = ~(yes | no)
    if bad.any():
        raise DataError(
            f'mask value "{flags[int(np.flatnonzero(bad)[0])]}" is not a boolean',
            where,
            "write true/false or 1/0",
        )
    return yes


class BoolMaskFeature(BaseFeature):
    """Masked multi-value ids (see module doc)."""

    is_sparse = True

    def __init__(self, config, sequence: SequenceSpec | None = None) -> None:  # noqa: ANN001
        super().__init__(config, sequence)
        where = f"feature {self.name}"
        if len(config.expression) != 2:
            raise ConfigError(
                "bool_mask_feature needs 2 expression columns (values, mask)",
                f"{where}.expression",
                'e.g. expression: ["user:click_items", "item:is_valid"]',
            )
        self.value_dim = check_value_dim(config, where)
        self.bucketizer = Bucketizer(config, where)
        self.default_id = (
            self.bucketizer.token_id(config.default_value, where)
            if config.default_value
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

    def encode_sparse(self, columns: dict[str, pa.Array]) -> SparseValues:
        """The kept values' ids per row."""
        values_col, mask_col = self.inputs
        sep = self.config.separator
        tokens, lengths = split_multi_value(self.column(columns, values_col), sep)
        flags, flag_len = split_multi_value(self.column(columns, mask_col), sep)
        if not np.array_equal(lengths, flag_len):
            row = int(np.flatnonzero(lengths != flag_len)[0])
            raise DataError(
                f"row {row} of a batch has {lengths[row]} values and "
                f"{flag_len[row]} mask elements",
                self.where(f"{values_col}, {mask_col}"),
                "give every value one mask element",
            )
        keep = mask_values(flags, self.where(mask_col))
        tokens = pc.filter(tokens, pa.array(keep))
        lengths = drop_values(lengths, keep)
        ids, valid = self.bucketizer(tokens, self.where(values_col))
        if valid is not None:
            ids, lengths = ids[valid], drop_values(lengths, valid)
        sv = fill_empty(SparseValues(ids, lengths), self.default_id)
        return first_per_row(sv) if self.value_dim == 1 else sv
