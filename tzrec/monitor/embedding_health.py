"""Embedding-table health, per table, on log steps only.

Read from outside the model: the log step's batch (its KeyedJaggedTensors)
and the tables' weights (the live local shards behind ``state_dict``, which
the fused optimizer updates in place). Between log steps nothing runs; on a
log step every statistic is computed on the device and read back in one
transfer. Tags ``table/<table>/<stat>`` (not ``embedding/``: TensorBoard
opens the first two tag groups in sort order, which must stay ``loss`` and
``metric``):

- ``unique_ids``: distinct ids of the table in this batch;
- ``default_share``: share of this batch's lookups that hit the table's
  default bucket (``default_value``'s id) or its out-of-vocabulary id, plus
  ``empty_share``: share of bags with no id at all (a zero vector);
- ``collision_share`` (hashed tables): estimated share of the batch's distinct
  raw values that share a bucket with another, from the distinct buckets D of
  m by inverting D = m (1 - (1 - 1/m)^n) for the distinct raw values n (the
  batch is the sampled window; raw values are gone once hashed);
- ``rows_updated_share``: share of rows whose weights changed since this
  launch started (an untouched row keeps its values);
- ``row_norm_mean``, ``row_norm_max`` and their ``_drift``: change since the
  previous reading. Reading every row is the one costly part, so a log step
  reads the tables in turn, a quarter of all rows (at least 262,144) each
  time: small models read every table on every log step, the quickstart's
  1.35M rows each table every fourth log step.

Tables sharded to other ranks are not seen by rank 0 (rank 0 writes); on one
rank every table is.
"""

from __future__ import annotations

import math
from typing import Any

import torch
from torch import Tensor, nn

from tzrec.modules.embedding import WIDE_PREFIX
from tzrec.monitor import keys

_WEIGHT = ".embedding_bags."
ROWS_PER_LOG = 262_144


def _local(t: Any) -> Tensor | None:
    """The local rows of a table weight (a plain tensor or one local shard)."""
    if hasattr(t, "local_shards"):
        shards = t.local_shards()
        return shards[0].tensor if len(shards) == 1 else None
    return t if isinstance(t, Tensor) else None


