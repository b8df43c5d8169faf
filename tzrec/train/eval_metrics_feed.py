"""Eval metrics of a pipeline and how one batch of predictions feeds them.

Shared by evaluation during training (:mod:`tzrec.train.session`) and the
standalone ``python -m tzrec.eval``, so both compute the same numbers.
"""

from __future__ import annotations

import functools
from collections.abc import Callable

import torch

from tzrec.datasets.batch import Batch
from tzrec.metrics.build import build_eval_metrics, build_loss_means
from tzrec.metrics.eval_metrics import Metric
from tzrec.models.model import RankModel
from tzrec.protos import pipeline_pb2

UpdateFn = Callable[[dict, dict[str, torch.Tensor], Batch], None]


def grouping_keys(config: pipeline_pb2.EasyRecConfig) -> list[str]:
    """Columns the eval metrics need carried in each batch (grouped AUC keys)."""
    cols = []
    for m in config.model_config.metrics:
        if m.WhichOneof("metric") == "grouped_auc":
            cols.append(m.grouped_auc.grouping_key)
    return list(dict.fromkeys(cols))


def build_eval_metric_set(
    config: pipeline_pb2.EasyRecConfig, loss_names: list[str]
) -> dict[str, Metric]:
    """The configured eval metrics plus ``loss_<name>`` means, by eval-log key."""
    metrics = build_eval_metrics(config.model_config.metrics)
    metrics.update(build_loss_means(loss_names))
    return metrics


def update_eval_metrics(
    model: RankModel,
    metrics: dict[str, Metric],
    preds: dict[str, torch.Tensor],
    batch: Batch,
) -> None:
    """Feeds one batch's predictions into every eval metric (no host sync).

    Args:
        model: the unwrapped model (its label, sample weight and losses).
        metrics: from :func:`build_eval_metric_set`.
        preds: the model's output for ``batch``.
        batch: the batch, on the predictions' device.

    """
    label = batch.labels[model.label_name]
    weights = (
        batch.weights.get(model.sample_weight_field)
        if model.sample_weight_field
        else None
    )
    losses = model.loss(preds, batch)
    for name, m in metrics.items():
        if name.startswith("loss_"):
            m.update(losses[name.removeprefix("loss_")], batch.batch_size)
        else:
            key = getattr(m, "grouping_key", None)
            m.update(
                preds["probs"], label, weights, batch.extras.get(key) if key else None
            )


def eval_metrics_updater(model: RankModel) -> UpdateFn:
    """:func:`update_eval_metrics` bound to ``model``, as ``evaluate`` takes it."""
    return functools.partial(update_eval_metrics, model)


def update_train_metrics(
    model: RankModel,
    metrics: dict,
    preds: dict[str, torch.Tensor],
    batch: Batch,
) -> None:
    """Feeds one train batch into the decayed train metrics (no host sync)."""
    if not metrics:
        return
    label = batch.labels[model.label_name]
    for m in metrics.values():
        m.update(preds["probs"], label)


def train_metrics_updater(model: RankModel) -> Callable:
    """:func:`update_train_metrics` bound to ``model`` and the metrics."""
    return functools.partial(update_train_metrics, model)
