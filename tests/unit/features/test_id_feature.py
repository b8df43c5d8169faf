"""IdFeature encoding on hand-computed inputs: vocabularies, weights, defaults."""

import numpy as np
import pyarrow as pa
import pytest

from tests.unit.features.helpers import feature
from tzrec.features.hashing import hash_ints
from tzrec.utils.errors import ConfigError, DataError


def test_vocab_dict_shares_ids_and_unknown_gets_max_plus_one():
    f = feature(
        'id_feature { feature_name: "v" embedding_dim: 4 separator: "|" '
        'vocab_dict { key: "a" value: 2 } vocab_dict { key: "b" value: 3 } '
        'vocab_dict { key: "c" value: 2 } }'
    )
    sv = f.encode_sparse({"v": pa.array(["a", "b|c", "zz", None])})
    assert sv.values.tolist() == [2, 3, 2, 4]
    assert sv.lengths.tolist() == [1, 2, 1, 0]
    assert f.table.num_embeddings == 5


def test_vocab_file_list_form(tmp_path):
    path = tmp_path / "v.txt"
    path.write_text("x\ny\n\nz\n")
    f = feature(
        f'id_feature {{ feature_name: "v" embedding_dim: 4 vocab_file: "{path}" }}'
    )
    sv = f.encode_sparse({"v": pa.array(["z", "x", "nope"])})
    assert sv.values.tolist() == [2, 0, 3]
    assert f.table.num_embeddings == 4


def test_vocab_file_dict_form(tmp_path):
    path = tmp_path / "v.txt"
    path.write_text("x 5\nnew york\t7\n")
    f = feature(
        f'id_feature {{ feature_name: "v" embedding_dim: 4 vocab_file: "{path}" }}'
    )
    sv = f.encode_sparse({"v": pa.array(["new york", "x", "y"])})
    assert sv.values.tolist() == [7, 5, 8]
    assert f.table.num_embeddings == 9


def test_vocab_file_errors_name_the_file(tmp_path):
    dup = tmp_path / "dup.txt"
    dup.write_text("a\nb\na\n")
    with pytest.raises(ConfigError, match='duplicate vocab entry "a"'):
        feature(
            f'id_feature {{ feature_name: "v" embedding_dim: 4 vocab_file: "{dup}" }}'
        )
    with pytest.raises(ConfigError, match="cannot read vocab_file"):
        feature(
            f'id_feature {{ feature_name: "v" embedding_dim: 4 '
            f'vocab_file: "{tmp_path / "missing.txt"}" }}'
        )


def test_empty_bags_take_the_default_and_out_of_range_ids_are_dropped():
    f = feature(
        'id_feature { feature_name: "c" num_buckets: 10 embedding_dim: 4 '
        'default_value: "0" separator: "|" }'
    )
    sv = f.encode_sparse({"c": pa.array(["3", None, "12", "1|99", ""])})
    # 12 is dropped (bag empty -> default 0); 99 is dropped from a non-empty bag.
    assert sv.values.tolist() == [3, 0, 0, 1, 0]
    assert sv.lengths.tolist() == [1, 1, 1, 1, 1]


def test_default_value_outside_num_buckets_is_a_config_error():
    with pytest.raises(ConfigError, match="not a valid id"):
        feature(
            'id_feature { feature_name: "c" num_buckets: 10 embedding_dim: 4 '
            'default_value: "10" }'
        )


def test_hashed_default_matches_the_same_value_in_the_data():
    f = feature(
        'id_feature { feature_name: "c" hash_bucket_size: 1000 embedding_dim: 4 '
        'default_value: "5" }'
    )
    sv = f.encode_sparse({"c": pa.array([None, 5], pa.int64())})
    expected = int(hash_ints(np.array([5], np.int64), 1000)[0])
    assert sv.values.tolist() == [expected, expected]


