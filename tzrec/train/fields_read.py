"""Pipeline-config fields read by ``tzrec.train``.

Collected by ``tzrec.config.coverage``: every field of the config is either
listed in some package's FIELDS_READ or rejected by ``tzrec.config.UNSUPPORTED``.
Add a field here in the change that makes this package read it.
"""

FIELDS_READ: tuple[str, ...] = (
    "TrainConfig.sparse_optimizer",
    "TrainConfig.dense_optimizer",
    "TrainConfig.num_steps",
    "TrainConfig.num_epochs",
    "TrainConfig.save_checkpoints_steps",
    "TrainConfig.fine_tune_checkpoint",
    "TrainConfig.log_step_count_steps",
    "TrainConfig.use_tensorboard",
    "TrainConfig.save_checkpoints_epochs",
    "TrainConfig.tensorboard_summaries",
    "TrainConfig.keep_checkpoint_max",
    "TrainConfig.early_stopping",
    "EarlyStopping.metric_name",
    "EarlyStopping.larger_is_better",
    "EarlyStopping.patience",
    "EarlyStopping.min_delta",
    "TrainConfig.seed",
    "TrainConfig.log_step_count_secs",
    "EvalConfig.num_steps",
    "EvalConfig.log_step_count_steps",
    "DataConfig.eval_batch_size",
)
