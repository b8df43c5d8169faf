"""Pipeline-config fields read by ``tzrec.export``.

Collected by ``tzrec.config_coverage``: every field of the config is either
listed in some package's FIELDS_READ or rejected by ``tzrec.config.UNSUPPORTED``.
Add a field here in the change that makes this package read it.
"""

FIELDS_READ: tuple[str, ...] = (
    "EasyRecConfig.model_dir",
    "EasyRecConfig.export_config",
    "EasyRecConfig.feature_configs",
    "ExportConfig.exporter_type",
    "ExportConfig.best_exporter_metric",
    "ExportConfig.metric_larger_is_better",
    "ExportConfig.cudnn_allow_tf32",
    "ExportConfig.cuda_matmul_allow_tf32",
)
