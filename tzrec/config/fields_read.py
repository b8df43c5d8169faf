"""Pipeline-config fields read by ``tzrec.config`` (validation, settings).

Collected by ``tzrec.config.coverage``: every field of the config is either
listed in some package's FIELDS_READ or rejected by ``tzrec.config.UNSUPPORTED``.
Add a field here in the change that makes this package read it.
"""

FIELDS_READ: tuple[str, ...] = (
    "DLRM.bot_mlp",
    "DLRM.top_mlp",
    "MaskNet.n_mask_blocks",
    "MaskNet.mask_block",
    "MaskNet.top_mlp",
    "MaskNet.use_parallel",
    "TrainConfig.mixed_precision",
    "TrainConfig.gradient_accumulation_steps",
    "TrainConfig.grad_clipping",
    "DataConfig.fg_mode",
    "GradClipping.enable_global_grad_clip",
    "DataConfig.fg_encoded",
    "DataConfig.fg_threads",
    "DataConfig.is_orderby_partition",
    "DataConfig.odps_data_quota_name",
    "DataConfig.odps_data_compression",
    "DataConfig.in_order",
    "SequenceFeature.sequence_pk",
    "EasyRecConfig.eval_config",
    "EasyRecConfig.model_config",
    "TrainConfig.log_step_count_steps",
    "TrainConfig.use_tensorboard",
    "TrainConfig.tensorboard_summaries",
    "TrainConfig.early_stopping",
    "EarlyStopping.metric_name",
    "TrainConfig.log_step_count_secs",
    "EvalConfig.log_step_count_steps",
)
