r"""Synthetic Parquet data for any pipeline config, with a known ground truth.

Why: a user (or a test, or scripts/check_torcheasyrec_configs.py) holding a
config but not its data can still run it end to end. The columns, types and
value shapes are those the config's features read:

* id features: int64 ids in ``[0, num_buckets)``, or text tokens when ids are
  hashed (``hash_bucket_size``) or looked up in a vocabulary;
  ``weighted`` ones ``"id:weight"`` tokens; multi-value (``value_dim: 0``)
  ones tokens joined by the feature's ``separator``;
* raw features: float64 (``value_dim`` > 1: values joined by ``separator``),
  non-negative so expression normalizers such as ``log(x+3)`` apply, spread
  over the ``boundaries`` when there are any;
* combo features: one id column per expression;
* lookup features: a ``map<string, float64>`` column (int64 values when the
  lookup is discrete) and a key column;
* sequences: strings of positions joined by ``sequence_delim``; the
  sub-features of one ``sequence_feature`` share each row's length;
* every ``label_fields`` column (binary, class ids for softmax, real values
  for ``l2_loss``), every ``sample_weight_fields`` column, and the session
  column of a ``jrc_loss`` when no feature reads it.

Ground truth: every feature column gets random effects (per id value, per
bucket of a number); a row's logit is ``bias + scale * mean of its effects``,
with ``bias`` and ``scale`` fitted so the positive rate is about 25% and the
oracle AUC about 0.85. Each label draws from its own logit: the shared one
plus a task-specific random part, so tasks are related but not equal. Ids are
drawn from at most ``MAX_IDS`` values per column so that a few thousand rows
suffice to learn them.
"""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from tzrec.datasets.synthetic_columns import MAX_IDS, Column, plan_columns
from tzrec.datasets.synthetic_derived import draw_derived
from tzrec.protos import pipeline_pb2
from tzrec.run_dir.atomic import replace_durably, temp_sibling
from tzrec.utils.errors import ConfigError

TARGET_RATE = 0.25
_NUMBERS = 64  # buckets of a raw value's effect


@dataclasses.dataclass
class _Drawn:
    """A column's Arrow values and each row's ground-truth effect."""

    array: pa.Array
    effect: np.ndarray


