"""TorchEasyRec's names, types and settings: parsed, then used, warned or rejected.

The snippets use the fields and shapes of TorchEasyRec's example configs;
they are written here, not copied.
"""

from __future__ import annotations

import logging
from pathlib import Path

import pytest
import torch

from tests.cli import REPO
from tzrec.config import apply_edit_config_json, load_pipeline_config, validate
from tzrec.config.compat import no_effect_settings
from tzrec.protos import data_pb2, pipeline_pb2
from tzrec.utils.errors import ConfigError

FIXTURE = REPO / "tests" / "configs" / "deepfm_tzrec_style.config"
_BASE = load_pipeline_config(str(FIXTURE))


def _config(edits: dict | str | None = None) -> pipeline_pb2.EasyRecConfig:
    cfg = pipeline_pb2.EasyRecConfig()
    cfg.CopyFrom(_BASE)
    if edits:
        apply_edit_config_json(cfg, edits)
    return cfg


def _problems(cfg: pipeline_pb2.EasyRecConfig) -> dict[str, str]:
    with pytest.raises(ConfigError) as info:
        validate(cfg)
    return {p.where: p.one_line() for p in info.value.problems}


def _parse(tmp_path: Path, text: str) -> pipeline_pb2.EasyRecConfig:
    path = tmp_path / "c.config"
    path.write_text(text)
    return load_pipeline_config(str(path))


def test_torcheasyrec_names_and_types_parse(tmp_path: Path) -> None:
    cfg = _parse(
        tmp_path,
        """
        train_config {
          dense_optimizer {
            adam_optimizer { lr: 0.001 }
            cosine_annealing_learning_rate { T_max: 100 min_learning_rate: 1e-5 }
          }
          cudnn_allow_tf32: false
          save_checkpoints_timestamps: [1700000000]
        }
        data_config {
          dataset_type: OdpsDataset
          fg_mode: FG_DAG
          odps_data_quota_name: ""
          fg_encoded: true
          drop_remainder: false
          input_fields { input_name: "seq" input_type: ARRAY_ARRAY_INT64 }
          input_fields { input_name: "kv" input_type: MAP_INT32_FLOAT }
        }
        model_config {
          kernel: CUTLASS
          metrics { normalized_entropy { eta: 1e-9 } }
          metrics { xauc { sample_ratio: 0.001 max_pairs: 10000000000 } }
          metrics { grouped_xauc { grouping_key: "u" max_pairs_per_group: 5000000000 } }
          metrics { accuracy { top_k: 1 } }
        }
        export_config { export_format: TORCHSCRIPT }
        eval_config { evaluator_type: "latest" }
        """,
    )
    sched = cfg.train_config.dense_optimizer.cosine_annealing_learning_rate
    assert sched.min_learning_rate == pytest.approx(1e-5)
    assert cfg.model_config.metrics[1].xauc.sample_ratio == pytest.approx(0.001)
    assert cfg.model_config.metrics[1].xauc.max_pairs == 10_000_000_000
    assert cfg.data_config.input_fields[0].input_type == data_pb2.ARRAY_ARRAY_INT64
    # TorchEasyRec's enum numbers, so proto-JSON numbers mean the same.
    assert data_pb2.FieldType.Value("MAP_INT32_FLOAT") == 28
    assert data_pb2.FieldType.Value("ARRAY_ARRAY_INT32") == 10


def test_odps_source_names_the_fix_and_three_overrides_fix_it() -> None:
    cfg = _config(
        {
            "train_input_path": "odps://proj/tables/train",
            "eval_input_path": "odps://proj/tables/eval",
            "data_config.dataset_type": "OdpsDataset",
            "data_config.odps_data_quota_name": "my_quota",
        }
    )
    found = _problems(cfg)
    assert set(found) == {
        "train_input_path",
        "eval_input_path",
        "data_config.dataset_type",
    }
    line = found["data_config.dataset_type"]
    assert "ODPS (MaxCompute) tables cannot be reached from tzrec" in line
    assert "--train_input_path" in line and "ParquetDataset" in line
    # What the message says to change is all a user changes.
    cfg.train_input_path, cfg.eval_input_path = "d/train", "d/eval"
    apply_edit_config_json(cfg, '{"data_config.dataset_type": "ParquetDataset"}')
    validate(cfg)


def test_kafka_is_rejected_with_its_reason() -> None:
    found = _problems(_config({"data_config.dataset_type": "KafkaDataset"}))
    assert "not streams" in found["data_config.dataset_type"]


def test_odps_only_settings_are_named_in_one_warning(caplog) -> None:
    cfg = _config(
        {
            "data_config.odps_data_quota_name": "q",
            "data_config.fg_threads": 4,
            "data_config.in_order": False,
        }
    )
    with caplog.at_level(logging.WARNING, logger="tzrec"):
        validate(cfg)
    warnings = [r.getMessage() for r in caplog.records if "no effect" in r.getMessage()]
    assert len(warnings) == 1
    for name in ("odps_data_quota_name", "fg_threads", "in_order"):
        assert name in warnings[0]
    assert no_effect_settings(_config()) == []


@pytest.mark.parametrize("mode", ["FG_DAG", "FG_NORMAL"])
def test_fg_dag_and_normal_mean_tzrec_derives_the_features(mode: str) -> None:
    cfg = _config(
        {
            "data_config.fg_mode": mode,
            "feature_configs[0].raw_feature": {
                "expression": "user:int_0",
                "boundaries": [1, 2, 3],
                "embedding_dim": 16,
            },
        }
    )
    cfg.model_config.feature_groups[2].feature_names.remove("int_0")
    validate(cfg)


