"""Bundled synthetic Criteo-like CTR data with a known ground truth.

Why: examples, tests and benchmarks need realistic data that ships with the
code and whose best reachable AUC is known, so a model's eval AUC can be read
against the oracle AUC written in ``meta.json``.

Rows: 13 heavy-tailed count columns ``int_*`` and 26 Zipf-distributed id
columns ``cat_*`` (both with nulls), ``user_id``, ``item_id``, ``item_history``
(up to 20 item ids joined by ``;``), ``price`` and ``tags`` (0-5 tag ids joined
by ``\\x1d``), and two labels: ``label`` (click) and ``conversion`` (only ever 1
where ``label`` is 1). Ids of a column lie in ``[0, cardinality)`` (see
``meta.json`` ``cardinalities``), so a config uses ``num_buckets = cardinality``;
an id ``>= num_buckets`` would be out of range.

Ground truth: ``logit = bias + scale * f(row)`` where ``f`` sums random main
effects of category values (shrunk for rare values so most of the signal is
learnable), smooth functions of ``log1p`` of counts, user and item effects,
rank-4 latent dot products for pairs of columns and for user x item, whether
the item's category appears in the history, and price. Missing values have
their own effect. ``bias`` and ``scale`` are fitted on a calibration sample so
the click rate is about 25% and the oracle AUC about 0.80 for any seed.
"""

from __future__ import annotations

import json
import logging
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

from tzrec.utils.errors import ConfigError, DataError

logger = logging.getLogger(__name__)

GENERATOR_VERSION = 1
CRITEO_CARDINALITIES: tuple[int, ...] = (
    1000, 500, 100_000, 50_000, 300, 20, 10_000, 600, 3, 50_000, 5000, 100_000, 3000,
    30, 10_000, 100_000, 10, 4000, 2000, 4, 100_000, 20, 15, 50_000, 80, 30_000,
)  # fmt: skip
INT_COLUMNS: tuple[str, ...] = tuple(f"int_{i}" for i in range(13))
CAT_COLUMNS: tuple[str, ...] = tuple(f"cat_{i}" for i in range(26))
LABEL_COLUMNS: tuple[str, ...] = ("label", "conversion")
NUM_USERS, NUM_ITEMS, NUM_ITEM_CATEGORIES, NUM_TAGS = 10_000, 50_000, 200, 50
MAX_HISTORY, MAX_TAGS = 20, 5
HISTORY_SEP, TAG_SEP = ";", "\x1d"
CHUNK_ROWS = 1 << 18
FORMATS = ("parquet", "csv")

SCHEMA = pa.schema(
    [(n, pa.int64()) for n in LABEL_COLUMNS + INT_COLUMNS + CAT_COLUMNS]
    + [("user_id", pa.int64()), ("item_id", pa.int64())]
    + [("item_history", pa.string()), ("price", pa.float64()), ("tags", pa.string())]
)
_DIM = 4  # latent dimension of the pairwise interactions
_RARE = 1000.0  # values seen less than ~this often per 1M rows get shrunk effects
_CALIB_ROWS = 1 << 16


@dataclass(frozen=True)
class _Zipf:
    """P(rank k) proportional to the mass of x^-a on [k+1, k+2); exact sampling."""

    n: int
    a: float

    def sample(self, rng: np.random.Generator, size: int) -> np.ndarray:
        top = (self.n + 1.0) ** (1.0 - self.a)
        x = (1.0 - rng.random(size) * (1.0 - top)) ** (1.0 / (1.0 - self.a))
        return np.minimum(x.astype(np.int64) - 1, self.n - 1)

    def pmf(self) -> np.ndarray:
        k = np.arange(1, self.n + 2, dtype=np.float64) ** (1.0 - self.a)
        return -np.diff(k) / (1.0 - k[-1])


@dataclass
class _Head:
    """Ground-truth effects of one task; tables are indexed by rank, last = missing."""

    main: dict[int, np.ndarray]
    ints: dict[int, tuple[float, float, float]]  # column -> (amp, slope, missing)
    pairs: list[tuple[int, int]]
    user_bias: np.ndarray
    item_bias: np.ndarray
    user_item: bool
    hist_coef: float
    price_coef: float
    scale: float = 1.0
    bias: float = 0.0