def test_list_column_null_elements_add_nothing():
    f = feature('id_feature { feature_name: "c" num_buckets: 10 embedding_dim: 4 }')
    col = pa.array([[1, None, 2], None, []], pa.list_(pa.int64()))
    sv = f.encode_sparse({"c": col})
    assert sv.values.tolist() == [1, 2]
    assert sv.lengths.tolist() == [2, 0, 0]


def test_weighted_id_weight_pairs():
    f = feature(
        'id_feature { feature_name: "w" num_buckets: 10 embedding_dim: 4 '
        'weighted: true separator: "|" }'
    )
    assert f.is_weighted
    sv = f.encode_sparse({"w": pa.array(["1:0.5|2:2", "", None, "3:1"])})
    assert sv.values.tolist() == [1, 2, 3]
    assert sv.lengths.tolist() == [2, 0, 0, 1]
    assert sv.weights.tolist() == [0.5, 2.0, 1.0]


def test_weighted_map_column_and_default():
    f = feature(
        'id_feature { feature_name: "w" num_buckets: 10 embedding_dim: 4 '
        'weighted: true default_value: "9" }'
    )
    col = pa.array([[("4", 0.25)], None], pa.map_(pa.string(), pa.float32()))
    sv = f.encode_sparse({"w": col})
    assert sv.values.tolist() == [4, 9]
    assert sv.weights.tolist() == [0.25, 1.0]


def test_weighted_malformed_value_is_a_data_error():
    f = feature(
        'id_feature { feature_name: "w" num_buckets: 10 embedding_dim: 4 '
        "weighted: true }"
    )
    with pytest.raises(DataError, match='"1" is not id:weight.*column "w"'):
        f.encode_sparse({"w": pa.array(["1"])})
    with pytest.raises(DataError, match='unparseable number.*column "w"'):
        f.encode_sparse({"w": pa.array(["1:abc"])})


SEQ = (
    'sequence_id_feature {{ feature_name: "h" sequence_length: 3 num_buckets: 100 '
    "embedding_dim: 4 {extra} }}"
)


def test_sequence_ids_keep_the_first_positions():
    f = feature(SEQ.format(extra=""))
    assert f.is_sequence and f.sequence.length == 3
    sv = f.encode_sparse({"h": pa.array(["1;2;3;4", "", None, "5"])})
    assert sv.values.tolist() == [1, 2, 3, 5]
    assert sv.lengths.tolist() == [3, 0, 0, 1]


def test_sequence_empty_or_out_of_range_positions():
    f = feature(SEQ.format(extra=""))
    with pytest.raises(DataError, match='position is empty.*row 1.*column "h"'):
        f.encode_sparse({"h": pa.array(["4", "1;;3"])})
    with pytest.raises(DataError, match='out of range.*row 0.*column "h"'):
        f.encode_sparse({"h": pa.array(["1;200"])})
    g = feature(SEQ.format(extra='default_value: "0"'))
    sv = g.encode_sparse({"h": pa.array(["1;;3", "1;200"])})
    # Positions are kept (aligned with other sub-sequences), defaulted.
    assert sv.values.tolist() == [1, 0, 3, 1, 0]
    assert sv.lengths.tolist() == [3, 2]


def test_sequence_list_column_and_hashed_empty_token():
    f = feature(SEQ.format(extra=""))
    col = pa.array([[7, 8, 9, 10], None], pa.list_(pa.int64()))
    sv = f.encode_sparse({"h": col})
    assert sv.values.tolist() == [7, 8, 9]
    assert sv.lengths.tolist() == [3, 0]
    h = feature(
        'sequence_id_feature { feature_name: "h" sequence_length: 5 '
        "hash_bucket_size: 50 embedding_dim: 4 }"
    )
    sv = h.encode_sparse({"h": pa.array(["a;;b"])})
    assert sv.lengths.tolist() == [3]


def test_weighted_sequence_is_not_supported():
    with pytest.raises(ConfigError, match="weighted sequence"):
        feature(SEQ.format(extra="weighted: true"))
