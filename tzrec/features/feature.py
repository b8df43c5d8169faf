"""Feature base class: a column (or columns) turned into model input.

A feature knows the columns it reads, whether it feeds an embedding table
(sparse) or goes straight to the MLP (dense), and how to encode a whole
pyarrow batch at once: no Python loop over rows.

Column names: ``expression`` when set, else the feature name. A TorchEasyRec
side prefix (``user:``, ``item:``, ``context:``) is dropped, so
``expression: "user:uid"`` reads the column ``uid``. Sub-features of a
``sequence_feature`` read ``{sequence_name}__{column}``.
"""

from __future__ import annotations

import copy
import dataclasses

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from tzrec.features.dense_emb import DenseEmbSpec
from tzrec.utils.errors import ConfigError, DataError

_SIDES = ("user:", "item:", "context:")
# Joins a feature name and a group's embedding_name_suffix into the key the
# suffixed copy has in the batch (the batch encodes it as the feature itself).
SUFFIX_SEP = "@"


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
        data_type: storage type of the weights, ``FP32`` or ``FP16``.

    """

    name: str
    num_embeddings: int
    embedding_dim: int
    pooling: str = "sum"
    init_fn: str = ""
    trainable: bool = True
    data_type: str = "FP32"


@dataclasses.dataclass(frozen=True)
class SequenceSpec:
    """Where a sequence feature's positions come from.

    Attributes:
        name: the sequence (``sequence_name``, or the feature's own name for a
            standalone ``sequence_id_feature`` / ``sequence_raw_feature``);
            features of one sequence must have equal lengths per row.
        length: most positions kept per row (``sequence_length``).
        delim: separator of positions in a string column.
        prefix: column and name prefix (``{sequence_name}__`` for sub-features).

    """

    name: str
    length: int
    delim: str = ";"
    prefix: str = ""


def column_of(expression: str, default: str, where: str) -> str:
    """The column an expression names (side prefix dropped)."""
    expr = expression or default
    for side in _SIDES:
        if expr.startswith(side):
            return expr[len(side) :]
    if expr.startswith(("feature:", "const:")):
        raise ConfigError(
            f'expression "{expr}" is not supported yet',
            where,
            "read a data column (user:, item: or context: side, or no prefix)",
        )
    return expr


class BaseFeature:
    """A configured input feature.

    Args:
        config: the feature's proto sub-message (IdFeature, RawFeature, ...).
        sequence: set for sequence features (one value per position).

    """

    is_sparse: bool = True
    is_weighted: bool = False

    def __init__(self, config, sequence: SequenceSpec | None = None) -> None:
        self.config = config
        self.sequence = sequence
        prefix = sequence.prefix if sequence else ""
        self.name: str = prefix + config.feature_name
        self.table_suffix = ""

    @property
    def is_sequence(self) -> bool:
        """Whether the feature has one value per position of a sequence."""
        return self.sequence is not None

    def sequence_spec(self) -> SequenceSpec:
        """The sequence of a sequence feature (its encoders call this)."""
        if self.sequence is None:
            raise TypeError(f"feature {self.name} is not a sequence feature")
        return self.sequence

    @property
    def inputs(self) -> list[str]:
        """Column names this feature reads (``expression`` or the feature name)."""
        prefix = self.sequence.prefix if self.sequence else ""
        where = f"feature {self.name}"
        expr = getattr(self.config, "expression", "")
        if isinstance(expr, str):
            return [prefix + column_of(expr, self.config.feature_name, where)]
        names = [column_of(e, "", where) for e in expr]
        return names or [self.config.feature_name]

    @property
    def output_dim(self) -> int:
        """Width this feature contributes to a feature group."""
        raise NotImplementedError

    @property
    def table(self) -> TableSpec | None:
        """The embedding table, or None for a dense feature."""
        return None

    def embedding_table(self, num_embeddings: int) -> TableSpec:
        """The feature's table of ``num_embeddings`` rows, from its config.

        Every sparse feature type reads the same table fields
        (``embedding_dim``, ``pooling``, ``init_fn``, ``trainable``,
        ``data_type``); only the row count differs by type.
        """
        c = self.config
        return TableSpec(
            name=self.table_name(),
            num_embeddings=num_embeddings,
            embedding_dim=int(c.embedding_dim),
            pooling=c.pooling or "sum",
            init_fn=c.init_fn,
            trainable=c.trainable,
            data_type=c.data_type,
        )

    def sparse_table(self) -> TableSpec:
        """The table of a feature known to be sparse (an error otherwise)."""
        table = self.table
        if table is None:
            raise TypeError(f"feature {self.name} has no embedding table")
        return table

    @property
    def dense_embedding(self) -> DenseEmbSpec | None:
        """How the model embeds this dense feature (autodis / mlp), or None."""
        return None

    def table_name(self) -> str:
        """``embedding_name`` (else the feature name), plus a group's suffix."""
        base = self.config.embedding_name or base_feature_name(self.name)
        return base + self.table_suffix

    def with_table_suffix(self, suffix: str) -> BaseFeature:
        """A copy looking up its own table, ``table_name() + suffix``.

        The copy's name is ``name@suffix``; the batch encodes it from the same
        columns (``base_feature_name`` maps the key back).
        """
        twin = copy.copy(self)
        twin.name = f"{self.name}{SUFFIX_SEP}{suffix}"
        twin.table_suffix = self.table_suffix + suffix
        return twin

    def encode_sparse(self, columns: dict[str, pa.Array]) -> SparseValues:
        """Encodes a batch of this feature's columns to ids."""
        raise NotImplementedError

    def encode_dense(self, columns: dict[str, pa.Array]) -> np.ndarray:
        """Encodes a batch to float32 [B, output_dim] ([B, L, dim] for sequences)."""
        raise NotImplementedError

    def encode_sequence_dense(
        self, columns: dict[str, pa.Array]
    ) -> tuple[np.ndarray, np.ndarray]:
        """A dense sequence: float32 [B, L, dim] and the lengths [B]."""
        raise NotImplementedError

    def column(self, columns: dict[str, pa.Array], name: str | None = None) -> pa.Array:
        """One input column (the first by default), or a DataError naming it."""
        name = name or self.inputs[0]
        try:
            col = columns[name]
        except KeyError:
            raise DataError(
                f'missing column "{name}"',
                f"feature {self.name}",
                "add the column to the data or fix the feature's expression",
            ) from None
        return plain_column(col)

    def where(self, column: str | None = None) -> str:
        """``column "x", feature f`` for error messages."""
        return f'column "{column or self.inputs[0]}", feature {self.name}'


