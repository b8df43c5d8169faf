"""Configs that parse but break a rule: one line, exit 2, the run untouched.

Validation collects every problem; each case here has exactly one, so the
message is one line naming the field and, where there is one, the fix.
"""

from __future__ import annotations

import pytest

from tests.cli import TINY_CONFIG
from tests.integration.hardening.helpers import check_edited_config

TEXT = TINY_CONFIG.read_text()
DUPLICATE = 'feature_configs { id_feature { feature_name: "cat_5" num_buckets: 9 } }'
DEEPFM = TEXT[
    TEXT.index('    group_name: "wide"') : TEXT.index("  metrics { auc {} }\n}") + 21
]
TOWER = (
    'task_towers {{ tower_name: "{}" label_name: "label" {} '
    "losses {{ binary_cross_entropy {{}} }} metrics {{ auc {{}} }} }}"
)


def _towers(model: str, second: str, first_fields: str, second_fields: str) -> str:
    """One DEEP group and a two-tower ``model`` on the label, in place of DEEPFM.

    The model's problem is found with the tasks, before the export metric
    ("auc", which the towers call auc_ctr) is checked.
    """
    return (
        '    group_name: "deep"\n'
        '    feature_names: ["int_0", "cat_4", "cat_5", "cat_13"]\n'
        "    group_type: DEEP\n  }\n"
        f"  {model} {{\n    {TOWER.format('ctr', first_fields)}\n"
        f"    {TOWER.format(second, second_fields)}\n  }}\n"
    )


