"""Metric objects from ``MetricConfig`` / ``TrainMetricConfig`` protos.

Names follow TorchEasyRec: the oneof field name (``auc``, ``grouped_auc``,
...), plus ``_<tower_name>`` for a multi-task tower (``auc_ctr``).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

from tzrec.metrics.decay_auc import DecayAUC
from tzrec.metrics.eval_metrics import (
    AUC,
    Accuracy,
    Calibration,
    GroupedAUC,
    LossMean,
    MeanAbsoluteError,
    MeanSquaredError,
    Metric,
    NormalizedEntropy,
)
from tzrec.metrics.train_metric_wrapper import TrainMetricWrapper
from tzrec.monitor import keys
from tzrec.utils.errors import ConfigError, TzrecError


def _auc(cfg: Any) -> Metric:
    return AUC(thresholds=cfg.thresholds)


def _grouped_auc(cfg: Any) -> Metric:
    return GroupedAUC(grouping_key=cfg.grouping_key)


_EVAL: dict[str, Callable[[Any], Metric]] = {
    "auc": _auc,
    "grouped_auc": _grouped_auc,
    "accuracy": lambda cfg: Accuracy(threshold=cfg.threshold, top_k=cfg.top_k),
    "mean_squared_error": lambda cfg: MeanSquaredError(),
    "mean_absolute_error": lambda cfg: MeanAbsoluteError(),
    "normalized_entropy": lambda cfg: NormalizedEntropy(eps=cfg.eta),
}
# auc decays its counts (DecayAUC); the others fold their window values.
_TRAIN: dict[str, Callable[[Any], Metric]] = {
    "auc": lambda cfg: DecayAUC(thresholds=cfg.thresholds),
    "accuracy": _EVAL["accuracy"],
    "mean_squared_error": _EVAL["mean_squared_error"],
    "mean_absolute_error": _EVAL["mean_absolute_error"],
}
CALIBRATION = "calibration"


def metric_name(cfg: Any, suffix: str = "") -> str:
    """TorchEasyRec's name of a metric config, e.g. ``auc`` or ``auc_ctr``."""
    return f"{cfg.WhichOneof('metric')}{suffix}"


def tower_suffix(tower_name: str | None) -> str:
    """``_<tower>`` for a multi-task tower, empty for single-task models."""
    return f"_{tower_name}" if tower_name else ""


def build_eval_metrics(
    configs: Iterable[Any],
    suffix: str = "",
    where: str = "model_config.metrics",
    calibration: bool = True,
) -> dict[str, Metric]:
    """Eval metrics by name from ``MetricConfig`` messages.

    Args:
        configs: the repeated ``metrics`` field (model or task tower).
        suffix: name suffix, see :func:`tower_suffix`.
        where: config path of ``configs`` for errors.
        calibration: also add ``calibration`` (mean prediction / positive
            rate), which has no config message.

    Raises:
        ConfigError: listing every unsupported, unset or duplicate metric.
    """
    metrics = _build(configs, suffix, where, _EVAL)
    if calibration:
        metrics[f"{CALIBRATION}{suffix}"] = Calibration()
    return metrics


def build_train_metrics(
    configs: Iterable[Any],
    suffix: str = "",
    where: str = "model_config.train_metrics",
) -> dict[str, TrainMetricWrapper]:
    """Decayed train metrics by name from ``TrainMetricConfig`` messages.

    Raises:
        ConfigError: listing every unsupported or invalid train metric.
    """
    configs = list(configs)
    metrics = _build(configs, suffix, where, _TRAIN)
    out: dict[str, TrainMetricWrapper] = {}
    # _build raised unless every config became one metric, in order; decay
    # settings were checked by config validation.
    for cfg, (name, metric) in zip(configs, metrics.items()):
        out[name] = TrainMetricWrapper(
            metric,
            decay_rate=round(float(cfg.decay_rate), 6),  # float32 in the proto
            decay_step=cfg.decay_step,
        )
    return out


def build_loss_means(loss_names: Iterable[str]) -> dict[str, LossMean]:
    """Batch-weighted eval means of each loss, keyed ``loss_<name>``."""
    return {keys.eval_loss_name(n): LossMean() for n in loss_names}


def _build(
    configs: Iterable[Any],
    suffix: str,
    where: str,
    builders: dict[str, Callable[[Any], Metric]],
) -> dict[str, Metric]:
    out: dict[str, Metric] = {}
    problems: list[TzrecError] = []
    for i, cfg in enumerate(configs):
        kind = cfg.WhichOneof("metric")
        at = f"{where}[{i}]"
        if kind is None:
            problems.append(
                ConfigError("metric type not set", at, _supported(builders))
            )
        elif kind not in builders:
            problems.append(
                ConfigError(
                    f"metric {kind!r} is not supported here", at, _supported(builders)
                )
            )
        elif kind == "grouped_auc" and not cfg.grouped_auc.grouping_key:
            problems.append(
                ConfigError(
                    "grouped_auc needs a grouping_key",
                    f"{at}.grouped_auc.grouping_key",
                    "name the column holding the group id, e.g. user_id",
                )
            )
        elif metric_name(cfg, suffix) in out:
            problems.append(
                ConfigError(
                    f"metric {metric_name(cfg, suffix)!r} is configured twice",
                    at,
                    "keep one",
                )
            )
        else:
            out[metric_name(cfg, suffix)] = builders[kind](getattr(cfg, kind))
    _raise(problems)
    return out


def _supported(builders: dict[str, Any]) -> str:
    return f"use one of {', '.join(sorted(builders))}"


def _raise(problems: list[TzrecError]) -> None:
    if len(problems) == 1:
        raise problems[0]
    if problems:
        raise ConfigError("invalid metrics", problems=problems)
