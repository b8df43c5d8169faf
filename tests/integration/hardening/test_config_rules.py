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
    "global_grad_clip_without_norm": (
        "seed: 3",
        "seed: 3 grad_clipping { enable_global_grad_clip: true }",
        [
            "needs clipping_type: norm",
            "(train_config.grad_clipping.enable_global_grad_clip)",
        ],
    ),
}


@pytest.mark.parametrize("case", list(CASES))
def test_config_rule(case, tiny_data, run_copy, tmp_path):
    check_edited_config(*CASES[case], tiny_data, run_copy, tmp_path)
