"""Pipeline-config fields read by ``tzrec.metrics``.

Collected by ``tzrec.config.coverage``: every field of the config is either
listed in some package's FIELDS_READ or rejected by ``tzrec.config.UNSUPPORTED``.
Add a field here in the change that makes this package read it.
"""

FIELDS_READ: tuple[str, ...] = (
    "MetricConfig.auc",
    "AUC.thresholds",
    "MetricConfig.mean_absolute_error",
    "MetricConfig.mean_squared_error",
    "MetricConfig.accuracy",
    "Accuracy.threshold",
    "Accuracy.top_k",
    "MetricConfig.grouped_auc",
    "GroupedAUC.grouping_key",
    "MetricConfig.normalized_entropy",
    "NormalizedEntropy.eta",
    "TrainMetricConfig.auc",
    "TrainMetricConfig.mean_absolute_error",
    "TrainMetricConfig.mean_squared_error",
    "TrainMetricConfig.accuracy",
    "TrainMetricConfig.decay_rate",
    "TrainMetricConfig.decay_step",
)