@dataclass
class _Truth:
    """All ground-truth parameters, drawn from the seed."""

    cats: list[_Zipf]
    cat_perm: list[np.ndarray]  # rank -> public id
    cat_null: np.ndarray
    cat_latent: dict[int, np.ndarray]
    ints: np.ndarray  # rows: mu, sigma, zero fraction, null fraction, center
    users: _Zipf
    items: _Zipf
    user_perm: np.ndarray
    item_perm: np.ndarray
    user_latent: np.ndarray
    item_latent: np.ndarray
    user_fav: np.ndarray  # favourite item category per user rank
    user_hist: np.ndarray  # mean history length per user rank
    item_cat: np.ndarray
    cat_items: np.ndarray  # item ranks sorted by category
    cat_start: np.ndarray
    item_price: np.ndarray
    item_tags: np.ndarray
    item_ntags: np.ndarray
    click: _Head | None = None
    cvr: _Head | None = None


@dataclass
class _Rows:
    cat_rank: list[np.ndarray]  # rank, or the column's cardinality where missing
    ints: list[np.ndarray]
    int_null: list[np.ndarray]
    user: np.ndarray
    item: np.ndarray
    hist: np.ndarray  # (n, MAX_HISTORY) item ranks, valid where < hist_len
    hist_len: np.ndarray
    in_hist: np.ndarray
    price: np.ndarray


def _effects(rng: np.random.Generator, pmf: np.ndarray, std: float, dim: int = 0):
    """Random effects per rank plus a last row for missing; rare values shrunk."""
    table = rng.normal(0.0, std, (len(pmf) + 1, dim) if dim else len(pmf) + 1)
    shrink = 1.0 / np.sqrt(1.0 + _RARE / (pmf * 1e6))
    table[:-1] *= shrink[:, None] if dim else shrink
    return table


def _draw_truth(seed: int) -> _Truth:
    rng = np.random.default_rng([seed, 0])
    cats = [_Zipf(n, float(rng.uniform(1.05, 1.35))) for n in CRITEO_CARDINALITIES]
    cat_null = np.zeros(len(cats))
    cat_null[rng.choice(len(cats), 8, replace=False)] = rng.uniform(0.02, 0.3, 8)
    pair_cols = rng.choice(len(cats), 12, replace=False)
    nint = len(INT_COLUMNS)
    ints = np.stack(
        [rng.uniform(0.0, 4.0, nint), rng.uniform(0.7, 1.8, nint),
         rng.uniform(0.0, 0.4, nint), rng.permutation(np.linspace(0.05, 0.4, nint)),
         np.zeros(nint)]
    )  # fmt: skip
    ints[4] = (1.0 - ints[2]) * np.log1p(np.exp(ints[0]))  # rough center of log1p(x)
    users, items = _Zipf(NUM_USERS, 1.05), _Zipf(NUM_ITEMS, 1.1)
    item_cat = rng.integers(0, NUM_ITEM_CATEGORIES, NUM_ITEMS)
    cat_items = np.argsort(item_cat, kind="stable")
    t = _Truth(
        cats=cats,
        cat_perm=[rng.permutation(z.n) for z in cats],
        cat_null=cat_null,
        cat_latent={int(j): _effects(rng, cats[j].pmf(), 0.5, _DIM) for j in pair_cols},
        ints=ints,
        users=users,
        items=items,
        user_perm=rng.permutation(NUM_USERS),
        item_perm=rng.permutation(NUM_ITEMS),
        user_latent=_effects(rng, users.pmf(), 0.7, _DIM),
        item_latent=_effects(rng, items.pmf(), 0.7, _DIM),
        user_fav=rng.integers(0, NUM_ITEM_CATEGORIES, NUM_USERS),
        user_hist=rng.lognormal(1.8, 0.8, NUM_USERS),
        item_cat=item_cat,
        cat_items=cat_items,
        cat_start=np.searchsorted(
            item_cat[cat_items], np.arange(NUM_ITEM_CATEGORIES + 1)
        ),
        item_price=rng.lognormal(3.0, 1.0, NUM_ITEMS),
        item_tags=_Zipf(NUM_TAGS, 1.2).sample(rng, (NUM_ITEMS, MAX_TAGS)),
        item_ntags=rng.integers(0, MAX_TAGS + 1, NUM_ITEMS),
    )
    pairs = [(int(a), int(b)) for a, b in pair_cols[:16].reshape(-1, 2)]
    pairs += [(int(a), int(b)) for a, b in zip(pair_cols[:4], pair_cols[6:10])]
    t.click = _draw_head(rng, t, 16, 8, pairs, user_item=True, price=-0.2, hist=0.8)
    t.cvr = _draw_head(rng, t, 8, 4, [], user_item=False, price=-0.6, hist=0.3)
    calib = _draw_rows(t, np.random.default_rng([seed, 0, 1]), _CALIB_ROWS)
    f_click = _head_logit(t.click, t, calib)
    t.click.scale, t.click.bias = _calibrate(f_click, 0.25, 0.80)
    p_click = _sigmoid(t.click.bias + t.click.scale * f_click)
    f_cvr = _head_logit(t.cvr, t, calib)
    t.cvr.scale, t.cvr.bias = _calibrate(f_cvr, 0.2, 0.75, weights=p_click)
    return t