class _Generator:
    """Draws columns and their effects; effects are fixed by the seed."""

    def __init__(self, seed: int) -> None:
        self.truth_rng = np.random.default_rng(seed)
        self.effects: dict[str, np.ndarray] = {}

    def effect_table(self, key: str, n: int) -> np.ndarray:
        if key not in self.effects:
            self.effects[key] = self.truth_rng.normal(0.0, 1.0, n)
        return self.effects[key]

    def ids(self, rng: np.random.Generator, col: Column, n: int) -> np.ndarray:
        # Zipf-like: low ids are frequent, as in real id columns.
        p = 1.0 / np.arange(1, col.card + 1) ** 0.8
        return rng.choice(col.card, size=n, p=p / p.sum())

    def token(self, col: Column, ids: np.ndarray) -> pa.Array:
        if col.vocab:
            return pa.array(np.asarray(col.vocab, dtype=object)[ids % len(col.vocab)])
        return pc.binary_join_element_wise("v", _text(ids), "")

    def draw(self, rng: np.random.Generator, col: Column, n: int, lens: dict) -> _Drawn:
        if col.kind in ("id", "text"):
            return self._id(rng, col, n)
        if col.kind == "float":
            return self._float(rng, col, n)
        if col.kind == "map":
            return self._map(rng, col, n)
        derived = draw_derived(self, rng, col, n, lens)
        if derived is not None:
            return _Drawn(*derived)
        return self._sequence(rng, col, n, lens)

    def _id(self, rng: np.random.Generator, col: Column, n: int) -> _Drawn:
        card = len(col.vocab) if col.vocab else col.card
        col = dataclasses.replace(col, card=card)
        eff = self.effect_table(col.name, card)
        if not col.multi and not col.weighted:
            ids = self.ids(rng, col, n)
            values = pa.array(ids) if col.kind == "id" else self.token(col, ids)
            return _Drawn(values, eff[ids])
        k = max(col.multi, 1)
        ids = self.ids(rng, col, n * k)
        tok = _text(ids if col.kind == "id" else self.token(col, ids))
        if col.weighted:
            w = _text(np.round(rng.uniform(0.5, 2.0, n * k), 2))
            tok = pc.binary_join_element_wise(tok, w, ":")
        joined = _join(tok, np.full(n, k), col.separator)
        return _Drawn(joined, eff[ids.reshape(n, k)].mean(axis=1))

    def _numbers(self, rng: np.random.Generator, col: Column, n: int) -> np.ndarray:
        b = [x for x in col.boundaries]
        if len(b) >= 2:
            lo, hi = min(b), max(b)
            span = hi - lo
            return rng.uniform(lo - 0.05 * span, hi + 0.05 * span, n)
        return np.floor(rng.lognormal(1.5, 1.2, n))

    def _bucket_effect(self, col: Column, x: np.ndarray) -> np.ndarray:
        eff = self.effect_table(col.name, _NUMBERS)
        rank = np.argsort(np.argsort(x, kind="stable"), kind="stable")
        # Smooth in the value: effect of the value's quantile bucket.
        smooth = np.cumsum(eff) / np.sqrt(np.arange(1, _NUMBERS + 1))
        return smooth[(rank * _NUMBERS) // max(len(x), 1)] / 2.0

    def _float(self, rng: np.random.Generator, col: Column, n: int) -> _Drawn:
        x = self._numbers(rng, col, n * col.value_dim).reshape(n, col.value_dim)
        effect = self._bucket_effect(col, x[:, 0])
        if col.value_dim == 1:
            return _Drawn(pa.array(x[:, 0]), effect)
        joined = _join(_text(x.ravel()), np.full(n, col.value_dim), col.separator)
        return _Drawn(joined, effect)

    def _map(self, rng: np.random.Generator, col: Column, n: int) -> _Drawn:
        keys = [f"v{k}" for k in range(10)]  # the key column's tokens
        eff = self.effect_table(col.name, 10)
        k = 4
        chosen = np.argsort(rng.random((n, 10)), axis=1)[:, :k]
        if col.map_int:
            vals = rng.integers(0, MAX_IDS, (n, k))
        else:
            vals = np.round(rng.uniform(0, 10, (n, k)), 3)
        offsets = np.arange(0, n * k + 1, k, dtype=np.int32)
        key_arr = pa.array(np.asarray(keys, dtype=object)[chosen.ravel()], pa.string())
        val_type = pa.int64() if col.map_int else pa.float64()
        arr = pa.MapArray.from_arrays(
            pa.array(offsets), key_arr, pa.array(vals.ravel(), val_type)
        )
        return _Drawn(arr, eff[chosen].mean(axis=1) * 0.5)

    def _sequence(
        self, rng: np.random.Generator, col: Column, n: int, lens: dict
    ) -> _Drawn:
        if col.sequence not in lens:
            lens[col.sequence] = rng.integers(0, col.seq_len + 1, n)
        length = lens[col.sequence]
        total = int(length.sum())
        if col.kind == "seq_id":
            base = dataclasses.replace(col, kind="id" if not col.vocab else "text")
            ids = self.ids(rng, base, total)
            eff = self.effect_table(col.name, base.card)[ids]
            tok = _text(ids if not col.vocab else self.token(col, ids))
        else:
            x = self._numbers(rng, col, total)
            eff = self._bucket_effect(col, x) if total else np.zeros(0)
            tok = _text(x)
        rows = np.repeat(np.arange(n), length)
        per_row = np.bincount(rows, weights=eff, minlength=n) / np.maximum(length, 1)
        return _Drawn(_join(tok, length, col.delim), per_row)


def _text(values: np.ndarray) -> pa.Array:
    """Values as an Arrow string array (vectorised cast)."""
    arr = pa.array(values)
    return arr if pa.types.is_string(arr.type) else arr.cast(pa.string())


def _join(tokens: pa.Array, lengths: np.ndarray, sep: str) -> pa.Array:
    """Per row, its ``lengths[i]`` consecutive tokens joined by ``sep``."""
    offsets = np.concatenate([[0], np.cumsum(lengths)]).astype(np.int32)
    lists = pa.ListArray.from_arrays(pa.array(offsets), tokens)
    return pc.binary_join(lists, sep)


def _label_kinds(config: pipeline_pb2.EasyRecConfig) -> dict[str, tuple[str, int]]:
    """Label -> (loss kind, num_class) from the model's tasks."""
    mc = config.model_config
    kind = mc.WhichOneof("model")
    out: dict[str, tuple[str, int]] = {}
    towers = getattr(getattr(mc, kind), "task_towers", []) if kind else []
    for t in towers:
        loss = t.losses[0].WhichOneof("loss") if t.losses else ""
        out[t.label_name] = (loss or "", t.num_class)
    if not towers and config.data_config.label_fields:
        loss = mc.losses[0].WhichOneof("loss") if mc.losses else ""
        out[config.data_config.label_fields[0]] = (loss or "", mc.num_class)
    return out


def _session_columns(config: pipeline_pb2.EasyRecConfig) -> list[str]:
    mc = config.model_config
    kind = mc.WhichOneof("model")
    losses = list(mc.losses)
    for t in getattr(getattr(mc, kind), "task_towers", []) if kind else []:
        losses += list(t.losses)
    return [
        loss.jrc_loss.session_name
        for loss in losses
        if loss.WhichOneof("loss") == "jrc_loss" and loss.jrc_loss.session_name
    ]


def _fit_bias_scale(score: np.ndarray) -> tuple[float, float]:
    """Bias and scale giving ~25% positives and an oracle AUC near 0.85."""
    z = (score - score.mean()) / max(score.std(), 1e-9)
    scale = 2.2
    lo, hi = -10.0, 10.0
    for _ in range(50):  # bisection on the bias for the target rate
        mid = (lo + hi) / 2
        rate = (1 / (1 + np.exp(-(mid + scale * z)))).mean()
        lo, hi = (mid, hi) if rate < TARGET_RATE else (lo, mid)
    return (lo + hi) / 2, scale


def oracle_auc(prob: np.ndarray, label: np.ndarray) -> float:
    """AUC of ``prob`` against 0/1 ``label`` (ties averaged)."""
    order = np.argsort(prob, kind="stable")
    ranks = np.empty(len(prob))
    ranks[order] = np.arange(1, len(prob) + 1)
    pos = label.astype(bool)
    n_pos, n_neg = pos.sum(), (~pos).sum()
    if not n_pos or not n_neg:
        return float("nan")
    return float((ranks[pos].sum() - n_pos * (n_pos + 1) / 2) / (n_pos * n_neg))


def _table(
    config: pipeline_pb2.EasyRecConfig,
    columns: list[Column],
    gen: _Generator,
    n: int,
    rng: np.random.Generator,
    fit: tuple[float, float] | None,
) -> tuple[pa.Table, dict, tuple[float, float]]:
    arrays: dict[str, pa.Array] = {}
    effects = []
    lens: dict[str, np.ndarray] = {}
    for col in columns:
        drawn = gen.draw(rng, col, n, lens)
        arrays[col.name] = drawn.array
        effects.append(drawn.effect)
    score = np.mean(effects, axis=0) if effects else np.zeros(n)
    if fit is None:
        fit = _fit_bias_scale(score)
    bias, scale = fit
    z = (score - score.mean()) / max(score.std(), 1e-9)
    stats: dict[str, Any] = {}
    kinds = _label_kinds(config)
    for i, label in enumerate(config.data_config.label_fields):
        if label in arrays:
            continue
        own = gen.effect_table(f"label:{label}", 1)[0] * 0.3
        noise = gen.truth_rng.normal(0, 0.5, n) if i else 0.0
        logit = bias + own + scale * z + noise
        loss, num_class = kinds.get(label, ("", 1))
        if loss == "l2_loss":
            arrays[label] = pa.array(logit + rng.normal(0, 1.0, n))
            continue
        prob = 1 / (1 + np.exp(-logit))
        if loss == "softmax_cross_entropy" and num_class > 2:
            edges = np.quantile(logit, np.linspace(0, 1, num_class + 1)[1:-1])
            arrays[label] = pa.array(np.searchsorted(edges, logit).astype(np.int64))
            continue
        y = (rng.random(n) < prob).astype(np.int64)
        arrays[label] = pa.array(y)
        stats[label] = {
            "positive_rate": float(y.mean()),
            "oracle_auc": oracle_auc(prob, y),
        }
    for w in config.data_config.sample_weight_fields:
        arrays.setdefault(w, pa.array(rng.uniform(0.5, 1.5, n)))
    for s in _session_columns(config):
        # About 8 rows per session, like a user's impressions in one visit.
        arrays.setdefault(s, pa.array(rng.integers(0, max(n // 8, 1), n)))
    return pa.table(arrays), stats, fit


def generate_from_config(
    config: pipeline_pb2.EasyRecConfig,
    output_dir: str,
    num_rows: int,
    num_eval_rows: int,
    seed: int = 2026,
) -> dict:
    """Writes ``train/`` and ``eval/`` Parquet and ``meta.json``; returns the meta.

    Raises:
        ConfigError: the config has no features or no labels.
    """
    if not config.feature_configs:
        raise ConfigError("no feature_configs", "feature_configs", "add features")
    if not config.data_config.label_fields:
        raise ConfigError(
            "no label_fields", "data_config.label_fields", 'add label_fields: "label"'
        )
    if num_rows <= 0 or num_eval_rows <= 0:
        raise ConfigError(
            "row counts must be > 0", "--num_rows/--num_eval_rows", "e.g. 10000"
        )
    columns, skipped = plan_columns(config)
    gen = _Generator(seed)
    meta: dict[str, Any] = {"seed": seed, "skipped_feature_types": skipped}
    fit = None
    for split, n, s in (("train", num_rows, 1), ("eval", num_eval_rows, 2)):
        rng = np.random.default_rng([seed, s])
        table, stats, fit = _table(config, columns, gen, n, rng, fit)
        folder = Path(output_dir) / split
        folder.mkdir(parents=True, exist_ok=True)
        final = str(folder / "part-0.parquet")
        tmp = temp_sibling(final)
        pq.write_table(table, tmp)
        replace_durably(tmp, final)
        meta[split] = {"num_rows": n, "labels": stats}
    meta["columns"] = {f.name: str(f.type) for f in table.schema}
    (Path(output_dir) / "meta.json").write_text(json.dumps(meta, indent=1) + "\n")
    return meta
