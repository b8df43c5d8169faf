"""Metric names from metric configs (no metric code: importable anywhere)."""

from __future__ import annotations

from typing import Any

CUSTOM = "custom_metric"
# Metric kinds read per-row group ids from a column (their grouping_key).
GROUPED = ("grouped_auc", "grouped_xauc")


def metric_name(cfg: Any, suffix: str = "") -> str:
    """Eval-log name of a metric config, e.g. ``auc``, ``auc_ctr`` or ``f1``.

    TorchEasyRec's oneof field name, plus ``_<tower_name>`` for a multi-task
    tower; a ``custom_metric`` is named by its ``name``.
    """
    kind = cfg.WhichOneof("metric")
    if kind == CUSTOM:
        return f"{cfg.custom_metric.name}{suffix}"
    return f"{kind}{suffix}"


def metric_grouping_key(cfg: Any) -> str:
    """The group-id column a grouped metric reads, ``""`` for others."""
    kind = cfg.WhichOneof("metric")
    return getattr(cfg, kind).grouping_key if kind in GROUPED else ""
