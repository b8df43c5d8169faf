"""The ground-truth model behind the bundled synthetic data (see synthetic.py).

Why separate: this file says how rows and their click / conversion
probabilities are drawn; synthetic.py turns them into files and meta.

Every table of effects is indexed by a value's frequency rank, with one extra
last row for a missing value. Public ids are a seeded permutation of ranks.
``f`` is an unscaled score; ``logit = bias + scale * f`` with ``bias`` and
``scale`` fitted on a calibration sample so the positive rate and the expected
oracle AUC hit their targets for any seed.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

CRITEO_CARDINALITIES: tuple[int, ...] = (
    1000, 500, 100_000, 50_000, 300, 20, 10_000, 600, 3, 50_000, 5000, 100_000, 3000,
    30, 10_000, 100_000, 10, 4000, 2000, 4, 100_000, 20, 15, 50_000, 80, 30_000,
)  # fmt: skip
INT_COLUMNS: tuple[str, ...] = tuple(f"int_{i}" for i in range(13))
INT_RANGES = ("small", "criteo")
# int_ranges="criteo": per-column lognormal (mu, sigma) of the counts, shaped
# like Criteo's I1..I13: mostly small counts, a few wide columns, and one
# (int_4, like I5) with a median near 13k and a tail into tens of millions.
_CRITEO_INT_MU = (1.0, 3.0, 2.5, 2.0, 9.5, 4.5, 2.5, 2.5, 4.0, 0.5, 1.5, 0.5, 2.0)
_CRITEO_INT_SIGMA = (1.2, 2.0, 1.5, 1.2, 1.6, 2.0, 1.7, 1.2, 1.4, 0.6, 1.0, 1.0, 1.3)
CAT_COLUMNS: tuple[str, ...] = tuple(f"cat_{i}" for i in range(26))
NUM_USERS, NUM_ITEMS, NUM_ITEM_CATEGORIES, NUM_TAGS = 10_000, 50_000, 200, 50
MAX_HISTORY, MAX_TAGS = 20, 5
CLICK_RATE, CLICK_AUC = 0.25, 0.80  # calibration targets
CVR_RATE, CVR_AUC = 0.2, 0.75  # P(conversion | click) targets, among clicks

_DIM = 4  # latent dimension of the pairwise interactions
# A value seen fewer than ~_RARE times per 1M rows gets a shrunk effect, so
# most of the signal sits where a model trained on ~1M rows can learn it.
_RARE = 1000.0
_CALIB_ROWS = 1 << 15


@dataclass(frozen=True)
class Zipf:
    """P(rank k) is the mass of ``x^-a`` on ``[k+1, k+2)``; sampled exactly."""

    n: int
    a: float

    def sample(self, rng: np.random.Generator, size) -> np.ndarray:
        """Ranks in ``[0, n)``, rank 0 the most frequent."""
        top = (self.n + 1.0) ** (1.0 - self.a)
        x = (1.0 - rng.random(size) * (1.0 - top)) ** (1.0 / (1.0 - self.a))
        return np.minimum(x.astype(np.int64) - 1, self.n - 1)

    def pmf(self) -> np.ndarray:
        """Probability of each rank."""
        k = np.arange(1, self.n + 2, dtype=np.float64) ** (1.0 - self.a)
        return -np.diff(k) / (1.0 - k[-1])


@dataclass
class Head:
    """Ground-truth effects of one task (click or conversion)."""

    main: dict[int, np.ndarray]  # cat column -> effect per rank
    ints: dict[int, tuple[float, float, float]]  # int column -> amp, slope, missing
    pairs: list[tuple[int, int]]  # cat columns whose latent vectors interact
    user_bias: np.ndarray
    item_bias: np.ndarray
    user_item: bool
    hist_coef: float
    price_coef: float
    scale: float = 1.0
    bias: float = 0.0


@dataclass
class Truth:
    """All ground-truth parameters, drawn from the seed."""

    cats: list[Zipf]
    cat_perm: list[np.ndarray]  # rank -> public id
    cat_null: np.ndarray
    cat_latent: dict[int, np.ndarray]
    ints: np.ndarray  # rows: mu, sigma, zero fraction, null fraction, center
    users: Zipf
    items: Zipf
    user_perm: np.ndarray
    item_perm: np.ndarray
    user_latent: np.ndarray
    item_latent: np.ndarray
    user_fav: np.ndarray  # favourite item category per user
    user_hist: np.ndarray  # mean history length per user
    item_cat: np.ndarray
    cat_items: np.ndarray  # item ranks sorted by category
    cat_start: np.ndarray
    item_price: np.ndarray
    item_tags: np.ndarray
    item_ntags: np.ndarray
    click: Head | None = None
    cvr: Head | None = None


@dataclass
class Rows:
    """One chunk of drawn rows, in rank space."""

    cat_rank: list[np.ndarray]  # the column's cardinality where missing
    ints: list[np.ndarray]
    int_null: list[np.ndarray]
    user: np.ndarray
    item: np.ndarray
    hist: np.ndarray  # (n, MAX_HISTORY) item ranks, valid where < hist_len
    hist_len: np.ndarray
    in_hist: np.ndarray  # the item's category occurs in the history
    price: np.ndarray


def _effects(rng: np.random.Generator, pmf: np.ndarray, std: float, dim: int = 0):
    """Random effects per rank plus a last row for missing; rare values shrunk."""
    table = rng.normal(0.0, std, (len(pmf) + 1, dim) if dim else len(pmf) + 1)
    shrink = 1.0 / np.sqrt(1.0 + _RARE / (pmf * 1e6))
    table[:-1] *= shrink[:, None] if dim else shrink
    return table


def draw_truth(seed: int, int_ranges: str = "small") -> Truth:
    """Draws all parameters from ``seed`` and calibrates both heads.

    ``int_ranges="criteo"`` gives the count columns Criteo-like ranges (long
    tails up to tens of millions); every other parameter is drawn as for
    ``"small"``.
    """
    rng = np.random.default_rng([seed, 0])
    cats = [Zipf(n, float(rng.uniform(1.05, 1.35))) for n in CRITEO_CARDINALITIES]
    cat_null = np.zeros(len(cats))
    cat_null[rng.choice(len(cats), 8, replace=False)] = rng.uniform(0.02, 0.3, 8)
    pair_cols = rng.choice(len(cats), 12, replace=False)
    nint = len(INT_COLUMNS)
    ints = np.stack(
        [rng.uniform(0.0, 4.0, nint), rng.uniform(0.7, 1.8, nint),
         rng.uniform(0.0, 0.4, nint), rng.permutation(np.linspace(0.05, 0.4, nint)),
         np.zeros(nint)]
    )  # fmt: skip
    if int_ranges == "criteo":
        ints[0], ints[1] = _CRITEO_INT_MU, _CRITEO_INT_SIGMA
    ints[4] = (1.0 - ints[2]) * np.log1p(np.exp(ints[0]))  # rough center of log1p(x)
    users, items = Zipf(NUM_USERS, 1.05), Zipf(NUM_ITEMS, 1.1)
    item_cat = rng.integers(0, NUM_ITEM_CATEGORIES, NUM_ITEMS)
    cat_items = np.argsort(item_cat, kind="stable")
    cat_start = np.searchsorted(item_cat[cat_items], np.arange(NUM_ITEM_CATEGORIES + 1))
    t = Truth(
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
        cat_start=cat_start,
        item_price=rng.lognormal(3.0, 1.0, NUM_ITEMS),
        item_tags=Zipf(NUM_TAGS, 1.2).sample(rng, (NUM_ITEMS, MAX_TAGS)),
        item_ntags=rng.integers(0, MAX_TAGS + 1, NUM_ITEMS),
    )  # fmt: skip
    pairs = [(int(a), int(b)) for a, b in pair_cols.reshape(-1, 2)]
    pairs += [(int(a), int(b)) for a, b in zip(pair_cols[:2], pair_cols[2:4])]
    t.click = _draw_head(rng, t, 16, 8, pairs, user_item=True, price=-0.2, hist=0.8)
    t.cvr = _draw_head(rng, t, 8, 4, [], user_item=False, price=-0.6, hist=0.3)
    calib = draw_rows(t, np.random.default_rng([seed, 0, 1]), _CALIB_ROWS)
    f_click = head_logit(t.click, t, calib)
    t.click.scale, t.click.bias = _calibrate(f_click, CLICK_RATE, CLICK_AUC)
    p_click = sigmoid(t.click.bias + t.click.scale * f_click)
    f_cvr = head_logit(t.cvr, t, calib)
    t.cvr.scale, t.cvr.bias = _calibrate(f_cvr, CVR_RATE, CVR_AUC, weights=p_click)
    return t


def _draw_head(rng, t: Truth, n_main, n_int, pairs, user_item, price, hist) -> Head:
    main_cols = rng.choice(len(t.cats), n_main, replace=False)
    main = {
        int(j): _effects(rng, t.cats[j].pmf(), rng.uniform(0.3, 0.8)) for j in main_cols
    }
    ints = {}
    for k in rng.choice(len(INT_COLUMNS), n_int, replace=False):
        amp = rng.uniform(0.2, 0.6) * rng.choice([-1.0, 1.0])
        ints[int(k)] = (amp, rng.uniform(0.5, 1.5), rng.normal(0.0, 0.3))
    user_bias = _effects(rng, t.users.pmf(), 0.4)
    item_bias = _effects(rng, t.items.pmf(), 0.5)
    return Head(main, ints, pairs, user_bias, item_bias, user_item, hist, price)


def draw_rows(t: Truth, rng: np.random.Generator, n: int) -> Rows:
    """Draws ``n`` rows' features (no labels)."""
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
    own = rng.random(n) < 0.3  # the user's favourite category, else popularity
    item[own] = _item_of_category(t, t.user_fav[user[own]], rng)
    hist_len = np.minimum(rng.poisson(t.user_hist[user]), MAX_HISTORY)
    valid = np.arange(MAX_HISTORY) < hist_len[:, None]
    flat = t.items.sample(rng, int(hist_len.sum()))
    own = rng.random(len(flat)) < 0.6
    flat[own] = _item_of_category(t, np.repeat(t.user_fav[user], hist_len)[own], rng)
    hist = np.zeros((n, MAX_HISTORY), np.int64)
    hist[valid] = flat
    in_hist = ((t.item_cat[hist] == t.item_cat[item][:, None]) & valid).any(axis=1)
    price = np.round(t.item_price[item] * rng.lognormal(0.0, 0.1, n), 2)
    return Rows(cat_rank, ints, int_null, user, item, hist, hist_len, in_hist, price)