def _draw_head(rng, t: _Truth, n_main, n_int, pairs, user_item, price, hist) -> _Head:
    main_cols = rng.choice(len(t.cats), n_main, replace=False)
    main = {
        int(j): _effects(rng, t.cats[j].pmf(), rng.uniform(0.3, 0.8)) for j in main_cols
    }
    ints = {}
    for k in rng.choice(len(INT_COLUMNS), n_int, replace=False):
        amp = rng.uniform(0.2, 0.6) * rng.choice([-1.0, 1.0])
        ints[int(k)] = (amp, rng.uniform(0.5, 1.5), rng.normal(0.0, 0.3))
    return _Head(
        main=main,
        ints=ints,
        pairs=pairs,
        user_bias=_effects(rng, t.users.pmf(), 0.4),
        item_bias=_effects(rng, t.items.pmf(), 0.5),
        user_item=user_item,
        hist_coef=hist,
        price_coef=price,
    )


def _draw_rows(t: _Truth, rng: np.random.Generator, n: int) -> _Rows:
    cat_rank = []
    for z, null in zip(t.cats, t.cat_null):
        r = z.sample(rng, n)
        r[rng.random(n) < null] = z.n
        cat_rank.append(r)
    ints, int_null = [], []
    for mu, sigma, zero, null, _ in t.ints.T:
        x = np.floor(rng.lognormal(mu, sigma, n)).astype(np.int64)
        x[rng.random(n) < zero] = 0
        ints.append(x)
        int_null.append(rng.random(n) < null)
    user = t.users.sample(rng, n)
    item = t.items.sample(rng, n)
    own = rng.random(n) < 0.3
    item[own] = _item_of_category(t, t.user_fav[user[own]], rng)
    hist_len = np.minimum(rng.poisson(t.user_hist[user]), MAX_HISTORY)
    valid = np.arange(MAX_HISTORY) < hist_len[:, None]
    hist = np.zeros((n, MAX_HISTORY), np.int64)
    flat = t.items.sample(rng, int(hist_len.sum()))
    own = rng.random(len(flat)) < 0.6
    favs = np.repeat(t.user_fav[user], hist_len)
    flat[own] = _item_of_category(t, favs[own], rng)
    hist[valid] = flat
    in_hist = ((t.item_cat[hist] == t.item_cat[item][:, None]) & valid).any(axis=1)
    price = np.round(t.item_price[item] * rng.lognormal(0.0, 0.1, n), 2)
    return _Rows(cat_rank, ints, int_null, user, item, hist, hist_len, in_hist, price)


def _item_of_category(t: _Truth, cat: np.ndarray, rng: np.random.Generator):
    """A uniformly drawn item rank of each given category."""
    start, stop = t.cat_start[cat], t.cat_start[cat + 1]
    return t.cat_items[start + (rng.random(len(cat)) * (stop - start)).astype(np.int64)]


