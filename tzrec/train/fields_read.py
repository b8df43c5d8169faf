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
    # optim17: sharding constraints (embedding_constraints.py) and timestamp
    # saves (save_cadence.py).
    "IdFeature.embedding_constraints",
    "RawFeature.embedding_constraints",
    "ComboFeature.embedding_constraints",
    "LookupFeature.embedding_constraints",
    "MatchFeature.embedding_constraints",
    "ExprFeature.embedding_constraints",
    "OverlapFeature.embedding_constraints",
    "TokenizeFeature.embedding_constraints",
    "CustomFeature.embedding_constraints",
    "KvDotProduct.embedding_constraints",
    "BoolMaskFeature.embedding_constraints",
    "CombineFeature.embedding_constraints",
    "TrainConfig.global_embedding_constraints",
    "ParameterConstraints.sharding_types",
    "ParameterConstraints.compute_kernels",
    "TrainConfig.save_checkpoints_timestamp_interval",
    "TrainConfig.save_checkpoints_timestamps",
    "TrainConfig.save_checkpoints_timestamp_quorum",
    "TrainConfig.save_checkpoints_timestamp_field",
)