def _item_of_category(t: Truth, cat: np.ndarray, rng: np.random.Generator):
    """A uniformly drawn item rank of each given category."""
    start, stop = t.cat_start[cat], t.cat_start[cat + 1]
    return t.cat_items[start + (rng.random(len(cat)) * (stop - start)).astype(np.int64)]


def head_logit(h: Head, t: Truth, rows: Rows) -> np.ndarray:
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


def probabilities(t: Truth, rows: Rows) -> tuple[np.ndarray, np.ndarray]:
    """P(click) and P(conversion | click) of each row."""
    assert t.click is not None and t.cvr is not None, "heads are drawn by draw_truth"
    p = sigmoid(t.click.bias + t.click.scale * head_logit(t.click, t, rows))
    q = sigmoid(t.cvr.bias + t.cvr.scale * head_logit(t.cvr, t, rows))
    return p, q


def sigmoid(x: np.ndarray) -> np.ndarray:
    """The logistic function (clipped so ``exp`` never overflows)."""
    return 1.0 / (1.0 + np.exp(-np.clip(x, -60.0, 60.0)))


def _calibrate(f, rate: float, auc: float, weights=None) -> tuple[float, float]:
    """Scale and bias giving the target (weighted) positive rate and expected AUC."""
    w = np.ones_like(f) if weights is None else weights
    order = np.argsort(f, kind="stable")
    f, w = f[order], w[order]
    lo, hi, bias = 0.05, 5.0, float(np.log(rate / (1 - rate)))
    # Plain sums, not np.dot: OpenBLAS threads crawl on a busy 2-core machine.
    for _ in range(20):  # bisection on log(scale); the expected AUC grows with it
        scale = float(np.sqrt(lo * hi))
        for _ in range(50):  # damped Newton steps on the weighted mean probability
            p = sigmoid(bias + scale * f)
            wp = w * p
            step = (wp.sum() - rate * w.sum()) / max((wp * (1 - p)).sum(), 1e-9)
            bias -= float(min(max(step, -1.0), 1.0))
            if abs(step) < 1e-7:
                break
        # E[AUC] = sum over (i ranked below j) of w_j p_j w_i (1 - p_i) / E[#pos #neg]
        neg = w - wp
        expected = (wp * (np.cumsum(neg) - neg)).sum() / (
            wp.sum() * neg.sum() - (wp * neg).sum()
        )
        lo, hi = (scale, hi) if expected < auc else (lo, scale)
    return scale, bias
