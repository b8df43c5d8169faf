"""--edit_config_json paths, selectors and conversions (tzrec/config/edit.py)."""

from __future__ import annotations

import pytest

from tests.cli import REPO
from tzrec.config import apply_edit_config_json, feature_name_of, load_pipeline_config
from tzrec.protos import data_pb2, pipeline_pb2
from tzrec.utils.errors import ConfigError

FIXTURE = REPO / "tests" / "configs" / "deepfm_tzrec_style.config"
_BASE = load_pipeline_config(str(FIXTURE))


@pytest.fixture
def cfg() -> pipeline_pb2.EasyRecConfig:
    copy = pipeline_pb2.EasyRecConfig()
    copy.CopyFrom(_BASE)
    return copy


def _ids(cfg: pipeline_pb2.EasyRecConfig) -> dict[str, tuple[int, int]]:
    return {
        feature_name_of(f): (f.id_feature.embedding_dim, f.id_feature.num_buckets)
        for f in cfg.feature_configs
        if f.HasField("id_feature")
    }


def test_plain_path_converts_string_to_uint(cfg: pipeline_pb2.EasyRecConfig) -> None:
    apply_edit_config_json(cfg, {"train_config.num_steps": "500"})
    assert cfg.train_config.num_steps == 500


def test_index_selector(cfg: pipeline_pb2.EasyRecConfig) -> None:
    apply_edit_config_json(cfg, {"feature_configs[13].id_feature.embedding_dim": 8})
    ids = _ids(cfg)
    assert ids["cat_0"][0] == 8 and ids["cat_1"][0] == 16
    apply_edit_config_json(cfg, {"feature_configs[-1].id_feature.embedding_dim": 9})
    assert _ids(cfg)["cat_25"][0] == 9


def test_field_value_selector_looks_inside_the_oneof(
    cfg: pipeline_pb2.EasyRecConfig,
) -> None:
    edit = {"feature_configs[feature_name=cat_0].id_feature.num_buckets": 10}
    apply_edit_config_json(cfg, edit)
    ids = _ids(cfg)
    assert ids["cat_0"][1] == 10 and ids["cat_1"][1] == 583
    edit = {"model_config.feature_groups[group_name='fm'].group_type": "WIDE"}
    apply_edit_config_json(cfg, edit)
    assert cfg.model_config.feature_groups[1].group_type == 1


def test_slice_selector(cfg: pipeline_pb2.EasyRecConfig) -> None:
    apply_edit_config_json(cfg, {"feature_configs[14:16].id_feature.embedding_dim": 4})
    dims = [dim for dim, _ in _ids(cfg).values()]
    assert dims[:4] == [16, 4, 4, 16]
    apply_edit_config_json(cfg, {"model_config.feature_groups[:].group_type": "WIDE"})
    assert {g.group_type for g in cfg.model_config.feature_groups} == {1}


def test_comparison_selector(cfg: pipeline_pb2.EasyRecConfig) -> None:
    edit = {"feature_configs[num_buckets>=1000000].id_feature.embedding_dim": 32}
    apply_edit_config_json(cfg, edit)
    big = {n for n, (dim, buckets) in _ids(cfg).items() if buckets >= 1000000}
    assert big and all(_ids(cfg)[n][0] == 32 for n in big)
    assert all(dim == 16 for n, (dim, _) in _ids(cfg).items() if n not in big)


def test_list_replaces_repeated_scalar(cfg: pipeline_pb2.EasyRecConfig) -> None:
    apply_edit_config_json(cfg, {"model_config.deepfm.deep.hidden_units": [64, 32]})
    assert list(cfg.model_config.deepfm.deep.hidden_units) == [64, 32]
    apply_edit_config_json(cfg, {"data_config.label_fields": "[clk, 'buy']"})
    assert list(cfg.data_config.label_fields) == ["clk", "buy"]


def test_list_of_dicts_replaces_repeated_message(
    cfg: pipeline_pb2.EasyRecConfig,
) -> None:
    edit = {"model_config.metrics": [{"auc": {"thresholds": 50}}, {"accuracy": {}}]}
    apply_edit_config_json(cfg, edit)
    metrics = cfg.model_config.metrics
    assert [m.WhichOneof("metric") for m in metrics] == ["auc", "accuracy"]
    assert metrics[0].auc.thresholds == 50