# id -> (text to replace, its replacement, needles of the error line)
CASES = {
    "missing_required": (
        "dataset_type: ParquetDataset",
        "",
        ["not set (data_config.dataset_type)", "use ParquetDataset or CsvDataset"],
    ),
    "num_steps_and_num_epochs": (
        "num_steps: 20",
        "num_steps: 20 num_epochs: 1",
        ["num_steps and num_epochs both set (train_config.num_steps)", "keep one"],
    ),
    "neither_num_steps_nor_num_epochs": (
        "num_steps: 20",
        "",
        ["neither num_steps nor num_epochs set", "(train_config.num_steps)"],
    ),
    "zero_batch_size": (
        "batch_size: 256",
        "batch_size: 0",
        ["must be > 0 (data_config.batch_size)"],
    ),
    "zero_num_buckets": (
        "num_buckets: 300",
        "num_buckets: 0",
        ["must be > 0 (feature_configs[1].id_feature.num_buckets)"],
    ),
    "zero_hidden_units": (
        "hidden_units: [16, 8]",
        "hidden_units: [16, 0]",
        ["must be > 0 (model_config.deepfm.deep.hidden_units)"],
    ),
    "group_feature_not_defined": (
        '"cat_13"]',
        '"cat_31"]',
        ['unknown feature "cat_31"', "model_config.feature_groups[0].feature_names[3]"],
    ),
    "duplicate_feature_name": (
        "model_config {",
        DUPLICATE + "\nmodel_config {",
        ['duplicate feature name "cat_5"', "feature_configs[4]", "must be unique"],
    ),
    "embedding_dim_missing": (
        "num_buckets: 20 embedding_dim: 8",
        "num_buckets: 20",
        ['feature "cat_5" needs embedding_dim > 0', "id_feature.embedding_dim"],
    ),
    "loss_does_not_fit_metric": (
        "binary_cross_entropy {}",
        "l2_loss {}",
        ["metric auc needs a probability output", "(model_config.metrics[0])"],
    ),
    "export_metric_not_evaluated": (
        'best_exporter_metric: "auc"',
        'best_exporter_metric: "gauc"',
        ['"gauc" is not an eval metric', "(export_config.best_exporter_metric)"],
    ),
    "unsupported_dataset_type": (
        "dataset_type: ParquetDataset",
        "dataset_type: OdpsDataset",
        ["OdpsDataset is not supported (data_config.dataset_type)", "use Parquet"],
    ),
    "unsupported_optimizer": (
        "adagrad_optimizer { lr: 0.05 }",
        "lamb_optimizer { lr: 0.05 }",
        ["not supported yet", "train_config.sparse_optimizer.lamb_optimizer"],
    ),
    "fg_none_bucketized_raw": (
        "dataset_type: ParquetDataset",
        "dataset_type: ParquetDataset fg_mode: FG_NONE",
        [
            "not supported yet with FG_NONE: TorchEasyRec takes the column as bucket",
            "(feature_configs[0].raw_feature)",
            "fg_mode: FG_NORMAL",
        ],
    ),
    "accuracy_top_k_binary": (
        "metrics { auc {} }",
        "metrics { auc {} } metrics { accuracy { top_k: 2 } }",
        ["top_k 2 needs more than 2 classes", "(model_config.metrics[1].accuracy"],
    ),
    "expression_normalizer_outside_whitelist": (
        'default_value: "-1" }',
        'default_value: "-1" normalizer: "method=expression,expr=open(x)" }',
        ['unknown function "open"', "(feature_configs[0].raw_feature.normalizer)"],
    ),
    "sequence_encoder_not_supported": (
        "    group_type: DEEP\n",
        "    group_type: DEEP\n    sequence_encoders { hstu_encoder {} }\n",
        [
            "not supported yet",
            "(model_config.feature_groups[1].sequence_encoders[0].hstu_encoder)",
        ],
    ),
    "xdeepfm_cin_without_layers": (
        "  deepfm {",
        "  xdeepfm {\n    final { hidden_units: [4] }",
        ["CIN has no layers (model_config.xdeepfm.cin.cin_layer_size)"],
    ),
    "pareto_min_loss_weights_sum_to_1": (
        DEEPFM,
        _towers(
            "simple_multi_task",
            "ctr2",
            "pareto_min_loss_weight: 0.5",
            "pareto_min_loss_weight: 0.5",
        )
        + "  use_pareto_loss_weight: true\n",
        [
            "pareto_min_loss_weight of all losses sum to 1, not < 1",
            "(model_config.use_pareto_loss_weight)",
        ],
    ),
    "dc2vr_intervention_by_a_later_tower": (
        DEEPFM,
        _towers(
            "dc2vr",
            "cvr",
            'intervention_tower_names: "cvr" low_rank_dim: 2',
            "",
        ),
        [
            'intervention tower "cvr" is not an earlier task tower',
            "(model_config.dc2vr.task_towers[0].intervention_tower_names)",
        ],
    ),
    "custom_metric_not_registered": (
        "metrics { auc {} }",
        'metrics { auc {} } metrics { custom_metric { name: "f1" } }',
        [
            "metric 'f1' is not registered",
            "(model_config.metrics[1].custom_metric.name)",
            "register_metric",
        ],
    ),
    "class_metric_on_binary_task": (
        "metrics { auc {} }",
        "metrics { auc {} } metrics { recall_at_k {} }",
        [
            "metric recall_at_k needs class probabilities (model_config.metrics[1])",
            "softmax_cross_entropy with num_class >= 2",
        ],
    ),
    "xauc_sample_ratio_out_of_range": (
        "metrics { auc {} }",
        "metrics { auc {} } metrics { xauc { sample_ratio: 1.5 } }",
        [
            "sample_ratio must be in (0, 1]",
            "(model_config.metrics[1].xauc.sample_ratio)",
        ],
    ),
    "tables_larger_than_host_memory": (
        "num_buckets: 300 embedding_dim: 8",
        "num_buckets: 900000000000 embedding_dim: 8",
        [
            "the embedding tables need",
            "GiB of host memory",
            "(feature_configs): lower num_buckets / hash_bucket_size",
        ],
    ),
    "global_grad_clip_without_norm": (
        "seed: 3",
        "seed: 3 grad_clipping { enable_global_grad_clip: true }",
        [
            "needs clipping_type: norm",
            "(train_config.grad_clipping.enable_global_grad_clip)",
        ],
    ),
    "custom_feature": (
        "model_config {",
        'feature_configs { custom_feature { feature_name: "dist" operator_name: '
        '"EditDistance" expression: ["user:q", "item:t"] } }\nmodel_config {',
        [
            "not supported yet (feature_configs[4].custom_feature)",
            "custom FG operators",
        ],
    ),
    "dynamicemb": (
        "num_buckets: 300 embedding_dim: 8",
        "num_buckets: 300 embedding_dim: 8 dynamicemb { max_capacity: 1000 }",
        [
            "not supported yet (feature_configs[1].id_feature.dynamicemb)",
            "need CUDA",
        ],
    ),
    "overlap_method_not_supported": (
        "model_config {",
        'feature_configs { overlap_feature { feature_name: "ov" query: "user:q" '
        'title: "item:t" method: "proximity_min_cover" } }\nmodel_config {',
        [
            'overlap method "proximity_min_cover" is not supported yet',
            "(feature_configs[4].overlap_feature.method)",
            "use one of query_common_ratio",
        ],
    ),
    "nesterov_without_momentum": (
        "adam_optimizer { lr: 0.005 }",
        "sgd_optimizer { lr: 0.005 momentum: 0 nesterov: true }",
        [
            "nesterov needs momentum > 0 and dampening 0",
            "(train_config.dense_optimizer.sgd_optimizer.nesterov)",
        ],
    ),
    "part_optimizer_bad_regex": (
        "adam_optimizer { lr: 0.005 }",
        'adam_optimizer { lr: 0.005 } part_optimizers { regex_pattern: "deep.(" '
        "sgd_optimizer { lr: 0.1 } }",
        [
            "not a regular expression",
            "(train_config.dense_optimizer.part_optimizers[0].regex_pattern)",
        ],
    ),
    "embedding_constraint_data_parallel": (
        "num_buckets: 20 embedding_dim: 8",
        "num_buckets: 20 embedding_dim: 8 "
        'embedding_constraints { sharding_types: "data_parallel" }',
        [
            "data_parallel is not supported yet",
            "embedding_constraints.sharding_types[0])",
            "use table_wise or row_wise",
        ],
    ),
    "timestamp_checkpoints_without_field": (
        "seed: 3",
        "seed: 3 save_checkpoints_timestamp_interval: 3600",
        [
            "timestamp checkpoints need the event-time column",
            "(train_config.save_checkpoints_timestamp_field)",
        ],
    ),
    "retrieval_model_not_supported": (
        "deepfm {\n    deep { hidden_units: [16, 8] }\n  }",
        'dssm { user_tower { input: "wide" mlp { hidden_units: [8] } } '
        'item_tower { input: "deep" mlp { hidden_units: [8] } } output_dim: 8 }',
        [
            "not supported yet (model_config.dssm)",
            "dssm is a retrieval model",
            "negative samplers",
        ],
    ),
}


@pytest.mark.parametrize("case", list(CASES))
def test_config_rule(case, tiny_data, run_copy, tmp_path):
    check_edited_config(*CASES[case], tiny_data, run_copy, tmp_path)
