"""Loading, saving and hashing pipeline configs (tzrec/config/load.py)."""

from __future__ import annotations

import logging
import os
from pathlib import Path

import pytest
from google.protobuf import json_format

from tests.cli import REPO
from tzrec import config as tzc
from tzrec.protos import data_pb2, feature_pb2, model_pb2, pipeline_pb2
from tzrec.utils.errors import ConfigError

FIXTURE = REPO / "tests" / "configs" / "deepfm_tzrec_style.config"


def _write(tmp_path: Path, text: str, name: str = "p.config") -> str:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return str(path)


def _load_error(tmp_path: Path, text: str, name: str = "p.config") -> ConfigError:
    with pytest.raises(ConfigError) as info:
        tzc.load_pipeline_config(_write(tmp_path, text, name))
    message = info.value.one_line()
    assert "\n" not in message
    return info.value


def test_tzrec_style_fixture_parses_with_its_values() -> None:
    cfg = tzc.load_pipeline_config(str(FIXTURE))
    assert cfg.train_input_path == "data/criteo/train.parquet"
    assert cfg.eval_input_path == "data/criteo/eval.parquet"  # single-quoted
    tc = cfg.train_config
    assert tc.sparse_optimizer.WhichOneof("optimizer") == "adagrad_optimizer"
    assert tc.sparse_optimizer.adagrad_optimizer.lr == pytest.approx(0.001)
    assert tc.dense_optimizer.WhichOneof("optimizer") == "adam_optimizer"
    assert tc.dense_optimizer.WhichOneof("learning_rate") == "constant_learning_rate"
    assert tc.num_epochs == 1 and tc.num_steps == 0
    assert list(tc.tensorboard_summaries) == [
        "loss",
        "learning_rate",
        "global_gradient_norm",
    ]
    assert cfg.data_config.dataset_type == data_pb2.ParquetDataset
    assert list(cfg.data_config.label_fields) == ["label"]
    names = [tzc.feature_name_of(f) for f in cfg.feature_configs]
    assert names == [f"int_{i}" for i in range(13)] + [f"cat_{i}" for i in range(26)]
    assert all(
        f.WhichOneof("feature") == "raw_feature" for f in cfg.feature_configs[:13]
    )
    cat_0 = cfg.feature_configs[13].id_feature
    assert (cat_0.num_buckets, cat_0.embedding_dim) == (1460, 16)
    assert not cat_0.HasField("expression")
    groups = {g.group_name: g for g in cfg.model_config.feature_groups}
    assert list(groups) == ["wide", "fm", "deep"]
    assert groups["wide"].group_type == model_pb2.WIDE
    assert groups["deep"].group_type == model_pb2.DEEP
    assert len(groups["fm"].feature_names) == 26  # written as a [..] list
    assert len(groups["deep"].feature_names) == 39
    deepfm = cfg.model_config.deepfm
    assert list(deepfm.deep.hidden_units) == [256, 128]
    assert list(deepfm.final.hidden_units) == [64]
    assert cfg.model_config.losses[0].HasField("binary_cross_entropy")
    assert cfg.model_config.metrics[0].HasField("auc")
    tzc.validate(cfg)


def test_feature_name_of_each_kind() -> None:
    fc = feature_pb2.FeatureConfig()
    assert tzc.feature_name_of(fc) == ""
    fc.raw_feature.feature_name = "price"
    assert tzc.feature_name_of(fc) == "price"
    fc.sequence_feature.sequence_name = "clicks"
    assert tzc.feature_name_of(fc) == "clicks"


def test_unknown_field_names_field_message_and_suggestion(tmp_path: Path) -> None:
    text = 'model_dir: "m"\ntrain_config {\n  num_stepz: 3\n}\n'
    message = _load_error(tmp_path, text).one_line()
    assert 'unknown field "num_stepz" in TrainConfig' in message
    assert 'did you mean "num_steps"?' in message
    assert "p.config:3:3" in message


def test_syntax_error_gives_line_column_and_token(tmp_path: Path) -> None:
    text = 'model_dir: "m"\n\ntrain_config {\n  num_steps 3\n}\n'
    message = _load_error(tmp_path, text).one_line()
    assert "syntax error" in message
    assert "p.config:4:13" in message
    assert 'at "3"' in message