def _head_logit(h: _Head, t: _Truth, rows: _Rows) -> np.ndarray:
    """The unscaled ground-truth score ``f`` of one task."""
    f = h.user_bias[rows.user] + h.item_bias[rows.item]
    for j, table in h.main.items():
        f += table[rows.cat_rank[j]]
    for a, b in h.pairs:
        va, vb = t.cat_latent[a][rows.cat_rank[a]], t.cat_latent[b][rows.cat_rank[b]]
        f += np.einsum("ij,ij->i", va, vb)
    if h.user_item:
        f += np.einsum("ij,ij->i", t.user_latent[rows.user], t.item_latent[rows.item])
    for k, (amp, slope, missing) in h.ints.items():
        smooth = amp * np.tanh(slope * (np.log1p(rows.ints[k]) - t.ints[4, k]))
        f += np.where(rows.int_null[k], missing, smooth)
    f += h.hist_coef * rows.in_hist + h.price_coef * (np.log1p(rows.price) - 3.0)
    return f


def _sigmoid(x: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-x))


def _calibrate(f, rate: float, auc: float, weights=None) -> tuple[float, float]:
    """Scale and bias so that ``sigmoid(bias + scale * f)`` has the target
    positive rate and expected AUC (both weighted by ``weights``).
    """
    w = np.ones_like(f) if weights is None else weights
    order = np.argsort(f, kind="stable")
    f, w = f[order], w[order]
    lo, hi, bias = 0.01, 20.0, float(np.log(rate / (1 - rate)))
    for _ in range(25):
        scale = float(np.sqrt(lo * hi))
        for _ in range(30):  # Newton steps on the weighted mean probability
            p = _sigmoid(bias + scale * f)
            step = (np.dot(w, p) - rate * w.sum()) / max(np.dot(w, p * (1 - p)), 1e-9)
            bias -= step
            if abs(step) < 1e-7:
                break
        neg = w * (1 - p)
        num = np.dot(w * p, np.cumsum(neg) - neg)
        expected = num / (np.dot(w, p) * neg.sum() - np.dot(w * p, neg))
        lo, hi = (scale, hi) if expected < auc else (lo, scale)
    return scale, bias


def oracle_auc(probs: np.ndarray, labels: np.ndarray) -> float:
    """Exact ROC AUC of ``probs`` against 0/1 ``labels``; ties count one half.

    Returns NaN when the labels hold only one class.
    """
    probs = np.asarray(probs, dtype=np.float64)
    labels = np.asarray(labels).astype(bool)
    n_pos = int(labels.sum())
    n_neg = len(labels) - n_pos
    if n_pos == 0 or n_neg == 0:
        return float("nan")
    _, inverse, counts = np.unique(probs, return_inverse=True, return_counts=True)
    ends = np.cumsum(counts)
    avg_rank = ends - (counts - 1) / 2.0  # 1-based average rank of each tie group
    rank_sum = float(avg_rank[inverse][labels].sum())
    return (rank_sum - n_pos * (n_pos + 1) / 2.0) / (n_pos * n_neg)


def _join(values: np.ndarray, lengths: np.ndarray, sep: str) -> pa.Array:
    """Joins the first ``lengths[i]`` entries of row ``i`` of ``values`` by ``sep``."""
    valid = np.arange(values.shape[1]) < lengths[:, None]
    tokens = pa.array(values[valid]).cast(pa.string())
    offsets = np.zeros(len(lengths) + 1, np.int32)
    np.cumsum(lengths, out=offsets[1:])
    return pc.binary_join(pa.ListArray.from_arrays(pa.array(offsets), tokens), sep)


