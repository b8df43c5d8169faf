"""MovieLens-100k for the quality benchmark, prepared from the recbole wheel.

Why: the bundled generator writes i.i.d. rows; a real log is ordered by user
and time, has multi-value fields and a real click structure. MovieLens-100k
is small enough to train in seconds per epoch on a CPU and ships inside the
``recbole==1.2.1`` wheel, which ``pip download --no-deps`` fetches without
installing anything.

Rows: one per rating, ``label = rating >= 4``. Each user's ratings are
ordered by time; the last 20% of them go to eval. Train and eval rows stay in
user/time order, as real logs are (shuffling is the trainer's job).

Columns (every categorical field is an integer id in ``[0, vocab)``, id 0 the
missing value, so every system reads identical ids; ``meta.json`` holds each
field's ``vocab``): ``label``, ``user_id``, ``item_id``, ``age``, ``gender``,
``occupation``, ``zip_code``, ``release_year`` and ``genres`` (a list of ids),
plus ``timestamp`` (not a feature).

Usage::

    python -m tzrec.benchmark.movielens --output_dir data/movielens
"""

from __future__ import annotations

import argparse
import io
import json
import subprocess
import sys
import zipfile
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

from tzrec.utils.errors import DataError

RECBOLE = "recbole==1.2.1"
MEMBER = "recbole/dataset_example/ml-100k/ml-100k.{}"
EVAL_FRACTION = 0.2
LABEL_MIN_RATING = 4
SCALAR_FIELDS = (
    "user_id",
    "item_id",
    "age",
    "gender",
    "occupation",
    "zip_code",
    "release_year",
)
LIST_FIELDS = ("genres",)
FIELDS = SCALAR_FIELDS + LIST_FIELDS
_FORMAT_VERSION = 1


def fetch_wheel(cache_dir: str | Path) -> Path:
    """The recbole wheel in ``cache_dir``, downloaded once (nothing installed)."""
    cache = Path(cache_dir)
    found = sorted(cache.glob("recbole-1.2.1-*.whl"))
    if found:
        return found[0]
    cache.mkdir(parents=True, exist_ok=True)
    cmd = [sys.executable, "-m", "pip", "download", "--no-deps", RECBOLE]
    subprocess.run([*cmd, "-d", str(cache), "-q"], check=True)
    found = sorted(cache.glob("recbole-1.2.1-*.whl"))
    if not found:
        raise DataError(f"pip download {RECBOLE} left no wheel", str(cache))
    return found[0]


def _read_atomic(wheel: zipfile.ZipFile, ext: str) -> pa.Table:
    """One recbole atomic file (tab-separated, ``name:type`` headers), as text."""
    name = MEMBER.format(ext)
    try:
        raw = wheel.read(name)
    except KeyError:
        raise DataError(f"{name} is not in the wheel", wheel.filename or "") from None
    header = raw.split(b"\n", 1)[0].decode().rstrip("\r").split("\t")
    names = [h.split(":", 1)[0] for h in header]
    return pacsv.read_csv(
        io.BytesIO(raw),
        read_options=pacsv.ReadOptions(column_names=names, skip_rows=1),
        parse_options=pacsv.ParseOptions(delimiter="\t", quote_char=False),
        convert_options=pacsv.ConvertOptions(
            column_types={n: pa.string() for n in names}, strings_can_be_null=True
        ),
    )


def _encode(values: pa.Array) -> tuple[np.ndarray, int]:
    """Dense ids ``1..n`` in sorted value order, 0 for null or empty; the vocab size."""
    text = pc.fill_null(values, "").to_numpy(zero_copy_only=False).astype(str)
    uniq, inverse = np.unique(text, return_inverse=True)
    ids = inverse.astype(np.int64)
    if uniq.size and uniq[0] == "":
        return ids, int(uniq.size)
    return ids + 1, int(uniq.size) + 1


def _encode_lists(values: pa.Array) -> tuple[pa.Array, int]:
    """Space-separated tokens as a list of ids ``1..n``; the vocab size."""
    lists = pc.split_pattern(pc.fill_null(values, ""), " ")
    flat = pc.list_flatten(lists)
    keep = pc.not_equal(flat, "")
    ids, vocab = _encode(pc.filter(flat, keep))
    lengths = pc.list_value_length(lists).to_numpy(zero_copy_only=False)
    empty_tokens = np.logical_not(keep.to_numpy(zero_copy_only=False))
    # Drop empty tokens from the offsets too: count the kept tokens per row.
    row_of_token = np.repeat(np.arange(len(lists)), lengths)
    kept_per_row = np.bincount(
        row_of_token[~empty_tokens], minlength=len(lists)
    ).astype(np.int32)
    offsets = np.concatenate([[0], np.cumsum(kept_per_row)]).astype(np.int32)
    return pa.ListArray.from_arrays(pa.array(offsets), pa.array(ids)), vocab


def _take_ids(keys: np.ndarray, table_keys: np.ndarray, what: str) -> np.ndarray:
    """Row positions in a side table for each key (every key must be there)."""
    order = np.argsort(table_keys)
    pos = np.searchsorted(table_keys, keys, sorter=order)
    pos = np.minimum(pos, len(order) - 1)
    found = table_keys[order[pos]] == keys
    if not found.all():
        missing = keys[~found][0]
        raise DataError(f"{what} {missing} of a rating is not in its table", what)
    return order[pos]


