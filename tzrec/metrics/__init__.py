"""tzrec.metrics: every metric a torchmetrics Metric, and what surrounds them.

Decayed train metrics, the builders from metric configs, the routing of
predictions to metrics, and the registry for users' own torchmetrics metrics.

Names are imported lazily, so importing a light submodule (``names``,
``check``) does not import torch.
"""

from __future__ import annotations

import importlib
from typing import Any

_WHERE = {
    "AUC": "auc",
    "DecayAUC": "auc",
    "MulticlassAUC": "auc",
    "Accuracy": "means",
    "Calibration": "means",
    "LossMean": "means",
    "MeanAbsoluteError": "means",
    "MeanSquaredError": "means",
    "NormalizedEntropy": "means",
    "RecallAtK": "means",
    "GroupedAUC": "grouped",
    "exact_auc": "grouped",
    "XAUC": "xauc",
    "GroupedXAUC": "xauc",
    "TzrecMetric": "base",
    "update_metric": "base",
    "target_kind": "base",
    "TrainMetricWrapper": "train_metric_wrapper",
    "build_eval_metrics": "build",
    "build_loss_means": "build",
    "build_train_metrics": "build",
    "tower_suffix": "build",
    "metric_name": "names",
    "register_metric": "registry",
    "unregister_metric": "registry",
    "registered_metrics": "registry",
}

__all__ = sorted(_WHERE)


def __getattr__(name: str) -> Any:
    if name not in _WHERE:
        raise AttributeError(f"module 'tzrec.metrics' has no attribute {name!r}")
    return getattr(importlib.import_module(f"tzrec.metrics.{_WHERE[name]}"), name)