def _to_table(t: _Truth, rows: _Rows, label: np.ndarray, conv: np.ndarray) -> pa.Table:
    cols: dict[str, pa.Array] = {"label": pa.array(label), "conversion": pa.array(conv)}
    for name, x, null in zip(INT_COLUMNS, rows.ints, rows.int_null):
        cols[name] = pa.array(x, mask=null)
    for name, z, perm, r in zip(CAT_COLUMNS, t.cats, t.cat_perm, rows.cat_rank):
        cols[name] = pa.array(perm[np.minimum(r, z.n - 1)], mask=r == z.n)
    cols["user_id"] = pa.array(t.user_perm[rows.user])
    cols["item_id"] = pa.array(t.item_perm[rows.item])
    cols["item_history"] = _join(t.item_perm[rows.hist], rows.hist_len, HISTORY_SEP)
    cols["price"] = pa.array(rows.price)
    tags = t.item_tags[rows.item]
    cols["tags"] = _join(tags, t.item_ntags[rows.item], TAG_SEP)
    return pa.table(cols, schema=SCHEMA)


def _write_file(path: Path, fmt: str, chunks) -> None:
    """Writes tables to a hidden temporary sibling, then renames it into place."""
    tmp = path.with_name(f".{path.name}.tmp{os.getpid()}")
    if fmt == "parquet":
        writer = pq.ParquetWriter(tmp, SCHEMA)
    else:
        writer = pacsv.CSVWriter(tmp, SCHEMA)
    with writer:
        for table in chunks:
            writer.write_table(table)
    with open(tmp, "rb") as f:
        os.fsync(f.fileno())
    os.replace(tmp, path)


def _split_chunks(t: _Truth, seed: int, split: int, index: int, rows: int, keep):
    """Yields the tables of one file; each chunk has its own seeded stream."""
    for c, start in enumerate(range(0, rows, CHUNK_ROWS)):
        n = min(CHUNK_ROWS, rows - start)
        rng = np.random.default_rng([seed, split, index, c])
        r = _draw_rows(t, rng, n)
        p = _sigmoid(t.click.bias + t.click.scale * _head_logit(t.click, t, r))
        q = _sigmoid(t.cvr.bias + t.cvr.scale * _head_logit(t.cvr, t, r))
        label = rng.random(n) < p
        conv = label & (rng.random(n) < q)
        keep.append((p, label, p * q, conv))
        yield _to_table(t, r, label.astype(np.int64), conv.astype(np.int64))


def _write_split(t, out: Path, seed: int, split: int, sizes, fmt: str) -> list:
    """Writes one split's files; returns (p_click, label, p_conv, conv) per chunk."""
    out.mkdir(parents=True, exist_ok=True)
    stats: list = []
    for i, rows in enumerate(sizes):
        path = out / f"part-{i:05d}.{fmt}"
        _write_file(path, fmt, _split_chunks(t, seed, split, i, rows, stats))
        if split == 1:  # train: keep only counts so memory stays bounded
            stats = [
                (
                    None,
                    sum(s[1].sum() for s in stats),
                    None,
                    sum(s[3].sum() for s in stats),
                )
            ]
    return stats


def _args(num_rows, num_eval_rows, seed, num_files, fmt) -> dict:
    problems = []
    for flag, value, low in [("--num_rows", num_rows, 1), ("--num_eval_rows", num_eval_rows, 1),
                             ("--num_files", num_files, 1), ("--seed", seed, 0)]:  # fmt: skip
        if not isinstance(value, int) or value < low:
            problems.append(
                ConfigError(
                    f"{value!r} is not an integer >= {low}", flag, "pass a valid value"
                )
            )
    if (
        isinstance(num_rows, int)
        and isinstance(num_files, int)
        and num_files > num_rows
    ):
        problems.append(
            ConfigError(
                f"{num_files} files for {num_rows} rows",
                "--num_files",
                "use at most one file per row",
            )
        )
    if fmt not in FORMATS:
        problems.append(
            ConfigError(f"unknown format {fmt!r}", "--format", f"use one of {FORMATS}")
        )
    if problems:
        raise ConfigError("bad arguments", problems=problems)
    return {"num_rows": num_rows, "num_eval_rows": num_eval_rows, "seed": seed,
            "num_files": num_files, "format": fmt, "generator_version": GENERATOR_VERSION}  # fmt: skip


