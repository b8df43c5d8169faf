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
    "TrainConfig.save_checkpoints_epochs",
    "TrainConfig.keep_checkpoint_max",
    "EarlyStopping.larger_is_better",
    "EarlyStopping.patience",
    "EarlyStopping.min_delta",
    "TrainConfig.seed",
    "EvalConfig.num_steps",
    "DataConfig.eval_batch_size",
)
