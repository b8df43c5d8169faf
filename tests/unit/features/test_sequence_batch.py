"""Sequence feature building and their batch encoding (KJTs, padding, alignment)."""

import pyarrow as pa
import pytest

from tests.unit.features.helpers import feature, features
from tzrec.datasets.batch import BatchBuilder
from tzrec.utils.errors import ConfigError, DataError

CLICK = (
    'sequence_feature { sequence_name: "click" sequence_length: 3 '
    'features { id_feature { feature_name: "item" expression: "item:iid" '
    "num_buckets: 100 embedding_dim: 4 } } "
    'features { raw_feature { feature_name: "ts" } } }'
)
ITEM = 'id_feature { feature_name: "iid" num_buckets: 100 embedding_dim: 4 }'


def test_sequence_feature_expands_to_prefixed_sub_features():
    item, ts = features(CLICK)
    assert (item.name, ts.name) == ("click__item", "click__ts")
    assert item.inputs == ["click__iid"] and ts.inputs == ["click__ts"]
    assert item.sequence.name == ts.sequence.name == "click"
    assert item.is_sparse and not ts.is_sparse


def test_sequence_length_must_be_set():
    with pytest.raises(ConfigError, match="sequence_length must be > 0"):
        feature(
            'sequence_id_feature { feature_name: "h" num_buckets: 3 embedding_dim: 4 }'
        )


def test_expression_sides():
    assert feature(ITEM.replace('"iid"', '"iid" expression: "user:uid"')).inputs == [
        "uid"
    ]
    with pytest.raises(ConfigError, match="not supported yet"):
        _ = feature(ITEM.replace('"iid"', '"iid" expression: "feature:x"')).inputs


def _builder(feats, **kw):
    layout = {"deep": ["iid"], "sequence_4": ["iid", "click__item"]}
    return BatchBuilder(feats, ["label"], sparse_groups=layout, **kw)


TABLE = pa.table(
    {
        "iid": pa.array([5, 6], pa.int64()),
        "click__iid": pa.array(["1;2;3;4", ""]),
        "click__ts": pa.array(["10;20;30;40", None]),
        "label": pa.array([1, 0]),
    }
)


def test_batch_of_a_sequence_group():
    batch = _builder(features(ITEM, CLICK)).build(TABLE)
    kjt = batch.sparse["sequence_4"]
    assert kjt.keys() == ["iid", "click__item"]
    assert kjt.values().tolist() == [5, 6, 1, 2, 3]
    assert kjt.lengths().tolist() == [1, 1, 3, 0]
    assert batch.dense["click__ts"].shape == (2, 3, 1)
    assert batch.dense["click__ts"][:, :, 0].tolist() == [[10, 20, 30], [0, 0, 0]]
    assert batch.sparse["deep"].weights_or_none() is None


def test_misaligned_sub_sequences_are_a_data_error():
    bad = TABLE.set_column(2, "click__ts", pa.array(["10;20", None]))
    with pytest.raises(DataError, match='row 0.*"click__iid" and "click__ts"'):
        _builder(features(ITEM, CLICK)).build(bad)


def test_given_sequence_groups_are_checked_too():
    feats = features(
        ITEM,
        'sequence_id_feature { feature_name: "a" sequence_length: 5 num_buckets: 9 '
        "embedding_dim: 4 }",
        'sequence_raw_feature { feature_name: "b" sequence_length: 5 }',
    )
    table = pa.table({"iid": [1], "a": ["1;2"], "b": ["0.5"], "label": [1]})
    builder = BatchBuilder(
        feats, ["label"], sparse_groups={"deep": ["iid"], "sequence_4": ["a"]}
    )
    builder.build(table)  # not declared aligned: fine
    with pytest.raises(DataError, match="sequence lengths differ"):
        BatchBuilder(
            feats,
            ["label"],
            sparse_groups={"deep": ["iid"], "sequence_4": ["a"]},
            sequence_groups=[["a", "b"]],
        ).build(table)


def test_weighted_feature_gives_the_kjt_weights_with_ones_for_the_rest():
    feats = features(
        ITEM,
        'id_feature { feature_name: "w" num_buckets: 10 embedding_dim: 4 '
        'weighted: true separator: "|" }',
    )
    table = pa.table({"iid": [3, 4], "w": ["1:0.5|2:3", ""], "label": [0, 1]})
    batch = BatchBuilder(feats, ["label"]).build(table)
    kjt = batch.sparse["deep"]
    assert kjt.values().tolist() == [3, 4, 1, 2]
    assert kjt.lengths().tolist() == [1, 1, 2, 0]
    assert kjt.weights().tolist() == [1.0, 1.0, 0.5, 3.0]