def test_fg_none_accepts_ids_as_given_and_rejects_what_differs() -> None:
    validate(_config())  # FG_NONE, num_buckets ids, plain numbers: same meaning
    cfg = _config(
        {
            "feature_configs[0].raw_feature.normalizer": "method=log10",
            "feature_configs[1].raw_feature.expression": "user:other_col",
        }
    )
    found = _problems(cfg)
    assert "already normalized" in found["feature_configs[0].raw_feature"]
    line = found["feature_configs[1].raw_feature"]
    assert 'TorchEasyRec reads column "int_1"; tzrec reads "other_col"' in line
    assert "not supported yet with FG_NONE" in line
    # The same settings are fine when tzrec is told to derive the features.
    apply_edit_config_json(cfg, {"data_config.fg_mode": "FG_NORMAL"})
    validate(cfg)


def test_deprecated_fg_encoded_false_means_fg_normal() -> None:
    cfg = _config({"feature_configs[0].raw_feature.normalizer": "method=log10"})
    cfg.data_config.ClearField("fg_mode")
    cfg.data_config.fg_encoded = False
    validate(cfg)
    cfg.data_config.fg_encoded = True
    assert "already normalized" in _problems(cfg)["feature_configs[0].raw_feature"]


@pytest.mark.parametrize(
    ("edits", "where"),
    [
        ({"data_config.drop_remainder": True}, "data_config.drop_remainder"),
        ({"data_config.fg_encoded_multival_sep": "|"}, None),
        ({"data_config.negative_sampler": {"num_sample": 8}}, None),
        ({"train_config.is_profiling": True}, None),
        ({"eval_config.evaluator_type": "best"}, None),
        ({"export_config.export_format": "HF"}, None),
        ({"model_config.kernel": "TRITON"}, None),
        (
            {
                "train_config.sparse_optimizer": {
                    "adam_optimizer": {"lr": 0.1, "max_gradient": 5.0}
                }
            },
            "train_config.sparse_optimizer.adam_optimizer.max_gradient",
        ),
        (
            {
                "train_config.sparse_optimizer": {
                    "sgd_optimizer": {"lr": 0.1, "gradient_clipping": True}
                }
            },
            "train_config.sparse_optimizer.sgd_optimizer.gradient_clipping",
        ),
        (
            {"feature_configs[13].id_feature.zch": {"zch_size": 100}},
            "feature_configs[13].id_feature.zch",
        ),
        (
            {"feature_configs[13].id_feature.fg_encoded_default_value": "0"},
            "feature_configs[13].id_feature.fg_encoded_default_value",
        ),
        (
            {"feature_configs[0].raw_feature.stub_type": True},
            "feature_configs[0].raw_feature.stub_type",
        ),
    ],
)
def test_torcheasyrec_fields_tzrec_lacks_are_not_supported_yet(
    edits: dict, where: str | None
) -> None:
    where = where or next(iter(edits))
    found = _problems(_config(edits))
    assert where in found, found
    assert "not supported yet" in found[where]


def test_accuracy_top_k_needs_classes() -> None:
    found = _problems(_config({"model_config.metrics": [{"accuracy": {"top_k": 0}}]}))
    assert "must be >= 1" in found["model_config.metrics[0].accuracy.top_k"]


def test_tf32_switches_are_set_and_take_effect_only_on_cuda() -> None:
    from tzrec.utils.tf32 import apply_tf32

    before = (torch.backends.cudnn.allow_tf32, torch.backends.cuda.matmul.allow_tf32)
    try:
        applied = apply_tf32(False, True, "train_config")
        after = (
            torch.backends.cudnn.allow_tf32,
            torch.backends.cuda.matmul.allow_tf32,
        )
        # Set on every build (TorchEasyRec does); only CUDA kernels read them.
        assert after == (False, True)
        assert applied == torch.cuda.is_available()
    finally:
        torch.backends.cudnn.allow_tf32 = before[0]
        torch.backends.cuda.matmul.allow_tf32 = before[1]


@pytest.mark.parametrize(
    ("feature", "where"),
    [
        (
            {
                "sequence_match_feature": {
                    "feature_name": "int_0",
                    "nested_map": "user:m",
                    "pkey": "item:cate",
                    "skey": "ALL",
                    "hash_bucket_size": 10,
                    "embedding_dim": 4,
                    "sequence_length": 5,
                }
            },
            "feature_configs[0].sequence_match_feature",
        ),
        (
            {
                "custom_feature": {
                    "feature_name": "int_0",
                    "operator_name": "EditDistance",
                    "operator_lib_file": "pyfg/lib/libedit_distance.so",
                    "expression": ["user:a", "item:b"],
                }
            },
            "feature_configs[0].custom_feature",
        ),
        (
            {
                "sequence_tokenize_feature": {
                    "feature_name": "int_0",
                    "sequence_length": 5,
                }
            },
            "feature_configs[0].sequence_tokenize_feature",
        ),
    ],
)
def test_torcheasyrec_feature_types_parse_and_are_not_supported_yet(
    feature: dict, where: str
) -> None:
    cfg = _config({"feature_configs[0]": feature})
    found = _problems(cfg)
    assert "not supported yet" in found[where]
    # Only that: the feature keeps its name for the groups, no other errors.
    assert set(found) == {where}, found
