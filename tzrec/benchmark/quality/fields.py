"""The rows every system of the quality benchmark trains on, as id fields.

Why: tzrec reads the Parquet files through its config; the reference and
FuxiCTR must see the same ids, so this module derives them from the same
config, independently of ``tzrec.features`` (numpy only): an ``id_feature``
with ``num_buckets`` keeps the id (a list column or a separated string gives
a multi-value field), a ``raw_feature`` with ``boundaries`` becomes its bucket
index (bucket i holds ``[b[i-1], b[i])``, null takes ``default_value``).

A missing or out-of-range id becomes the extra row ``vocab - 1``: the other
systems have no empty bag, so that row stands for "missing" and learns like
any other id.
"""

from __future__ import annotations

import dataclasses
import glob
import os

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from tzrec.utils.errors import ConfigError

PAD = -1  # pads multi-value rows in ``Field.ids``


@dataclasses.dataclass
class Field:
    """One feature as ids.

    Attributes:
        name: the feature name.
        vocab: rows of its table (ids lie in ``[0, vocab)``).
        ids: ``[rows]`` for a single-value field, ``[rows, max_len]`` padded
            with ``PAD`` for a multi-value one.
        pooling: ``"sum"`` or ``"mean"`` for multi-value fields.
    """

    name: str
    vocab: int
    ids: np.ndarray
    pooling: str = "sum"

    @property
    def multi(self) -> bool:
        """Whether the field holds several ids per row."""
        return self.ids.ndim == 2


@dataclasses.dataclass
class Rows:
    """Labels and fields of one split."""

    labels: np.ndarray
    fields: list[Field]

    def __len__(self) -> int:
        return len(self.labels)


def _paths(path: str) -> list[str]:
    out: list[str] = []
    for part in path.split(","):
        if os.path.isdir(part):
            out += sorted(glob.glob(os.path.join(part, "*.parquet")))
        else:
            out += sorted(glob.glob(part)) or [part]
    return out


def _read(path: str, columns: list[str]) -> pa.Table:
    tables = [pq.read_table(p, columns=columns) for p in _paths(path)]
    return pa.concat_tables(tables).combine_chunks()


def _id_field(column: pa.ChunkedArray, cfg, num_buckets: int) -> np.ndarray:
    """Ids in ``[0, num_buckets]`` (``num_buckets``: missing), padded if multi."""
    arr = column.combine_chunks() if isinstance(column, pa.ChunkedArray) else column
    if pa.types.is_string(arr.type) or pa.types.is_large_string(arr.type):
        arr = pc.split_pattern(pc.fill_null(arr, ""), cfg.separator or "\x1d")
    if pa.types.is_list(arr.type) or pa.types.is_large_list(arr.type):
        arr = pc.fill_null(arr, pa.scalar([], arr.type))
        lengths = pc.list_value_length(arr).to_numpy(zero_copy_only=False)
        flat = pc.list_flatten(arr)
        if pa.types.is_string(flat.type):
            flat = pc.cast(pc.if_else(pc.equal(flat, ""), None, flat), pa.int64())
        values = _clean(flat, num_buckets)
        keep = values < num_buckets  # drop empty and out-of-range entries
        row = np.repeat(np.arange(len(arr)), lengths)[keep]
        values = values[keep]
        counts = np.bincount(row, minlength=len(arr))
        width = max(1, int(counts.max(initial=0)))
        out = np.full((len(arr), width), PAD, dtype=np.int64)
        pos = np.arange(len(values)) - np.repeat(np.cumsum(counts) - counts, counts)
        out[row, pos] = values
        out[counts == 0, 0] = num_buckets
        return out
    return _clean(arr, num_buckets)


def _clean(values: pa.Array, num_buckets: int) -> np.ndarray:
    ids = pc.fill_null(pc.cast(values, pa.int64()), -1).to_numpy(zero_copy_only=False)
    bad = (ids < 0) | (ids >= num_buckets)
    return np.where(bad, num_buckets, ids).astype(np.int64)


def _raw_bucket(column: pa.ChunkedArray, cfg) -> np.ndarray:
    default = float(cfg.default_value or 0)
    x = pc.fill_null(pc.cast(column, pa.float64()), default).to_numpy()
    x = np.where(np.isnan(x), default, x)
    return np.searchsorted(np.asarray(cfg.boundaries), x, side="right")


def load_rows(config, split: str) -> Rows:
    """``split`` ("train" or "eval") of a DeepFM config as id fields."""
    path = config.train_input_path if split == "train" else config.eval_input_path
    specs = []
    for i, fc in enumerate(config.feature_configs):
        kind = fc.WhichOneof("feature")
        cfg = getattr(fc, kind)
        where = f"feature_configs[{i}].{kind}"
        if kind == "id_feature" and cfg.num_buckets:
            specs.append((cfg, "id", int(cfg.num_buckets) + 1))
        elif kind == "raw_feature" and len(cfg.boundaries):
            specs.append((cfg, "raw", len(cfg.boundaries) + 1))
        else:
            raise ConfigError(
                "the quality benchmark reads id_feature with num_buckets and "
                "raw_feature with boundaries only",
                where,
                "bucket the feature that way",
            )
    label = config.data_config.label_fields[0]
    columns = [label] + [
        c.expression.split(":")[-1] or c.feature_name for c, _, _ in specs
    ]
    table = _read(path, list(dict.fromkeys(columns)))
    fields = []
    for (cfg, kind, vocab), col in zip(specs, columns[1:], strict=True):
        if kind == "id":
            ids = _id_field(table[col], cfg, vocab - 1)
            pooling = cfg.pooling or "sum"
        else:
            ids, pooling = _raw_bucket(table[col], cfg), "sum"
        fields.append(Field(cfg.feature_name, vocab, ids, pooling))
    labels = table[label].to_numpy().astype(np.float32)
    return Rows(labels, fields)