def base_feature_name(key: str) -> str:
    """The feature a batch key encodes (``name@suffix`` -> ``name``)."""
    return key.split(SUFFIX_SEP, 1)[0]


def plain_column(col: pa.Array | pa.ChunkedArray) -> pa.Array:
    """One array with dictionary encoding undone; an all-null column as text.

    Dictionary chunks may carry different dictionaries, so they are decoded
    before the chunks are joined. A column of type null (every value missing,
    e.g. an empty CSV column) becomes null strings, which every feature reads
    as missing and fills with its default.
    """
    if pa.types.is_dictionary(col.type):
        col = pc.cast(col, col.type.value_type)
    if isinstance(col, pa.ChunkedArray):
        col = col.combine_chunks()
    if pa.types.is_null(col.type):
        col = pa.nulls(len(col), pa.string())
    return col


def is_text_or_list(t: pa.DataType) -> bool:
    """String or list column types (multi-value capable)."""
    return (
        pa.types.is_string(t)
        or pa.types.is_large_string(t)
        or pa.types.is_list(t)
        or pa.types.is_large_list(t)
    )


def row_ids(lengths: np.ndarray) -> np.ndarray:
    """The row of each flat value, for per-row bag ``lengths``."""
    return np.repeat(np.arange(len(lengths)), lengths)


def split_multi_value(col: pa.Array, separator: str) -> tuple[pa.Array, np.ndarray]:
    """Splits a string column by ``separator`` into flat tokens and lengths.

    Nulls and empty strings give empty bags; empty tokens (doubled separators)
    are dropped. List-typed columns are flattened as they are.
    """
    if pa.types.is_list(col.type) or pa.types.is_large_list(col.type):
        lengths = pc.fill_null(pc.list_value_length(col), 0).to_numpy()
        flat = pc.list_flatten(col)
        lengths = lengths.astype(np.int32)
        if flat.null_count:  # null elements add nothing, like empty tokens
            keep = pc.is_valid(flat).to_numpy(zero_copy_only=False)
            flat, lengths = pc.filter(flat, pa.array(keep)), drop_values(lengths, keep)
        return flat, lengths
    if not (pa.types.is_string(col.type) or pa.types.is_large_string(col.type)):
        col = col.cast(pa.string())
    parts = pc.split_pattern(col, separator)
    flat = pc.list_flatten(parts)
    lengths = pc.fill_null(pc.list_value_length(parts), 0).to_numpy().astype(np.int32)
    empty = pc.equal(flat, "")
    if pc.any(empty).as_py():
        keep = pc.invert(empty).to_numpy(zero_copy_only=False)
        flat = pc.filter(flat, pa.array(keep))
        lengths = drop_values(lengths, keep)
    return flat, lengths