def existing_meta(output_dir: str, num_rows: int, num_eval_rows: int, seed: int = 2026,
                  num_files: int = 4, fmt: str = "parquet") -> dict | None:  # fmt: skip
    """The meta of data already in ``output_dir`` made with these arguments, or None."""
    args = _args(num_rows, num_eval_rows, seed, num_files, fmt)
    path = Path(output_dir) / "meta.json"
    try:
        meta = json.loads(path.read_text())
    except (OSError, ValueError):
        return None
    if any(meta.get(k) != v for k, v in args.items()):
        return None
    files = meta.get("train_files", []) + meta.get("eval_files", [])
    return meta if all((Path(output_dir) / f).is_file() for f in files) else None


def _clear(out: Path) -> None:
    """Removes what an earlier run wrote: meta first, so stale data never looks done."""
    (out / "meta.json").unlink(missing_ok=True)
    for split in ("train", "eval"):
        for pattern in ("part-*.parquet", "part-*.csv", ".part-*.tmp*"):
            for old in (out / split).glob(pattern):
                old.unlink()


def generate(output_dir: str, num_rows: int, num_eval_rows: int, seed: int = 2026,
             num_files: int = 4, fmt: str = "parquet") -> dict:  # fmt: skip
    """Writes train and eval files and ``meta.json`` under ``output_dir``.

    Skips the work when ``output_dir`` already holds data made with the same
    arguments. Files appear under their final names only when complete.

    Args:
        output_dir: folder to write ``train/``, ``eval/`` and ``meta.json`` into.
        num_rows: number of train rows, split over ``num_files`` files.
        num_eval_rows: number of eval rows, in one file.
        seed: seeds both the ground truth and the rows.
        num_files: number of train files.
        fmt: ``"parquet"`` or ``"csv"`` (with a header, comma-delimited).

    Returns:
        The meta written to ``meta.json``.

    Raises:
        ConfigError: an argument is out of range.
        DataError: ``output_dir`` is not a folder.

    """
    args = _args(num_rows, num_eval_rows, seed, num_files, fmt)
    out = Path(output_dir)
    if out.exists() and not out.is_dir():
        raise DataError("not a folder", str(out), "pass a folder for --output_dir")
    found = existing_meta(output_dir, num_rows, num_eval_rows, seed, num_files, fmt)
    if found is not None:
        logger.info("%s already holds this data; not regenerating", out)
        return found
    out.mkdir(parents=True, exist_ok=True)
    _clear(out)
    t = _draw_truth(seed)
    sizes = [len(a) for a in np.array_split(np.arange(num_rows), num_files)]
    train = _write_split(t, out / "train", seed, 1, sizes, fmt)
    evals = _write_split(t, out / "eval", seed, 2, [num_eval_rows], fmt)
    p, y, pq_, yc = (np.concatenate([s[i] for s in evals]) for i in range(4))
    meta = dict(args)
    meta.update(
        columns={f.name: str(f.type) for f in SCHEMA},
        cardinalities={
            **dict(zip(CAT_COLUMNS, CRITEO_CARDINALITIES)),
            "user_id": NUM_USERS,
            "item_id": NUM_ITEMS,
            "item_history": NUM_ITEMS,
            "tags": NUM_TAGS,
        },  # fmt: skip
        separators={"item_history": HISTORY_SEP, "tags": TAG_SEP},
        label_columns=list(LABEL_COLUMNS),
        positive_rate=float(train[0][1]) / num_rows,
        conversion_rate=float(train[0][3]) / num_rows,
        eval_positive_rate=float(y.mean()),
        oracle_auc=_nan_to_none(oracle_auc(p, y)),
        oracle_auc_conversion=_nan_to_none(oracle_auc(pq_, yc)),
        train_files=[f"train/part-{i:05d}.{fmt}" for i in range(num_files)],
        eval_files=[f"eval/part-00000.{fmt}"],
    )
    tmp = out / f".meta.json.tmp{os.getpid()}"
    tmp.write_text(json.dumps(meta, indent=2) + "\n")
    os.replace(tmp, out / "meta.json")
    return meta


def _nan_to_none(x: float) -> float | None:
    return None if np.isnan(x) else x
