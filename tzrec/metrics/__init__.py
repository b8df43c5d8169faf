"""tzrec.metrics: eval metrics, decayed train metrics and their builders."""

from tzrec.metrics.build import (
    build_eval_metrics,
    build_loss_means,
    build_train_metrics,
    metric_name,
    tower_suffix,
)
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
    exact_auc,
)
from tzrec.metrics.train_metric_wrapper import TrainMetricWrapper

__all__ = [
    "AUC",
    "Accuracy",
    "Calibration",
    "DecayAUC",
    "GroupedAUC",
    "LossMean",
    "MeanAbsoluteError",
    "MeanSquaredError",
    "Metric",
    "NormalizedEntropy",
    "TrainMetricWrapper",
    "build_eval_metrics",
    "build_loss_means",
    "build_train_metrics",
    "exact_auc",
    "metric_name",
    "tower_suffix",
]
