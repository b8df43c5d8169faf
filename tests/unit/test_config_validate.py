"""validate(): every problem collected, each naming its field path."""

from __future__ import annotations

import pytest
import torch
from google.protobuf.descriptor import Descriptor

from tests.cli import REPO
from tzrec.config import (
    UNSUPPORTED,
    UNSUPPORTED_ON_CPU,
    apply_edit_config_json,
    load_pipeline_config,
    validate,
)
from tzrec.protos import pipeline_pb2
from tzrec.utils.errors import ConfigError

FIXTURE = REPO / "tests" / "configs" / "deepfm_tzrec_style.config"
_BASE = load_pipeline_config(str(FIXTURE))


def _problems(edits: dict | str) -> dict[str, str]:
    """Validates the fixture after ``edits``; returns where -> its lines."""
    cfg = pipeline_pb2.EasyRecConfig()
    cfg.CopyFrom(_BASE)
    apply_edit_config_json(cfg, edits)
    with pytest.raises(ConfigError) as info:
        validate(cfg)
    problems = info.value.problems
    assert problems, "validate must list its problems"
    found: dict[str, str] = {}
    for p in problems:
        found[p.where] = "\n".join(filter(None, [found.get(p.where), p.one_line()]))
    return found


def test_fixture_is_valid() -> None:
    validate(_BASE)


def test_collects_every_problem_with_its_path() -> None:
    found = _problems(
        {
            "model_dir": "",
            "data_config.batch_size": 0,
            "model_config.feature_groups[group_name=deep].feature_names[0]": "int_99",
        }
    )
    assert set(found) == {
        "model_dir",
        "data_config.batch_size",
        "model_config.feature_groups[2].feature_names[0]",
    }
    assert "--model_dir" in found["model_dir"]
    assert (
        'unknown feature "int_99"'
        in found["model_config.feature_groups[2].feature_names[0]"]
    )


def test_message_lists_all_problems() -> None:
    cfg = pipeline_pb2.EasyRecConfig()
    with pytest.raises(ConfigError) as info:
        validate(cfg)
    text = info.value.one_line()
    assert text.startswith(f"{len(info.value.problems)} problems in the config")
    for where in ("train_input_path", "train_config", "data_config", "model_config"):
        assert f"({where})" in text


@pytest.mark.parametrize(
    ("edits", "where"),
    [
        (
            {
                "model_config.feature_groups[1].sequence_encoders": [
                    {"hstu_encoder": {}}
                ]
            },
            "model_config.feature_groups[1].sequence_encoders[0].hstu_encoder",
        ),
        ({"train_config.dense_optimizer.ema": {}}, "train_config.dense_optimizer.ema"),
        ({"data_config.negative_sampler": {}}, "data_config.negative_sampler"),
        ({"train_config.grad_scaler": {}}, None),
        ({"train_config.mixed_precision": "FP16"}, None),
    ],
)
def test_unsupported_is_reported_not_ignored(edits: dict, where: str | None) -> None:
    where = where or next(iter(edits))
    found = _problems(edits)
    assert where in found
    assert "not supported yet" in found[where]


def test_gradient_accumulation_of_one_is_fine() -> None:
    cfg = pipeline_pb2.EasyRecConfig()
    cfg.CopyFrom(_BASE)
    cfg.train_config.gradient_accumulation_steps = 1
    cfg.train_config.grad_clipping.clipping_type = "none"
    validate(cfg)


def test_every_table_path_exists_in_the_schema() -> None:
    for path in [*UNSUPPORTED, *UNSUPPORTED_ON_CPU]:
        desc: Descriptor | None = pipeline_pb2.EasyRecConfig.DESCRIPTOR
        for name in path.split("."):
            assert desc is not None, path
            assert name in desc.fields_by_name, path
            desc = desc.fields_by_name[name].message_type


@pytest.mark.skipif(torch.cuda.is_available(), reason="adam is allowed on CUDA")
def test_sparse_adam_not_supported_on_cpu() -> None:
    found = _problems({"train_config.sparse_optimizer": "adam_optimizer { lr: 0.01 }"})
    where = "train_config.sparse_optimizer.adam_optimizer"
    assert "not supported yet" in found[where] and "fbgemm" in found[where]