def test_unclosed_brace_reports_end_of_file(tmp_path: Path) -> None:
    message = _load_error(tmp_path, "train_config {\n  num_steps: 3\n").one_line()
    assert "end of file" in message and 'Expected "}"' in message


def test_wrong_type_names_the_field(tmp_path: Path) -> None:
    text = "model_config {\n deepfm { deep { hidden_units: [64, 2.5] } }\n}\n"
    message = _load_error(tmp_path, text).one_line()
    assert "wrong type for hidden_units" in message and "p.config:2:" in message
    negative = _load_error(tmp_path, "train_config { num_steps: -1 }").one_line()
    assert "num_steps" in negative and "out of range" in negative


def test_bad_enum_lists_valid_values(tmp_path: Path) -> None:
    error = _load_error(tmp_path, "data_config { dataset_type: Parquet }")
    assert "bad enum value Parquet for DatasetType" in error.what
    assert "ParquetDataset" in error.fix and "CsvDataset" in error.fix


def test_missing_file_names_the_path(tmp_path: Path) -> None:
    missing = str(tmp_path / "nope.config")
    with pytest.raises(ConfigError) as info:
        tzc.load_pipeline_config(missing)
    assert missing in info.value.one_line()
    assert "No such file" in info.value.one_line()


def test_json_config_equals_text_config(tmp_path: Path) -> None:
    text_cfg = tzc.load_pipeline_config(str(FIXTURE))
    for keep_names in (True, False):
        as_json = json_format.MessageToJson(
            text_cfg, preserving_proto_field_name=keep_names
        )
        path = _write(tmp_path, as_json, f"p{keep_names}.json")
        assert tzc.load_pipeline_config(path) == text_cfg


def test_json_errors(tmp_path: Path) -> None:
    unknown = _load_error(tmp_path, '{"train_config": {"num_stepz": 3}}', "a.json")
    assert 'unknown field "num_stepz" in TrainConfig' in unknown.what
    assert 'did you mean "num_steps"?' == unknown.fix
    syntax = _load_error(tmp_path, '{"train_config": {"num_steps": 3,}}', "b.json")
    assert "JSON syntax error" in syntax.what and syntax.where.endswith(":1:34")
    value = _load_error(tmp_path, '{"train_config": {"num_steps": "x"}}', "c.json")
    assert value.where.endswith("train_config.num_steps")


def test_duplicate_scalar_warns_last_value_wins(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    path = _write(tmp_path, "train_config {\n num_steps: 3\n num_steps: 4\n}\n")
    with caplog.at_level(logging.WARNING, logger="tzrec.config"):
        cfg = tzc.load_pipeline_config(path)
    assert cfg.train_config.num_steps == 4
    assert "num_steps" in caplog.text and "last value wins" in caplog.text


def test_load_applies_edits(tmp_path: Path) -> None:
    cfg = tzc.load_pipeline_config(str(FIXTURE), '{"train_config.num_epochs": 3}')
    assert cfg.train_config.num_epochs == 3


def test_save_round_trips_atomically(tmp_path: Path) -> None:
    cfg = tzc.load_pipeline_config(str(FIXTURE))
    out = tmp_path / "model_dir" / "pipeline.config"
    tzc.save_pipeline_config(cfg, str(out))
    assert tzc.load_pipeline_config(str(out)) == cfg
    assert os.listdir(out.parent) == ["pipeline.config"]  # no temporary left
    cfg.model_dir = "elsewhere"
    tzc.save_pipeline_config(cfg, str(out))
    assert tzc.load_pipeline_config(str(out)).model_dir == "elsewhere"


def test_config_hash_is_stable_and_content_sensitive(tmp_path: Path) -> None:
    cfg = tzc.load_pipeline_config(str(FIXTURE))
    digest = tzc.config_hash(cfg)
    assert len(digest) == 12 and int(digest, 16) >= 0
    path = str(tmp_path / "saved.config")
    tzc.save_pipeline_config(cfg, path)
    assert tzc.config_hash(tzc.load_pipeline_config(path)) == digest
    changed = pipeline_pb2.EasyRecConfig()
    changed.CopyFrom(cfg)
    changed.train_config.num_epochs = 2
    assert tzc.config_hash(changed) != digest
