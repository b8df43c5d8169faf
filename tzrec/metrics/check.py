"""Checks of metric configs, run when the config is validated (no torch).

One place says what a ``MetricConfig`` / ``TrainMetricConfig`` entry needs,
so config validation (through :func:`tzrec.models.tasks.tasks_from_config`)
and the metric builders report the same problems.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from tzrec.metrics.names import CUSTOM, GROUPED, metric_name
from tzrec.utils.errors import ConfigError

RESERVED = ("calibration",)  # names tzrec adds itself (and loss_<name>)
AVERAGES = ("macro", "weighted")


def metric_problems(
    configs: Iterable[Any], where: str, suffix: str = "", validated: bool = False
) -> list[ConfigError]:
    """Every problem of a repeated ``metrics`` / ``train_metrics`` field.

    Args:
        configs: the metric config messages.
        where: config path of the field, e.g. ``model_config.metrics``.
        suffix: the task's name suffix (``_ctr``), for duplicate names.
        validated: the config validation already reported an unset metric
            type and an unset ``grouped_auc.grouping_key``
            (``tzrec.config_validate``): leave those out.
    """
    problems: list[ConfigError] = []
    seen: set[str] = set()
    for i, cfg in enumerate(configs):
        at = f"{where}[{i}]"
        kind = cfg.WhichOneof("metric")
        if kind is None:
            if not validated:
                problems.append(
                    ConfigError("metric type not set", at, "set one, e.g. auc {}")
                )
            continue
        if not (validated and kind == "grouped_auc"):
            problems += _kind_problems(kind, getattr(cfg, kind), f"{at}.{kind}")
        name = metric_name(cfg, suffix)
        if name in seen:
            problems.append(
                ConfigError(f"metric {name!r} is configured twice", at, "keep one")
            )
        seen.add(name)
    return problems


def _kind_problems(kind: str, sub: Any, at: str) -> list[ConfigError]:
    if kind in GROUPED and not sub.grouping_key:
        return [
            ConfigError(
                f"{kind} needs a grouping_key",
                f"{at}.grouping_key",
                "name the column holding the group id, e.g. user_id",
            )
        ]
    if kind in ("auc", "multiclass_auc") and sub.thresholds < 2:
        return [ConfigError("thresholds must be at least 2", f"{at}.thresholds")]
    if kind == "multiclass_auc" and sub.average not in AVERAGES:
        return [
            ConfigError(
                f"average {sub.average!r} is not supported",
                f"{at}.average",
                f"use one of {', '.join(AVERAGES)}",
            )
        ]
    if kind == "recall_at_k" and sub.top_k < 1:
        return [ConfigError("top_k must be >= 1", f"{at}.top_k")]
    if kind == "xauc" and sub.HasField("sample_ratio"):
        if not 0.0 < sub.sample_ratio <= 1.0:
            return [
                ConfigError(
                    f"sample_ratio must be in (0, 1], got {sub.sample_ratio:g}",
                    f"{at}.sample_ratio",
                    "use e.g. 0.001 (the share of all row pairs scored)",
                )
            ]
    if kind == CUSTOM:
        return _custom_problems(sub, at)
    return []


def _custom_problems(sub: Any, at: str) -> list[ConfigError]:
    from tzrec.metrics.registry import find_factory

    if not sub.name:
        return [
            ConfigError(
                "custom_metric needs a name",
                f"{at}.name",
                "name a metric registered with tzrec.metrics.register_metric",
            )
        ]
    if sub.name in RESERVED or sub.name.startswith("loss_"):
        return [
            ConfigError(
                f"custom_metric name {sub.name!r} is taken by tzrec",
                f"{at}.name",
                "choose another name",
            )
        ]
    try:
        factory = find_factory(sub.name, sub.factory)
    except (ImportError, AttributeError, ValueError) as e:
        return [
            ConfigError(
                f"cannot import metric factory {sub.factory!r}: {e}",
                f"{at}.factory",
                'give "package.module:callable" of an installed package',
            )
        ]
    if factory is None:
        return [
            ConfigError(
                f"metric {sub.name!r} is not registered",
                f"{at}.name",
                "call tzrec.metrics.register_metric(name, factory) before "
                'training, or set factory: "package.module:callable"',
            )
        ]
    return []
