r"""Bundled synthetic Criteo-like CTR data with a known ground truth.

Why: examples, tests and benchmarks need realistic data that ships with the
code and whose best reachable AUC is known, so a model's eval AUC can be read
against the ``oracle_auc`` written in ``meta.json``.

Columns:
    ``label`` (click, 0/1) and ``conversion`` (0/1, only ever 1 where
    ``label`` is 1); ``int_0``..``int_12``: heavy-tailed counts, 5-40% null
    (``int_ranges="criteo"``: Criteo-like ranges, ``int_4`` reaching tens of
    millions);
    ``cat_0``..``cat_25``: Zipf-distributed ids, some null; ``user_id``,
    ``item_id``; ``item_history``: up to 20 item ids joined by ``;`` (may be
    empty); ``price``: float; ``tags``: 0-5 tag ids joined by ``\x1d``.

Ids of a column lie in ``[0, cardinality)`` (``meta.json`` ``cardinalities``),
so a config uses ``num_buckets = cardinality``; an id ``>= num_buckets`` would
be out of range.

Ground truth (synthetic_truth.py): ``logit = bias + scale * f(row)`` where
``f`` sums random effects of category values (shrunk for rare values, so most
of the signal is learnable from ~1M rows), smooth functions of ``log1p`` of
counts, user and item effects, rank-4 latent dot products for 8 pairs of
``cat_*`` columns and for user x item, whether the item's category occurs in
the history, and price. Missing values have their own effects. ``bias`` and
``scale`` are fitted so the click rate is about 25% and the oracle AUC about
0.80 for any seed. Train and eval rows share one distribution.

``oracle_auc`` in the meta is the AUC of the true click probabilities on the
eval rows; ``oracle_auc_conversion`` is the AUC of the true
P(click and conversion) against ``conversion`` on all eval rows.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

from tzrec.datasets.synthetic_truth import (
    CAT_COLUMNS,
    CRITEO_CARDINALITIES,
    INT_COLUMNS,
    INT_RANGES,
    NUM_ITEMS,
    NUM_TAGS,
    NUM_USERS,
    Rows,
    Truth,
    draw_rows,
    draw_truth,
    probabilities,
)
from tzrec.run_dir.atomic import atomic_write, replace_durably, temp_sibling
from tzrec.utils.errors import ConfigError, DataError

__all__ = [
    "CAT_COLUMNS",
    "CRITEO_CARDINALITIES",
    "INT_COLUMNS",
    "INT_RANGES",
    "LABEL_COLUMNS",
    "SCHEMA",
    "existing_meta",
    "generate",
    "oracle_auc",
]

logger = logging.getLogger(__name__)

GENERATOR_VERSION = 1
LABEL_COLUMNS: tuple[str, ...] = ("label", "conversion")
HISTORY_SEP, TAG_SEP = ";", "\x1d"
FORMATS = ("parquet", "csv")
CHUNK_ROWS = 1 << 18  # rows drawn at once; bounds memory
SCHEMA = pa.schema(
    [(n, pa.int64()) for n in LABEL_COLUMNS + INT_COLUMNS + CAT_COLUMNS]
    + [("user_id", pa.int64()), ("item_id", pa.int64())]
    + [("item_history", pa.string()), ("price", pa.float64()), ("tags", pa.string())]
)
_TRAIN, _EVAL = 1, 2  # seed stream ids of the splits


def oracle_auc(probs: np.ndarray, labels: np.ndarray) -> float:
    """Exact ROC AUC of ``probs`` against 0/1 ``labels``; a tie counts one half.

    Args:
        probs: scores, higher meaning more likely positive.
        labels: 0/1 (or bool) labels, same length.

    Returns:
        The AUC, or NaN when the labels hold only one class.
    """
    probs = np.asarray(probs, dtype=np.float64)
    labels = np.asarray(labels).astype(bool)
    n_pos = int(labels.sum())
    n_neg = len(labels) - n_pos
    if n_pos == 0 or n_neg == 0:
        return float("nan")
    _, inverse, counts = np.unique(probs, return_inverse=True, return_counts=True)
    avg_rank = np.cumsum(counts) - (counts - 1) / 2.0  # 1-based mean rank per tie
    rank_sum = float(avg_rank[inverse][labels].sum())
    return (rank_sum - n_pos * (n_pos + 1) / 2.0) / (n_pos * n_neg)


def _join(values: np.ndarray, lengths: np.ndarray, sep: str) -> pa.Array:
    """Joins the first ``lengths[i]`` entries of row ``i`` of ``values`` by ``sep``."""
    valid = np.arange(values.shape[1]) < lengths[:, None]
    tokens = pa.array(values[valid]).cast(pa.string())
    offsets = np.zeros(len(lengths) + 1, np.int32)
    np.cumsum(lengths, out=offsets[1:])
    return pc.binary_join(pa.ListArray.from_arrays(pa.array(offsets), tokens), sep)


def _to_table(t: Truth, rows: Rows, label: np.ndarray, conv: np.ndarray) -> pa.Table:
    cols = {"label": pa.array(label), "conversion": pa.array(conv)}
    for name, x, null in zip(INT_COLUMNS, rows.ints, rows.int_null):
        cols[name] = pa.array(x, mask=null)
    for name, z, perm, r in zip(CAT_COLUMNS, t.cats, t.cat_perm, rows.cat_rank):
        cols[name] = pa.array(perm[np.minimum(r, z.n - 1)], mask=r == z.n)
    cols["user_id"] = pa.array(t.user_perm[rows.user])
    cols["item_id"] = pa.array(t.item_perm[rows.item])
    cols["item_history"] = _join(t.item_perm[rows.hist], rows.hist_len, HISTORY_SEP)
    cols["price"] = pa.array(rows.price)
    cols["tags"] = _join(t.item_tags[rows.item], t.item_ntags[rows.item], TAG_SEP)
    return pa.table(cols, schema=SCHEMA)


def _chunks(t: Truth, seed: int, split: int, index: int, rows: int, stats: list):
    """Yields the tables of one file and appends (p_click, click, p_conv, conv).

    Each chunk draws from its own stream, so the data depends only on the seed
    and the file layout.
    """
    for c, start in enumerate(range(0, rows, CHUNK_ROWS)):
        n = min(CHUNK_ROWS, rows - start)
        rng = np.random.default_rng([seed, split, index, c])
        r = draw_rows(t, rng, n)
        p, q = probabilities(t, r)
        label = rng.random(n) < p
        conv = label & (rng.random(n) < q)
        stats.append((p, label, p * q, conv))
        yield _to_table(t, r, label.astype(np.int64), conv.astype(np.int64))


def _write_file(path: Path, fmt: str, tables: Iterator[pa.Table]) -> None:
    """Writes to a hidden temporary sibling, then renames it into place."""
    tmp = temp_sibling(str(path))
    if fmt == "parquet":
        writer = pq.ParquetWriter(tmp, SCHEMA)
    else:
        writer = pacsv.CSVWriter(tmp, SCHEMA)
    with writer:
        for table in tables:
            writer.write_table(table)
    replace_durably(tmp, str(path))


def _write_train(t: Truth, out: Path, seed: int, rows: int, files: int, fmt: str):
    """Writes the train files; returns the numbers of clicks and conversions."""
    clicks = conversions = 0
    for i in range(files):
        n = rows // files + (i < rows % files)  # sizes differ by at most one
        stats: list = []
        path = out / f"train/part-{i:05d}.{fmt}"
        _write_file(path, fmt, _chunks(t, seed, _TRAIN, i, n, stats))
        clicks += sum(int(s[1].sum()) for s in stats)
        conversions += sum(int(s[3].sum()) for s in stats)
    return clicks, conversions


def _check_args(num_rows, num_eval_rows, seed, num_files, fmt, int_ranges) -> dict:
    """The arguments as they go into the meta; raises ConfigError if bad."""
    args = {"num_rows": num_rows, "num_eval_rows": num_eval_rows, "seed": seed,
            "num_files": num_files, "format": fmt}  # fmt: skip
    for name, value in args.items():
        if name == "format":
            continue
        low = 0 if name == "seed" else 1
        if isinstance(value, bool) or not isinstance(value, int | np.integer):
            raise ConfigError(f"bad value {value!r}", f"--{name}", "pass an integer")
        if value < low:
            fix = f"pass an integer >= {low}"
            raise ConfigError(f"bad value {value!r}", f"--{name}", fix)
        args[name] = int(value)
    if fmt not in FORMATS:
        fix = f"use one of {', '.join(FORMATS)}"
        raise ConfigError(f"unknown format {fmt!r}", "--format", fix)
    if num_files > num_rows:
        fix = "use at most one train file per row"
        raise ConfigError(f"{num_files} files for {num_rows} rows", "--num_files", fix)
    if int_ranges not in INT_RANGES:
        fix = f"use one of {', '.join(INT_RANGES)}"
        raise ConfigError(f"unknown int_ranges {int_ranges!r}", "--int_ranges", fix)
    if int_ranges != "small":  # absent for "small": earlier data stays valid
        args["int_ranges"] = int_ranges
    return {**args, "generator_version": GENERATOR_VERSION}


def existing_meta(
    output_dir: str,
    num_rows: int,
    num_eval_rows: int,
    seed: int = 2026,
    num_files: int = 4,
    fmt: str = "parquet",
    int_ranges: str = "small",
) -> dict | None:
    """The meta of complete data in ``output_dir`` made with these arguments.

    Returns:
        The meta, or None when the folder lacks such data.
    """
    args = _check_args(num_rows, num_eval_rows, seed, num_files, fmt, int_ranges)
    try:
        meta = json.loads((Path(output_dir) / "meta.json").read_text())
    except (OSError, ValueError):
        return None
    if not isinstance(meta, dict) or any(meta.get(k) != v for k, v in args.items()):
        return None
    if meta.get("int_ranges", "small") != int_ranges:
        return None
    files = meta.get("train_files", []) + meta.get("eval_files", [])
    return meta if all((Path(output_dir) / f).is_file() for f in files) else None


def _clear(out: Path) -> None:
    """Removes what earlier runs wrote; meta first, so stale data never looks done."""
    (out / "meta.json").unlink(missing_ok=True)
    for pattern in ("part-*.parquet", "part-*.csv", ".part-*.tmp*"):
        for old in [*out.glob(f"train/{pattern}"), *out.glob(f"eval/{pattern}")]:
            old.unlink()
    for old in out.glob(".meta.json.tmp*"):
        old.unlink()


def generate(
    output_dir: str,
    num_rows: int,
    num_eval_rows: int,
    seed: int = 2026,
    num_files: int = 4,
    fmt: str = "parquet",
    int_ranges: str = "small",
) -> dict:
    """Writes ``train/part-*``, ``eval/part-00000`` and ``meta.json``.

    Does nothing when ``output_dir`` already holds data made with the same
    arguments. A file appears under its final name only once complete, and
    ``meta.json`` only once all files are.

    Args:
        output_dir: folder to write into; created if missing.
        num_rows: number of train rows, split evenly over ``num_files`` files.
        num_eval_rows: number of eval rows, in one file.
        seed: seeds both the ground truth and the rows.
        num_files: number of train files.
        fmt: ``"parquet"``, or ``"csv"`` (comma-delimited, with a header).
        int_ranges: ``"small"``, or ``"criteo"`` for count columns with
            Criteo-like long tails (up to tens of millions).

    Returns:
        The meta written to ``meta.json``.

    Raises:
        ConfigError: an argument is out of range.
        DataError: ``output_dir`` exists and is not a folder.
    """
    args = _check_args(num_rows, num_eval_rows, seed, num_files, fmt, int_ranges)
    out = Path(output_dir)
    if out.exists() and not out.is_dir():
        raise DataError("not a folder", str(out), "pass a folder for --output_dir")
    found = existing_meta(
        output_dir, num_rows, num_eval_rows, seed, num_files, fmt, int_ranges
    )
    if found is not None:
        logger.info("%s already holds this data; not regenerating", out)
        return found
    for split in ("train", "eval"):
        (out / split).mkdir(parents=True, exist_ok=True)
    _clear(out)
    t = draw_truth(seed, int_ranges)
    clicks, conversions = _write_train(t, out, seed, num_rows, num_files, fmt)
    stats: list = []
    path = out / f"eval/part-00000.{fmt}"
    _write_file(path, fmt, _chunks(t, seed, _EVAL, 0, num_eval_rows, stats))
    p, y, p_conv, y_conv = (np.concatenate(s) for s in zip(*stats))
    meta = {
        **args,
        "columns": {f.name: str(f.type) for f in SCHEMA},
        "cardinalities": {
            **dict(zip(CAT_COLUMNS, CRITEO_CARDINALITIES)),
            "user_id": NUM_USERS,
            "item_id": NUM_ITEMS,
            "item_history": NUM_ITEMS,
            "tags": NUM_TAGS,
        },
        "separators": {"item_history": HISTORY_SEP, "tags": TAG_SEP},
        "label_columns": list(LABEL_COLUMNS),
        "positive_rate": clicks / num_rows,
        "conversion_rate": conversions / num_rows,
        "eval_positive_rate": float(y.mean()),
        "oracle_auc": _finite_or_none(oracle_auc(p, y)),
        "oracle_auc_conversion": _finite_or_none(oracle_auc(p_conv, y_conv)),
        "train_files": [f"train/part-{i:05d}.{fmt}" for i in range(num_files)],
        "eval_files": [f"eval/part-00000.{fmt}"],
    }
    atomic_write(str(out / "meta.json"), json.dumps(meta, indent=2) + "\n")
    return meta


def _finite_or_none(x: float) -> float | None:
    """JSON has no NaN; an undefined AUC is written as null."""
    return None if np.isnan(x) else x
