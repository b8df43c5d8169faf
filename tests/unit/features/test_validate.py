"""Config validation of features and sequence groups: each problem named by path."""

import json

import pytest

from tests.cli import REPO
from tzrec import config as config_lib
from tzrec.utils.errors import ConfigError

DIN = REPO / "experiments" / "multi_tower_din_synthetic.config"


def _problems(edits: dict) -> dict[str, str]:
    config = config_lib.load_pipeline_config(str(DIN), json.dumps(edits))
    try:
        config_lib.validate(config)
    except ConfigError as e:
        return {p.where: p.one_line() for p in e.problems}
    return {}


def test_the_din_example_is_valid():
    assert _problems({}) == {}


@pytest.mark.parametrize(
    ("edits", "where", "message"),
    [
        (
            {"feature_configs[1].sequence_id_feature.sequence_length": 0},
            "feature_configs[1].sequence_id_feature.sequence_length",
            "must be > 0",
        ),
        (
            {"feature_configs[4].raw_feature.normalizer": "method=expression,expr=@"},
            "feature_configs[4].raw_feature.normalizer",
            "does not parse",
        ),
        (
            {"feature_configs[5].combo_feature.expression": ["cat_5"]},
            "feature_configs[5].combo_feature.expression",
            "at least 2",
        ),
        (
            {"feature_configs[0].id_feature.default_value": "50000"},
            "feature_configs[0].id_feature.default_value",
            "not an id in [0, 50000)",
        ),
        (
            {"feature_configs[2].id_feature.vocab_file": "no/such/vocab.txt"},
            "feature_configs[2].id_feature",
            "needs exactly one of",
        ),
        (
            {"feature_configs[3].id_feature.embedding_dim": 6},
            "feature_configs[3].id_feature.embedding_dim",
            "not a multiple of 4",
        ),
        (
            {"model_config.feature_groups[1].group_type": "JAGGED_SEQUENCE"},
            "model_config.feature_groups[1].group_type",
            "not supported yet",
        ),
        (
            {"model_config.feature_groups[1].feature_names": ["item_id", "user_id"]},
            "model_config.feature_groups[1]",
            "needs a sequence id feature",
        ),
        (
            {"model_config.multi_tower_din.din_towers[0].input": "deep"},
            "model_config.multi_tower_din.din_towers[0].input",
            "must be a SEQUENCE group",
        ),
        (
            {"model_config.feature_groups[1].feature_names": ["item_history"]},
            "model_config.multi_tower_din.din_towers[0].input",
            "no query feature",
        ),
        (
            {"feature_configs[1].sequence_id_feature.weighted": True},
            "feature_configs[1].sequence_id_feature.weighted",
            "not supported yet",
        ),
        (
            {
                "model_config.feature_groups[0].sequence_encoders": [
                    {"hstu_encoder": {"input": "s"}}
                ]
            },
            "model_config.feature_groups[0].sequence_encoders[0].hstu_encoder",
            "not supported yet",
        ),
    ],
)
def test_feature_problems_name_their_field(edits, where, message):
    found = _problems(edits)
    assert where in found, found
    assert message in found[where]


def test_lookup_feature_rules():
    lookup = {"feature_name": "l", "map": "m", "key": "k", "need_discrete": True}
    found = _problems({"feature_configs[5]": {"lookup_feature": lookup}})
    assert "needs exactly one of" in found["feature_configs[5].lookup_feature"]
    # A bucket field without need_discrete buckets the combined value
    # (TorchEasyRec); with boundaries as well it is ambiguous.
    lookup = {"feature_name": "l", "map": "m", "key": "k", "num_buckets": 3}
    lookup |= {"boundaries": [1.0], "embedding_dim": 4}
    found = _problems({"feature_configs[5]": {"lookup_feature": lookup}})
    where = "feature_configs[5].lookup_feature.boundaries"
    assert "not used with num_buckets" in found[where]
    lookup = {"feature_name": "l", "map": "m", "key": "k", "value_dim": 2}
    found = _problems({"feature_configs[5]": {"lookup_feature": lookup}})
    assert "not supported yet" in found["feature_configs[5].lookup_feature.value_dim"]


def test_other_models_read_no_sequence_group():
    found = _problems(
        {
            "model_config.multi_tower": {
                "towers": [{"input": "deep", "mlp": {"hidden_units": [8]}}]
            }
        }
    )
    assert "reads no SEQUENCE group" in found["model_config.feature_groups"]
