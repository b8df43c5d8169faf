"""Pipeline-config fields read by ``tzrec.modules``.

Collected by ``tzrec.config_coverage``: every field of the config is either
listed in some package's FIELDS_READ or rejected by ``tzrec.config.UNSUPPORTED``.
Add a field here in the change that makes this package read it.
"""

FIELDS_READ: tuple[str, ...] = (
    "FeatureGroupConfig.feature_names",
    "FeatureGroupConfig.group_type",
    "MLP.hidden_units",
    "MLP.dropout_ratio",
    "MLP.activation",
    "MLP.use_bn",
    "MLP.bias",
    "MLP.use_ln",
    "Tower.input",
    "Tower.mlp",
    "DINTower.input",
    "DINTower.attn_mlp",
    "MaskNetModule.n_mask_blocks",
    "MaskNetModule.mask_block",
    "MaskBlock.reduction_ratio",
    "MaskBlock.aggregation_dim",
    "MaskBlock.hidden_dim",
    "MaskNetModule.top_mlp",
    "MaskNetModule.use_parallel",
    "CrossV2.cross_num",
    "CrossV2.low_rank",
    "TaskTower.num_class",
    "TaskTower.mlp",
    "TaskTower.weight",
    "BayesTaskTower.num_class",
    "BayesTaskTower.mlp",
    "BayesTaskTower.weight",
    "BayesTaskTower.relation_mlp",
)
