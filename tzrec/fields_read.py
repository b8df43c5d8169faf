"""Pipeline-config fields read by this package's top-level modules.

Collected by ``tzrec.config.coverage``: every field of the config is either
listed in some package's FIELDS_READ or rejected by ``tzrec.config.UNSUPPORTED``.
Add a field here in the change that makes this package read it.
"""

FIELDS_READ: tuple[str, ...] = (
    "EasyRecConfig.train_input_path",
    "EasyRecConfig.eval_input_path",
    "EasyRecConfig.model_dir",
    "EasyRecConfig.train_config",
    "EasyRecConfig.data_config",
    "TrainConfig.cudnn_allow_tf32",
    "TrainConfig.cuda_matmul_allow_tf32",
    "ExportConfig.cudnn_allow_tf32",
    "ExportConfig.cuda_matmul_allow_tf32",
)
