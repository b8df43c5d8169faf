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
    "MetricConfig.multiclass_auc",
    "MulticlassAUC.thresholds",
    "MulticlassAUC.average",
    "MetricConfig.recall_at_k",
    "RecallAtK.top_k",
    "MetricConfig.xauc",
    "XAUC.sample_ratio",
    "XAUC.max_pairs",
    "XAUC.in_batch",
    "MetricConfig.grouped_xauc",
    "GroupedXAUC.grouping_key",
    "GroupedXAUC.max_pairs_per_group",
    "MetricConfig.custom_metric",
    "CustomMetric.name",
    "CustomMetric.factory",
    "TrainMetricConfig.grouped_auc",
    "TrainMetricConfig.normalized_entropy",
    "TrainMetricConfig.multiclass_auc",
    "TrainMetricConfig.recall_at_k",
    "TrainMetricConfig.xauc",
    "TrainMetricConfig.grouped_xauc",
    "TrainMetricConfig.custom_metric",
)
