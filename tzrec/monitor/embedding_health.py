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
  previous log step.

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

    @staticmethod
    def _norms(w: Tensor) -> Tensor:
        return torch.linalg.vector_norm(w.detach().float(), dim=1)

    def compute(self, sparse: dict[str, Any]) -> dict[str, float]:
        """Every statistic of this log step's batch and the tables now."""
        parts: list[Tensor] = []
        names: list[str] = []
        for coll, kjt in sparse.items():
            self._batch_stats(coll, kjt, parts, names)
        for table, w in self._weights.items():
            norms = self._norms(w)
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
        values = torch.stack([p.to(device, torch.float64) for p in parts]).tolist()
        out = dict(zip(names, values))
        for table in self._weights:
            mean = out[keys.table_tag(table, "row_norm_mean")]
            top = out[keys.table_tag(table, "row_norm_max")]
            if table in self._last:
                before = self._last[table]
                out[keys.table_tag(table, "row_norm_mean_drift")] = mean - before[0]
                out[keys.table_tag(table, "row_norm_max_drift")] = top - before[1]
            self._last[table] = (mean, top)
        return self._finish(out)

    def _batch_stats(
        self, coll: str, kjt: Any, parts: list[Tensor], names: list[str]
    ) -> None:
        pairs = self._keys.get(coll)
        if not pairs:
            return
        per_key = dict(zip(kjt.keys(), kjt.values().split(kjt.length_per_key())))
        lengths = dict(zip(kjt.keys(), kjt.lengths().split(kjt.stride_per_key())))
        by_table: dict[str, list[str]] = {}
        for key, table in pairs:
            if key in per_key:
                by_table.setdefault(table, []).append(key)
        for table, members in by_table.items():
            ids = torch.cat([per_key[k] for k in members])
            bags = torch.cat([lengths[k] for k in members])
            facts = self._facts[table]
            distinct = torch.unique(ids).numel() if ids.numel() else 0
            lookups = max(1, ids.numel())
            default = ids.new_zeros(())
            for special in facts["special_ids"]:
                default = default + (ids == special).sum()
            parts += [
                torch.tensor(float(distinct)),
                default.float() / lookups,
                (bags == 0).float().mean() if bags.numel() else torch.zeros(()),
            ]
            names += [
                keys.table_tag(table, "unique_ids"),
                keys.table_tag(table, "default_share"),
                keys.table_tag(table, "empty_share"),
            ]
            if facts["hashed"]:
                parts.append(
                    torch.tensor(collision_share(distinct, facts["num_embeddings"]))
                )
                names.append(keys.table_tag(table, "collision_share"))

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
        except Exception:  # noqa: BLE001 - the config was validated at build
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
