"""torchmetrics Metrics from ``MetricConfig`` / ``TrainMetricConfig`` protos.

Names follow TorchEasyRec: the oneof field name (``auc``, ``grouped_auc``,
...), plus ``_<tower_name>`` for a multi-task tower (``auc_ctr``); a
``custom_metric`` is named by its ``name`` (see :mod:`tzrec.metrics.registry`).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

from torchmetrics import Metric

from tzrec.metrics.auc import AUC, DecayAUC, MulticlassAUC
from tzrec.metrics.check import metric_problems
from tzrec.metrics.grouped import GroupedAUC
from tzrec.metrics.means import (
    Accuracy,
    Calibration,
    LossMean,
    MeanAbsoluteError,
    MeanSquaredError,
    NormalizedEntropy,
    RecallAtK,
)
from tzrec.metrics.names import CUSTOM, metric_name
from tzrec.metrics.registry import find_factory
from tzrec.metrics.train_metric_wrapper import TrainMetricWrapper
from tzrec.metrics.xauc import DEFAULT_SAMPLE_RATIO, XAUC, GroupedXAUC
from tzrec.monitor import keys
from tzrec.utils.errors import ConfigError, TzrecError

# (sub-message, num_class) -> metric
Builder = Callable[[Any, int], Metric]


def _xauc(cfg: Any, num_class: int) -> Metric:
    ratio = cfg.sample_ratio if cfg.HasField("sample_ratio") else DEFAULT_SAMPLE_RATIO
    return XAUC(ratio, cfg.max_pairs, cfg.in_batch)


def _custom(cfg: Any, num_class: int) -> Metric:
    factory = find_factory(cfg.name, cfg.factory)
    assert factory is not None  # metric_problems() checked it
    return factory()


_EVAL: dict[str, Builder] = {
    "auc": lambda cfg, n: AUC(thresholds=cfg.thresholds),
    "multiclass_auc": lambda cfg, n: MulticlassAUC(n, cfg.thresholds, cfg.average),
    "recall_at_k": lambda cfg, n: RecallAtK(cfg.top_k),
    "mean_absolute_error": lambda cfg, n: MeanAbsoluteError(),
    "mean_squared_error": lambda cfg, n: MeanSquaredError(),
    "accuracy": lambda cfg, n: Accuracy(threshold=cfg.threshold, top_k=cfg.top_k),
    "grouped_auc": lambda cfg, n: GroupedAUC(grouping_key=cfg.grouping_key),
    "xauc": _xauc,
    "grouped_xauc": lambda cfg, n: GroupedXAUC(
        cfg.grouping_key, cfg.max_pairs_per_group
    ),
    "normalized_entropy": lambda cfg, n: NormalizedEntropy(eps=cfg.eta),
    CUSTOM: _custom,
}
# auc decays its counts (DecayAUC); the others fold their window values.
_TRAIN: dict[str, Builder] = {
    **_EVAL,
    "auc": lambda cfg, n: DecayAUC(thresholds=cfg.thresholds),
}
CALIBRATION = "calibration"


def tower_suffix(tower_name: str | None) -> str:
    """``_<tower>`` for a multi-task tower, empty for single-task models."""
    return f"_{tower_name}" if tower_name else ""


def build_eval_metrics(
    configs: Iterable[Any],
    suffix: str = "",
    where: str = "model_config.metrics",
    calibration: bool = True,
    num_class: int = 1,
) -> dict[str, Metric]:
    """Eval metrics by name from ``MetricConfig`` messages.

    Args:
        configs: the repeated ``metrics`` field (model or task tower).
        suffix: name suffix, see :func:`tower_suffix`.
        where: config path of ``configs`` for errors.
        calibration: also add ``calibration`` (mean prediction / positive
            rate), which has no config message.
        num_class: the task's number of classes (``multiclass_auc``).

    Raises:
        ConfigError: listing every invalid, unset or duplicate metric.
    """
    metrics = _build(list(configs), suffix, where, _EVAL, num_class)
    if calibration:
        metrics[f"{CALIBRATION}{suffix}"] = Calibration()
    return metrics


def build_train_metrics(
    configs: Iterable[Any],
    suffix: str = "",
    where: str = "model_config.train_metrics",
    num_class: int = 1,
) -> dict[str, TrainMetricWrapper]:
    """Decayed train metrics by name from ``TrainMetricConfig`` messages.

    Raises:
        ConfigError: listing every invalid train metric.
    """
    configs = list(configs)
    metrics = _build(configs, suffix, where, _TRAIN, num_class)
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
    configs: list[Any],
    suffix: str,
    where: str,
    builders: dict[str, Builder],
    num_class: int,
) -> dict[str, Metric]:
    problems: list[TzrecError] = list(metric_problems(configs, where, suffix))
    _raise(problems)
    out: dict[str, Metric] = {}
    for i, cfg in enumerate(configs):
        kind = cfg.WhichOneof("metric")
        metric = builders[kind](getattr(cfg, kind), num_class)
        if not isinstance(metric, Metric):
            problems.append(
                ConfigError(
                    f"metric factory returned {type(metric).__name__}, "
                    "not a torchmetrics Metric",
                    f"{where}[{i}].{kind}",
                    "return a torchmetrics.Metric instance from the factory",
                )
            )
        out[metric_name(cfg, suffix)] = metric
    _raise(problems)
    return out


def _raise(problems: list[TzrecError]) -> None:
    if len(problems) == 1:
        raise problems[0]
    if problems:
        raise ConfigError("invalid metrics", problems=problems)


__all__ = [
    "build_eval_metrics",
    "build_loss_means",
    "build_train_metrics",
    "metric_name",
    "tower_suffix",
]