class EmbeddingHealth:
    """Per-table health statistics of one model, computed on log steps.

    Args:
        model: the unwrapped RankModel (its embedding collections' layout).
        wrapped: the module whose ``state_dict`` holds the (sharded) tables.
        features: the features (bucketing: hashed, default and unknown ids).
    """

    def __init__(
        self, model: nn.Module, wrapped: nn.Module, features: list[Any]
    ) -> None:
        group = model.embedding_group
        by_name = {f.name: f for f in features}
        # collection -> [(feature key, table)], and per table its facts
        self._keys: dict[str, list[tuple[str, str]]] = {}
        self._facts: dict[str, dict[str, Any]] = {}
        layout = {
            "deep": ("", getattr(group, "deep_keys", [])),
            "wide": (WIDE_PREFIX, getattr(group, "wide_keys", [])),
        }
        seen: set[str] = set()
        for coll, (prefix, names) in layout.items():
            for key in names:
                feature = by_name.get(key)
                spec = getattr(feature, "table", None)
                if spec is None:
                    continue
                table = prefix + spec.name
                self._facts.setdefault(table, _facts(feature, spec.num_embeddings))
                # A feature in both: its batch statistics once, deep's.
                if key not in seen:
                    self._keys.setdefault(coll, []).append((key, table))
                    seen.add(key)
        self._weights: dict[str, Tensor] = {}
        for name, t in wrapped.state_dict().items():
            if _WEIGHT in name:
                table = name.split(_WEIGHT, 1)[1].rsplit(".", 1)[0]
                local = _local(t)
                if table in self._facts and local is not None and local.dim() == 2:
                    self._weights[table] = local
        self._start_norms = {t: self._norms(w) for t, w in self._weights.items()}
        self._last: dict[str, tuple[float, float]] = {}
        self._layouts: dict[tuple, dict[str, Any] | None] = {}
        # Row norms cost a pass over every table: a log step reads tables in
        # turn until a quarter of all rows (at least ROWS_PER_LOG) is read.
        total = sum(w.shape[0] for w in self._weights.values())
        self._row_budget = max(total // 4, ROWS_PER_LOG)
        self._order = sorted(self._weights)
        self._next = 0

    def _tables_this_step(self) -> list[str]:
        """The tables whose rows this log step reads (round robin)."""
        chosen: list[str] = []
        rows = 0
        while (
            self._order and len(chosen) < len(self._order) and (rows < self._row_budget)
        ):
            table = self._order[self._next % len(self._order)]
            self._next += 1
            chosen.append(table)
            rows += self._weights[table].shape[0]
        return chosen

    @staticmethod
    def _norms(w: Tensor) -> Tensor:
        return torch.linalg.vector_norm(w.detach().float(), dim=1)

    def compute(self, sparse: dict[str, Any]) -> dict[str, float]:
        """Every statistic of this log step's batch and the tables now."""
        parts: list[Tensor] = []
        names: list[str] = []
        for coll, kjt in sparse.items():
            self._batch_stats(coll, kjt, parts, names)
        refreshed = self._tables_this_step()
        for table in refreshed:
            norms = self._norms(self._weights[table])
            changed = (norms != self._start_norms[table]).float().mean()
            parts += [changed, norms.mean(), norms.max()]
            names += [
                keys.table_tag(table, "rows_updated_share"),
                keys.table_tag(table, "row_norm_mean"),
                keys.table_tag(table, "row_norm_max"),
            ]
        if not parts:
            return {}
        device = parts[0].device
        values = torch.cat(
            [p.to(device, torch.float64).reshape(-1) for p in parts]
        ).tolist()
        out = dict(zip(names, values))
        for table in refreshed:
            mean = out[keys.table_tag(table, "row_norm_mean")]
            top = out[keys.table_tag(table, "row_norm_max")]
            if table in self._last:
                before = self._last[table]
                out[keys.table_tag(table, "row_norm_mean_drift")] = mean - before[0]
                out[keys.table_tag(table, "row_norm_max_drift")] = top - before[1]
            self._last[table] = (mean, top)
        return self._finish(out)

    def _layout(self, coll: str, kjt_keys: list[str]) -> dict[str, Any] | None:
        """Per-collection lookup tensors (and table names), built once per key order."""
        cache_key = (coll, tuple(kjt_keys))
        if cache_key in self._layouts:
            return self._layouts[cache_key]
        mine = dict(self._keys.get(coll, []))
        tables = sorted({mine[k] for k in kjt_keys if k in mine})
        if not tables:
            self._layouts[cache_key] = None
            return None
        sizes = [self._facts[t]["num_embeddings"] for t in tables]
        starts = [0]
        for n in sizes[:-1]:
            starts.append(starts[-1] + n)
        special = torch.zeros(sum(sizes), dtype=torch.bool)
        for t, start in zip(tables, starts):
            for sid in self._facts[t]["special_ids"]:
                if 0 <= sid < self._facts[t]["num_embeddings"]:
                    special[start + sid] = True
        layout = {
            "tables": tables,
            "key_table": torch.tensor(
                [tables.index(mine[k]) if k in mine else -1 for k in kjt_keys]
            ),
            "starts": torch.tensor(starts),
            "sizes": torch.tensor(sizes, dtype=torch.float64),
            "special": special,
            "hashed": torch.tensor([self._facts[t]["hashed"] for t in tables]),
        }
        self._layouts[cache_key] = layout
        return layout

    def _batch_stats(
        self, coll: str, kjt: Any, parts: list[Tensor], names: list[str]
    ) -> None:
        """Distinct ids, default and empty shares, collisions: a few whole-batch ops.

        Ids are offset by their table's start so one ``unique`` over the
        collection counts every table's distinct ids.
        """
        layout = self._layout(coll, list(kjt.keys()))
        if layout is None:
            return
        values, device = kjt.values(), kjt.values().device
        lay: dict[str, Any] = {
            k: v.to(device) if isinstance(v, Tensor) else v for k, v in layout.items()
        }
        n_tables = len(lay["tables"])
        per_key = torch.tensor(kjt.length_per_key(), device=device)
        key_of = torch.repeat_interleave(
            torch.arange(len(per_key), device=device), per_key, output_size=len(values)
        )
        table_of = lay["key_table"][key_of]
        keep = table_of >= 0
        table_of, ids = table_of[keep], values[keep]
        gid = ids + lay["starts"][table_of]
        uniq = torch.unique(gid)
        distinct = torch.bincount(
            torch.searchsorted(lay["starts"], uniq, right=True) - 1, minlength=n_tables
        ).double()
        lookups = torch.bincount(table_of, minlength=n_tables).double()
        hits = torch.bincount(
            table_of, weights=lay["special"][gid].double(), minlength=n_tables
        )
        stride = kjt.stride()
        empty_per_key = (kjt.lengths().view(-1, stride) == 0).sum(1).double()
        key_ok = lay["key_table"] >= 0
        empty = torch.zeros(n_tables, dtype=torch.float64, device=device)
        empty.index_add_(0, lay["key_table"][key_ok], empty_per_key[key_ok])
        bags = torch.zeros_like(empty).index_add_(
            0, lay["key_table"][key_ok], torch.full_like(empty_per_key[key_ok], stride)
        )
        m = lay["sizes"]
        frac = (distinct / m).clamp(max=1.0)
        raw = torch.log1p(-frac) / torch.log1p(-1.0 / m.clamp(min=2.0))
        collide = torch.where(
            distinct > 0, 1.0 - distinct / raw, torch.zeros_like(distinct)
        )
        collide = torch.where(frac >= 1.0, torch.full_like(collide, math.nan), collide)
        stats = {
            "unique_ids": distinct,
            "default_share": hits / lookups.clamp(min=1.0),
            "empty_share": empty / bags.clamp(min=1.0),
        }
        for stat, vec in stats.items():
            parts.append(vec)
            names.extend(keys.table_tag(t, stat) for t in lay["tables"])
        hashed = [i for i, h in enumerate(lay["hashed"].tolist()) if h]
        if hashed:
            parts.append(collide[hashed])
            names.extend(
                keys.table_tag(lay["tables"][i], "collision_share") for i in hashed
            )

    @staticmethod
    def _finish(out: dict[str, float]) -> dict[str, float]:
        return {k: v for k, v in out.items() if math.isfinite(v)}


def _facts(feature: Any, num_embeddings: int) -> dict[str, Any]:
    """What health needs of a table: hashed?, rows, default/unknown ids."""
    bucketizer = getattr(feature, "bucketizer", None)
    special: list[int] = []
    if bucketizer is not None and getattr(bucketizer, "mode", "") == "vocab":
        special.append(int(bucketizer.unknown))
    default = getattr(feature, "default", None)
    if bucketizer is not None and default is not None:
        try:
            special.append(int(bucketizer.token_id(default, feature.name)))
        except Exception:  # the config was validated at build
            pass
    return {
        "hashed": getattr(bucketizer, "mode", "") == "hash",
        "num_embeddings": int(num_embeddings),
        "special_ids": sorted(set(special)),
    }


def collision_share(distinct_buckets: int, buckets: int) -> float:
    """Estimated share of distinct raw values that collide in a uniform hash.

    ``distinct_buckets`` D of ``buckets`` m were hit; the distinct raw values
    n solve D = m (1 - (1 - 1/m)^n), and 1 - D/n of them share a bucket.
    """
    d, m = float(distinct_buckets), float(buckets)
    if d <= 0 or m <= 1:
        return 0.0
    if d >= m:
        return math.nan  # saturated: every bucket hit, n unknown
    n = math.log1p(-d / m) / math.log1p(-1.0 / m)
    return max(0.0, 1.0 - d / n)
