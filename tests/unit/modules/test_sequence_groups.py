"""A DEEP group's sequence_groups/sequence_encoders widen the group's output."""

import json

import pyarrow.parquet as pq
import pytest

from tests.cli import REPO
from tzrec import config as config_lib
from tzrec.datasets.batch import BatchBuilder
from tzrec.datasets.synthetic_from_config import generate_from_config
from tzrec.features.build import build_features
from tzrec.modules.embedding import EmbeddingGroup
from tzrec.utils.errors import ConfigError

SIMPLE_INPUT = (
    "model_config.feature_groups[0].sequence_encoders[0].simple_attention.input"
)
CONFIG = str(REPO / "tests" / "configs" / "teasyrec" / "mmoe_seq_encoders_small.config")


def _group(edits=None):
    config = config_lib.load_pipeline_config(CONFIG, json.dumps(edits or {}))
    features = build_features(config.feature_configs)
    return (
        config,
        features,
        EmbeddingGroup(features, config.model_config.feature_groups),
    )


def test_encoders_append_to_their_group(tmp_path):
    config, features, eg = _group()
    assert list(eg.groups) == ["all"]  # sequence groups are not model groups
    # 7 features of width 8; encoders: simple 8 + pooling 8 (s1), windows 3*16,
    # self-attention 16 and DIN 16 (s2).
    assert eg.group_dim("all") == 56 + 8 + 8 + 48 + 16 + 16
    generate_from_config(config, str(tmp_path), 64, 16)
    builder = BatchBuilder(
        features,
        list(config.data_config.label_fields),
        sparse_groups=eg.sparse_groups,
        sequence_groups=eg.aligned_sequences,
    )
    batch = builder.build(pq.read_table(tmp_path / "train" / "part-0.parquet"))
    out = eg(batch.sparse, batch.dense)
    assert list(out) == ["all"]
    assert [t.shape[1] for t in out["all"]][-5:] == [8, 8, 48, 16, 16]
    assert sum(t.shape[1] for t in out["all"]) == eg.group_dim("all")


@pytest.mark.parametrize(
    "edits, problem",
    [
        (
            {SIMPLE_INPUT: "s9"},
            'input "s9" is not a sequence group',
        ),
        (
            {SIMPLE_INPUT: ""},
            "input not set and the group has several sequence groups",
        ),
        (
            {"model_config.feature_groups[0].sequence_encoders": []},
            'sequence group "s1" is read by no sequence encoder',
        ),
        (
            {"model_config.feature_groups[0].group_type": "WIDE"},
            "need a DEEP group",
        ),
    ],
)
def test_bad_wiring_names_the_problem(edits, problem):
    with pytest.raises(ConfigError, match=problem):
        _group(edits)