def test_odps_dataset_parses_then_fails() -> None:
    found = _problems({"data_config.dataset_type": "OdpsDataset"})
    line = found["data_config.dataset_type"]
    assert "ODPS (MaxCompute) tables cannot be reached" in line
    assert "OdpsDataset is not supported" in line
    assert '"data_config.dataset_type": "ParquetDataset"' in line


def test_bad_value_is_not_also_reported_unsupported() -> None:
    found = _problems({"train_config.mixed_precision": "BF17"})
    assert list(found) == ["train_config.mixed_precision"]
    assert 'did you mean "BF16"?' in found["train_config.mixed_precision"]


@pytest.mark.parametrize(
    ("edits", "where", "text"),
    [
        ({"train_config.num_steps": 5}, "train_config.num_steps", "both set"),
        ({"train_config.num_epochs": 0}, "train_config.num_steps", "neither"),
        ({"data_config.label_fields": []}, "data_config.label_fields", "empty"),
        (
            {"data_config.dataset_type": "CsvDataset"},
            "data_config.input_fields",
            "without a header",
        ),
        (
            {"feature_configs[1].raw_feature.feature_name": "int_0"},
            "feature_configs[1].raw_feature.feature_name",
            'duplicate feature name "int_0"',
        ),
        (
            {"feature_configs[13].id_feature.hash_bucket_size": 100},
            "feature_configs[13].id_feature",
            "exactly one of",
        ),
        (
            {"feature_configs[13].id_feature.embedding_dim": 0},
            "feature_configs[13].id_feature.embedding_dim",
            "embedding_dim > 0",
        ),
        (
            {"feature_configs[13].id_feature.pooling": "max"},
            "feature_configs[13].id_feature.pooling",
            'bad value "max"',
        ),
        (
            {"feature_configs[0].raw_feature": {"boundaries": [3, 1]}},
            "feature_configs[0].raw_feature.boundaries",
            "strictly increasing",
        ),
        (
            {"feature_configs[0].raw_feature": {"boundaries": [1, 3]}},
            "feature_configs[0].raw_feature.embedding_dim",
            "embedding_dim > 0",
        ),
        (
            {"model_config.feature_groups[1].group_name": "deep"},
            "model_config.feature_groups[2].group_name",
            "duplicate group name",
        ),
        (
            {"model_config.feature_groups[0].group_name": "wid"},
            "model_config.feature_groups",
            'named "wide"',
        ),
        (
            {"model_config.feature_groups[0].group_type": "DEEP"},
            "model_config.feature_groups[0].group_type",
            "must be WIDE",
        ),
        (
            {"feature_configs[13].id_feature.embedding_dim": 8},
            "model_config.feature_groups[1]",
            "one embedding dimension",
        ),
        ({"model_config.losses": []}, "model_config.losses", "empty"),
        (
            {"train_config.tensorboard_summaries": ["los"]},
            "train_config.tensorboard_summaries[0]",
            'did you mean "loss"?',
        ),
        (
            {"model_config.train_metrics": [{"auc": {}, "decay_rate": 1.0}]},
            "model_config.train_metrics[0].decay_rate",
            "[0, 1)",
        ),
        (
            {"model_config.train_metrics": [{"auc": {}, "decay_step": 0}]},
            "model_config.train_metrics[0].decay_step",
            "> 0",
        ),
        (
            {"train_config.grad_clipping.clipping_type": "l2"},
            "train_config.grad_clipping.clipping_type",
            "use one of none, norm, value",
        ),
        (
            {"export_config.exporter_type": "newest"},
            "export_config.exporter_type",
            "best, final, latest",
        ),
        (
            {"train_config.early_stopping.patience": 0},
            "train_config.early_stopping.patience",
            "> 0",
        ),
    ],
)
def test_single_problem(edits: dict, where: str, text: str) -> None:
    found = _problems(edits)
    assert where in found, found
    assert text in found[where]


def test_fm_falls_back_to_deep_features() -> None:
    # Without an "fm" group FM uses "deep", whose dense int_* features have
    # dimension 1 against the ids' 16: not a valid FM input.
    found = _problems({"model_config.feature_groups": "[]"})
    assert 'named "wide"' in found["model_config.feature_groups"]
    assert 'named "deep"' in found["model_config.feature_groups"]
    cfg = pipeline_pb2.EasyRecConfig()
    cfg.CopyFrom(_BASE)
    del cfg.model_config.feature_groups[1]  # drop "fm"
    with pytest.raises(ConfigError) as info:
        validate(cfg)
    assert 'group "deep"' in info.value.one_line()
