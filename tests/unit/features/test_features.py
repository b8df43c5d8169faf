import numpy as np
import pyarrow as pa
import pytest

from tzrec.features.build import build_features, shared_tables
from tzrec.features.hashing import hash_ints, hash_strings
from tzrec.protos import feature_pb2
from tzrec.utils.errors import ConfigError, DataError


def _feature(text: str):
    from google.protobuf import text_format

    fc = text_format.Parse(text, feature_pb2.FeatureConfig())
    return build_features([fc])[0]


def test_id_feature_num_buckets_missing_and_out_of_range():
    f = _feature('id_feature { feature_name: "c" num_buckets: 10 embedding_dim: 4 }')
    sv = f.encode_sparse({"c": pa.array([3, None, 12, 0, -1], pa.int64())})
    # Missing and out-of-range ids (12, -1) give empty bags.
    assert sv.values.tolist() == [3, 0]
    assert sv.lengths.tolist() == [1, 0, 0, 1, 0]
    assert f.table.num_embeddings == 10


def test_id_feature_default_value_fills_missing():
    f = _feature(
        'id_feature { feature_name: "c" num_buckets: 10 embedding_dim: 4 '
        'default_value: "7" }'
    )
    sv = f.encode_sparse({"c": pa.array([3, None], pa.int64())})
    assert sv.values.tolist() == [3, 7]
    assert sv.lengths.tolist() == [1, 1]


def test_id_feature_multi_value_string_with_separator():
    f = _feature(
        'id_feature { feature_name: "t" num_buckets: 100 embedding_dim: 4 '
        'separator: "|" }'
    )
    sv = f.encode_sparse({"t": pa.array(["1|2|3", "", None, "5||6"])})
    assert sv.values.tolist() == [1, 2, 3, 5, 6]
    assert sv.lengths.tolist() == [3, 0, 0, 2]


def test_id_feature_vocab_list_unknown_goes_to_extra_bucket():
    f = _feature(
        'id_feature { feature_name: "v" vocab_list: ["a", "b"] embedding_dim: 4 }'
    )
    sv = f.encode_sparse({"v": pa.array(["b", "zz", "a"])})
    assert sv.values.tolist() == [1, 2, 0]
    assert f.table.num_embeddings == 3


def test_id_feature_hash_is_stable_and_in_range():
    f = _feature(
        'id_feature { feature_name: "s" hash_bucket_size: 50 embedding_dim: 4 }'
    )
    a = f.encode_sparse({"s": pa.array(["x", "y", "x"])}).values
    assert a[0] == a[2] and (0 <= a).all() and (a < 50).all()
    # Slicing must not change a string's bucket (offsets are honoured).
    sliced = hash_strings(pa.array(["q", "x", "y"]).slice(1), 50)
    assert sliced.tolist() == a[:2].tolist()
    ints = hash_ints(np.array([1, 2, 1], np.int64), 7)
    assert ints[0] == ints[2] and ints.max() < 7


def test_id_feature_rejects_non_integer_for_num_buckets():
    f = _feature('id_feature { feature_name: "c" num_buckets: 10 embedding_dim: 4 }')
    with pytest.raises(DataError, match='column "c"'):
        f.encode_sparse({"c": pa.array(["1", "abc"])})


def test_missing_column_names_it():
    f = _feature('id_feature { feature_name: "c" num_buckets: 10 embedding_dim: 4 }')
    with pytest.raises(DataError, match='missing column "c"'):
        f.encode_sparse({"other": pa.array([1])})


def test_raw_feature_dense_fills_default():
    f = _feature('raw_feature { feature_name: "x" default_value: "-1" }')
    out = f.encode_dense({"x": pa.array([1.5, None, 3.0])})
    assert out.shape == (3, 1)
    assert out[:, 0].tolist() == [1.5, -1.0, 3.0]
    assert not f.is_sparse and f.output_dim == 1


def test_raw_feature_boundaries_bucketize():
    f = _feature(
        'raw_feature { feature_name: "x" boundaries: [1, 10] embedding_dim: 4 }'
    )
    sv = f.encode_sparse({"x": pa.array([0.5, 1.0, 9.9, 10.0, None])})
    # bucket i holds [b[i-1], b[i]); missing -> default 0 -> bucket 0
    assert sv.values.tolist() == [0, 1, 1, 2, 0]
    assert sv.lengths.tolist() == [1] * 5
    assert f.table.num_embeddings == 3


def test_raw_feature_value_dim():
    f = _feature('raw_feature { feature_name: "v" value_dim: 2 separator: "," }')
    out = f.encode_dense({"v": pa.array(["1,2", None, "3,4"])})
    assert out.tolist() == [[1, 2], [0, 0], [3, 4]]
    with pytest.raises(DataError, match="expected value_dim=2"):
        f.encode_dense({"v": pa.array(["1,2,3"])})


def test_shared_embedding_must_agree():
    from google.protobuf import text_format

    fcs = [
        text_format.Parse(
            f'id_feature {{ feature_name: "{n}" embedding_name: "shared" '
            f"num_buckets: {b} embedding_dim: 4 }}",
            feature_pb2.FeatureConfig(),
        )
        for n, b in (("a", 10), ("b", 10))
    ]
    assert list(shared_tables(build_features(fcs))) == ["shared"]
    fcs[1].id_feature.num_buckets = 11
    with pytest.raises(ConfigError, match="shared"):
        shared_tables(build_features(fcs))