def build_rows(wheel_path: str | Path) -> tuple[pa.Table, dict[str, int]]:
    """All ratings joined with user and item fields, sorted by user and time."""
    with zipfile.ZipFile(wheel_path) as wheel:
        inter = _read_atomic(wheel, "inter")
        users = _read_atomic(wheel, "user")
        items = _read_atomic(wheel, "item")
    user_keys = users["user_id"].to_numpy(zero_copy_only=False).astype(str)
    item_keys = items["item_id"].to_numpy(zero_copy_only=False).astype(str)
    rating_users = inter["user_id"].to_numpy(zero_copy_only=False).astype(str)
    rating_items = inter["item_id"].to_numpy(zero_copy_only=False).astype(str)
    u_row = _take_ids(rating_users, user_keys, "user_id")
    i_row = _take_ids(rating_items, item_keys, "item_id")
    vocab: dict[str, int] = {}
    columns: dict[str, np.ndarray | pa.Array] = {}
    for field, table, rows, source in (
        ("user_id", users, u_row, "user_id"),
        ("item_id", items, i_row, "item_id"),
        ("age", users, u_row, "age"),
        ("gender", users, u_row, "gender"),
        ("occupation", users, u_row, "occupation"),
        ("zip_code", users, u_row, "zip_code"),
        ("release_year", items, i_row, "release_year"),
    ):
        ids, vocab[field] = _encode(table[source])
        columns[field] = ids[rows]
    genres, vocab["genres"] = _encode_lists(items["class"])
    columns["genres"] = genres.take(pa.array(i_row))
    rating = pc.cast(inter["rating"], pa.float64()).to_numpy()
    timestamp = pc.cast(pc.cast(inter["timestamp"], pa.float64()), pa.int64())
    columns["label"] = (rating >= LABEL_MIN_RATING).astype(np.int64)
    columns["timestamp"] = timestamp.to_numpy()
    table = pa.table(
        {n: columns[n] for n in ("label", *FIELDS, "timestamp")},
    )
    # Stable order: user, then time, then item (ties in time keep a fixed order).
    order = np.lexsort((columns["item_id"], columns["timestamp"], columns["user_id"]))
    return table.take(pa.array(order)), vocab


def split_by_time(
    table: pa.Table, eval_fraction: float = EVAL_FRACTION
) -> tuple[pa.Table, pa.Table]:
    """Per user, the last ``eval_fraction`` of their (time-sorted) rows go to eval.

    ``table`` must be sorted by user, then time (as :func:`build_rows` returns).
    """
    users = table["user_id"].to_numpy()
    starts = np.flatnonzero(np.r_[True, users[1:] != users[:-1]])
    counts = np.diff(np.r_[starts, len(users)])
    n_eval = np.maximum(1, np.rint(counts * eval_fraction).astype(np.int64))
    n_eval = np.minimum(n_eval, counts - 1)  # a user keeps at least one train row
    rank_in_user = np.arange(len(users)) - np.repeat(starts, counts)
    is_eval = rank_in_user >= np.repeat(counts - n_eval, counts)
    return table.filter(pa.array(~is_eval)), table.filter(pa.array(is_eval))


def prepare(wheel_path: str | Path, output_dir: str | Path) -> dict:
    """Writes ``train.parquet``, ``eval.parquet`` and ``meta.json``; returns meta."""
    out = Path(output_dir)
    table, vocab = build_rows(wheel_path)
    train, evaluation = split_by_time(table)
    out.mkdir(parents=True, exist_ok=True)
    pq.write_table(train, out / "train.parquet", row_group_size=16384)
    pq.write_table(evaluation, out / "eval.parquet", row_group_size=16384)
    meta = {
        "format_version": _FORMAT_VERSION,
        "source": f"{RECBOLE}: {MEMBER.format('{inter,user,item}')}",
        "num_rows": train.num_rows,
        "num_eval_rows": evaluation.num_rows,
        "positive_rate": float(np.mean(train["label"].to_numpy())),
        "eval_positive_rate": float(np.mean(evaluation["label"].to_numpy())),
        "vocab": vocab,
    }
    (out / "meta.json").write_text(json.dumps(meta, indent=1) + "\n")
    return meta


def ensure(output_dir: str | Path, cache_dir: str | Path = "data/wheels") -> dict:
    """The prepared data in ``output_dir`` (prepared once); returns its meta."""
    meta_path = Path(output_dir) / "meta.json"
    if meta_path.exists():
        meta = json.loads(meta_path.read_text())
        if meta.get("format_version") == _FORMAT_VERSION:
            return meta
    return prepare(fetch_wheel(cache_dir), output_dir)


def main(argv: list[str] | None = None) -> int:
    """Prepares the data; prints where it went and its size."""
    p = argparse.ArgumentParser(
        prog="python -m tzrec.benchmark.movielens",
        description="MovieLens-100k from the recbole wheel into Parquet.",
    )
    p.add_argument("--output_dir", default="data/movielens")
    p.add_argument("--cache_dir", default="data/wheels", help="where the wheel goes")
    args = p.parse_args(argv)
    meta = ensure(args.output_dir, args.cache_dir)
    print(
        f"{args.output_dir}: {meta['num_rows']} train rows, {meta['num_eval_rows']} "
        f"eval rows, positive rate {meta['positive_rate']:.3f}; vocab {meta['vocab']}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