def split_sequence(
    col: pa.Array, delim: str, max_length: int
) -> tuple[pa.Array, np.ndarray]:
    """Splits a sequence column into flat position tokens and lengths.

    Positions keep their place (an empty token between two delimiters stays,
    so sub-sequences stay aligned); a null or empty cell is an empty sequence.
    Sequences are most-recent-first, as TorchEasyRec data has them: the first
    ``max_length`` positions are kept and the (oldest) rest dropped.
    """
    if pa.types.is_list(col.type) or pa.types.is_large_list(col.type):
        lengths = pc.fill_null(pc.list_value_length(col), 0).to_numpy()
        flat = pc.list_flatten(col)
    else:
        if not (pa.types.is_string(col.type) or pa.types.is_large_string(col.type)):
            col = col.cast(pa.string())
        col = pc.if_else(pc.equal(col, ""), pa.scalar(None, col.type), col)
        parts = pc.split_pattern(col, delim)
        lengths = pc.fill_null(pc.list_value_length(parts), 0).to_numpy()
        flat = pc.list_flatten(parts)
    lengths = lengths.astype(np.int32)
    if max_length and (lengths > max_length).any():
        starts = np.cumsum(lengths) - lengths
        pos = np.arange(int(lengths.sum())) - np.repeat(starts, lengths)
        flat = pc.filter(flat, pa.array(pos < max_length))
        lengths = np.minimum(lengths, max_length).astype(np.int32)
    return flat, lengths


def drop_values(lengths: np.ndarray, keep: np.ndarray) -> np.ndarray:
    """Bag lengths after removing the flat values where ``keep`` is False."""
    dropped = np.bincount(row_ids(lengths)[~keep], minlength=len(lengths))
    return (lengths - dropped).astype(np.int32)


def fill_empty(sv: SparseValues, default_id: int | None) -> SparseValues:
    """Gives every empty bag the single id ``default_id`` (weight 1)."""
    if default_id is None:
        return sv
    empty = np.flatnonzero(sv.lengths == 0)
    if not len(empty):
        return sv
    starts = (np.cumsum(sv.lengths) - sv.lengths)[empty]
    values = np.insert(sv.values, starts, default_id)
    weights = None if sv.weights is None else np.insert(sv.weights, starts, 1.0)
    lengths = sv.lengths.copy()
    lengths[empty] = 1
    return SparseValues(values.astype(np.int64), lengths, weights)


def first_per_row(sv: SparseValues) -> SparseValues:
    """Each bag cut to its first value (TorchEasyRec's ``value_dim: 1``)."""
    if not (sv.lengths > 1).any():
        return sv
    starts = np.cumsum(sv.lengths) - sv.lengths
    keep = np.arange(len(sv.values)) == np.repeat(starts, sv.lengths)
    weights = None if sv.weights is None else sv.weights[keep]
    return SparseValues(sv.values[keep], np.minimum(sv.lengths, 1), weights)


def check_value_dim(config, where: str) -> int:  # noqa: ANN001
    """``value_dim`` 0 (a bag of values) or 1 (one value); others refused."""
    dim = int(config.value_dim)
    if dim > 1:
        raise ConfigError(
            f"value_dim {dim} is not supported yet",
            f"{where}.value_dim",
            "use 0 (every value) or 1 (the first)",
        )
    return dim


def to_float(tokens: pa.Array, where: str) -> np.ndarray:
    """float32 numpy of a numeric or text array; a DataError on bad text.

    Integers of any width go through float64 with rounding allowed: a count
    above 2**24 (or 2**53) is a valid value that float32 holds approximately.
    """
    if pa.types.is_integer(tokens.type):
        wide = pc.cast(tokens, pa.float64(), safe=False)
        return wide.to_numpy(zero_copy_only=False).astype(np.float32)
    try:
        out = pc.cast(tokens, pa.float32())
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError) as e:
        raise DataError(
            f"unparseable number: {str(e)[:100]}",
            where,
            "fix the value or set the column type in input_fields",
        ) from None
    return out.to_numpy(zero_copy_only=False).astype(np.float32)