def test_dict_merges_into_message(cfg: pipeline_pb2.EasyRecConfig) -> None:
    edit = {"train_config.sparse_optimizer.adagrad_optimizer": {"lr": "0.5"}}
    apply_edit_config_json(cfg, edit)
    sparse = cfg.train_config.sparse_optimizer
    assert sparse.adagrad_optimizer.lr == pytest.approx(0.5)
    assert sparse.HasField("constant_learning_rate")  # untouched sibling kept


def test_text_format_string_replaces_message(cfg: pipeline_pb2.EasyRecConfig) -> None:
    apply_edit_config_json(cfg, {"model_config.deepfm.final": "{hidden_units: [8]}"})
    assert list(cfg.model_config.deepfm.final.hidden_units) == [8]


def test_semicolon_string_form(cfg: pipeline_pb2.EasyRecConfig) -> None:
    apply_edit_config_json(
        cfg,
        "train_config.num_steps:7;data_config.with_header:true;"
        "feature_configs[1:3].raw_feature.value_dim:2;"
        "model_config.deepfm.deep.hidden_units:[8,4]",
    )
    assert cfg.train_config.num_steps == 7
    assert cfg.data_config.with_header is True
    assert [f.raw_feature.value_dim for f in cfg.feature_configs[:4]] == [1, 2, 2, 1]
    assert list(cfg.model_config.deepfm.deep.hidden_units) == [8, 4]


def test_semicolon_joined_json_keys(cfg: pipeline_pb2.EasyRecConfig) -> None:
    edit = '{"train_config.num_steps;data_config.batch_size": "9;16"}'
    apply_edit_config_json(cfg, edit)
    assert (cfg.train_config.num_steps, cfg.data_config.batch_size) == (9, 16)


def test_enum_null_and_map(cfg: pipeline_pb2.EasyRecConfig) -> None:
    apply_edit_config_json(
        cfg,
        {
            "data_config.dataset_type": "CsvDataset",
            "eval_config": None,
            "feature_configs[feature_name=cat_25].id_feature.vocab_dict": {"a": "3"},
        },
    )
    assert cfg.data_config.dataset_type == data_pb2.CsvDataset
    assert not cfg.HasField("eval_config")
    assert dict(cfg.feature_configs[-1].id_feature.vocab_dict) == {"a": 3}


@pytest.mark.parametrize(
    ("edit", "expected"),
    [
        ({"train_config.num_stepz": 1}, 'did you mean "num_steps"?'),
        ({"train_config.num_steps": "abc"}, "num_steps is uint32"),
        ({"train_config.num_steps": -1}, "num_steps is uint32"),
        ({"train_config.num_steps": 2.5}, "num_steps is uint32"),
        ({"data_config.dataset_type": "Odps"}, "use one of OdpsDataset"),
        ({"feature_configs[feature_name=x].id_feature.num_buckets": 1}, "nothing"),
        ({"feature_configs[50].id_feature.num_buckets": 1}, "out of range"),
        ({"feature_configs[0].id_feature.num_buckets": 1}, "holds raw_feature"),
        ({"feature_configs.id_feature.num_buckets": 1}, "is a list"),
        ({"train_config[0].num_steps": 1}, "not a list"),
        ({"train_config.num_steps.x": 1}, "not a message"),
        ({"model_config.deepfm.deep": 5}, "needs a dict or text"),
        ("train_config.num_steps", "is not path:value"),
        ('{"a": 1', "bad JSON"),
    ],
)
def test_bad_edits_name_the_path(
    cfg: pipeline_pb2.EasyRecConfig, edit: object, expected: str
) -> None:
    with pytest.raises(ConfigError) as info:
        apply_edit_config_json(cfg, edit)
    message = info.value.one_line()
    assert expected in message
    assert "edit_config_json" in message
    if isinstance(edit, dict):
        assert next(iter(edit)) in message
