"""Eval and train metrics of a pipeline and how one batch feeds them.

Shared by evaluation during training (:mod:`tzrec.train.trainer`) and the
standalone ``python -m tzrec.eval``, so both compute the same numbers; the
train loop feeds its decayed train metrics through here too. Every
metric is routed to its task's label, sample weight and prediction
(:func:`tzrec.models.tasks.metric_routes`), so single- and multi-task models
are fed alike; a multi-task model's names carry the tower suffix (``auc_ctr``).
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import TYPE_CHECKING

import torch
from torchmetrics import Metric

from tzrec.datasets.batch import Batch
from tzrec.metrics.base import target_kind, update_metric
from tzrec.metrics.build import (
    build_eval_metrics,
    build_loss_means,
    build_train_metrics,
)
from tzrec.metrics.train_metric_wrapper import TrainMetricWrapper
from tzrec.models.tasks import MetricRoute, Task, metric_routes, tasks_from_config
from tzrec.monitor import keys
from tzrec.protos import pipeline_pb2

if TYPE_CHECKING:  # the model is only passed through: no import of models/
    from tzrec.models.model import RankModel

UpdateFn = Callable[[dict, dict[str, torch.Tensor], Batch], None]


def config_tasks(config: pipeline_pb2.EasyRecConfig) -> list[Task]:
    """The tasks of the configured model (no model needed)."""
    dc = config.data_config
    return tasks_from_config(
        config.model_config, list(dc.label_fields), list(dc.sample_weight_fields)
    )


def grouping_keys(config: pipeline_pb2.EasyRecConfig, train: bool = False) -> list[str]:
    """Columns the eval (or train) metrics need carried in each batch.

    The grouping keys of grouped AUC / XAUC.
    """
    routes = metric_routes(config_tasks(config), train=train)
    return list(
        dict.fromkeys(r.grouping_key for r in routes.values() if r.grouping_key)
    )


def build_eval_metric_set(
    config: pipeline_pb2.EasyRecConfig, loss_names: list[str] | None = None
) -> dict[str, Metric]:
    """Every task's eval metrics and calibration plus ``loss_<name>`` means.

    Args:
        config: the pipeline config.
        loss_names: the model's loss names (default: from the config's tasks).
    """
    metrics: dict[str, Metric] = {}
    tasks = config_tasks(config)
    for task in tasks:
        metrics.update(
            build_eval_metrics(
                task.metrics,
                suffix=task.suffix,
                where=f"{task.where}.metrics",
                calibration=bool(task.probability_key),
                num_class=task.num_class,
            )
        )
    if loss_names is None:
        loss_names = [s.name for t in tasks for s in t.losses]
    metrics.update(build_loss_means(loss_names))
    return metrics


def build_train_metric_set(
    config: pipeline_pb2.EasyRecConfig,
) -> dict[str, TrainMetricWrapper]:
    """Every task's decayed train metrics by name (``auc`` or ``auc_ctr``)."""
    metrics: dict[str, TrainMetricWrapper] = {}
    for task in config_tasks(config):
        metrics.update(
            build_train_metrics(
                task.train_metrics,
                suffix=task.suffix,
                where=f"{task.where}.train_metrics",
                num_class=task.num_class,
            )
        )
    return metrics


def _feed(
    metric: Metric, route: MetricRoute, preds: dict[str, torch.Tensor], batch: Batch
) -> None:
    weights = batch.weights.get(route.weight_name) if route.weight_name else None
    group = batch.extras.get(route.grouping_key) if route.grouping_key else None
    pred, label = preds[route.pred_key], batch.labels[route.label_name]
    kind = target_kind(route.pred_key, pred)
    update_metric(metric, pred, label, weights, group, kind)


def update_eval_metrics(
    model: RankModel,
    metrics: dict[str, Metric],
    preds: dict[str, torch.Tensor],
    batch: Batch,
    routes: dict[str, MetricRoute] | None = None,
) -> None:
    """Feeds one batch's predictions into every eval metric (no host sync).

    Args:
        model: the unwrapped model (its tasks and losses).
        metrics: from :func:`build_eval_metric_set`.
        preds: the model's output for ``batch``.
        batch: the batch, on the predictions' device.
        routes: :func:`metric_routes` of the model's tasks (computed if None).
    """
    routes = routes if routes is not None else metric_routes(model.tasks)
    losses = model.loss(preds, batch)
    for name, m in metrics.items():
        if name in routes:
            _feed(m, routes[name], preds, batch)
        else:
            m.update(losses[name.removeprefix(keys.EVAL_LOSS_PREFIX)], batch.batch_size)


def eval_metrics_updater(model: RankModel) -> UpdateFn:
    """:func:`update_eval_metrics` bound to ``model``, as ``evaluate`` takes it."""
    return functools.partial(
        update_eval_metrics, model, routes=metric_routes(model.tasks)
    )


def update_train_metrics(
    routes: dict[str, MetricRoute],
    metrics: dict[str, TrainMetricWrapper],
    preds: dict[str, torch.Tensor],
    batch: Batch,
) -> None:
    """Feeds one train batch into the decayed train metrics (no host sync).

    Unweighted, as before; grouped metrics get their group column.
    """
    for name, m in metrics.items():
        route = routes[name]
        group = batch.extras.get(route.grouping_key) if route.grouping_key else None
        pred, label = preds[route.pred_key], batch.labels[route.label_name]
        m.update(pred, label, None, group, target_kind(route.pred_key, pred))


def train_metrics_updater(model: RankModel) -> Callable:
    """``(metrics, preds, batch) -> None`` feeding ``model``'s train metrics."""
    return functools.partial(
        update_train_metrics, metric_routes(model.tasks, train=True)
    )
