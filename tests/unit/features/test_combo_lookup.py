"""ComboFeature crosses and LookupFeature map lookups, hand-computed."""

import numpy as np
import pyarrow as pa
import pytest

from tests.unit.features.helpers import feature
from tzrec.features.hashing import hash_strings
from tzrec.utils.errors import ConfigError, DataError

COLUMNS = {
    "x": pa.array([1, 2, None], pa.int64()),
    "y": pa.array(["a|b", "b", "a"]),
}


def test_combo_cross_with_vocab():
    f = feature(
        'combo_feature { feature_name: "xy" expression: ["user:x", "item:y"] '
        'vocab_list: ["1_a", "1_b", "2_a"] embedding_dim: 4 separator: "|" }'
    )
    assert f.inputs == ["x", "y"]
    sv = f.encode_sparse(COLUMNS)
    # row 0: 1 x [a, b] -> 1_a, 1_b; row 1: 2_b unknown -> 3; row 2: x missing.
    assert sv.values.tolist() == [0, 1, 3]
    assert sv.lengths.tolist() == [2, 1, 0]
    assert f.table.num_embeddings == 4


def test_combo_three_multi_value_columns_hashed():
    f = feature(
        'combo_feature { feature_name: "xyz" expression: ["x", "y", "z"] '
        'hash_bucket_size: 997 embedding_dim: 4 separator: "|" default_value: "0_0_0" }'
    )
    cols = {
        "x": pa.array(["1|2", "3"]),
        "y": pa.array(["a|b", ""]),
        "z": pa.array(["q", "r"]),
    }
    sv = f.encode_sparse(cols)
    crossed = ["1_a_q", "1_b_q", "2_a_q", "2_b_q", "0_0_0"]
    assert sv.values.tolist() == hash_strings(pa.array(crossed), 997).tolist()
    assert sv.lengths.tolist() == [4, 1]  # row 1 crosses an empty column: default


def test_combo_needs_two_columns():
    with pytest.raises(ConfigError, match="at least 2"):
        feature(
            'combo_feature { feature_name: "c" expression: ["x"] '
            "hash_bucket_size: 10 embedding_dim: 4 }"
        )


MAPS = pa.array(["a:1\x1db:2\x1dc:4", "a:5", None, "a:1"])
KEYS = pa.array(["a|c", "b", "a", "zz"])


@pytest.mark.parametrize(
    ("combiner", "expected"),
    [
        ("sum", [5.0, -1, -1, -1]),
        ("mean", [2.5, -1, -1, -1]),
        ("min", [1.0, -1, -1, -1]),
        ("max", [4.0, -1, -1, -1]),
        ("count", [2.0, 0, 0, 0]),
    ],
)
def test_lookup_combiners(combiner, expected):
    f = feature(
        'lookup_feature { feature_name: "l" map: "user:m" key: "item:k" '
        f'combiner: "{combiner}" default_value: "-1" separator: "|" }}'
    )
    assert not f.is_sparse and f.output_dim == 1
    out = f.encode_dense({"m": MAPS, "k": KEYS})
    assert out[:, 0].tolist() == expected


def test_lookup_pyarrow_map_with_int_keys_and_boundaries():
    f = feature(
        'lookup_feature { feature_name: "l" map: "m" key: "k" boundaries: [1, 1.8] '
        "embedding_dim: 4 }"
    )
    maps = pa.array(
        [[(1, 0.5), (2, 1.5)], [(3, 2.0)], [(1, 9.0)]],
        pa.map_(pa.int64(), pa.float64()),
    ).slice(0, 2)
    sv = f.encode_sparse({"m": maps, "k": pa.array([2, 3], pa.int64())})
    # 1.5 -> bucket 1, 2.0 -> bucket 2
    assert sv.values.tolist() == [1, 2]
    assert sv.lengths.tolist() == [1, 1]


def test_lookup_discrete_values_are_ids():
    f = feature(
        'lookup_feature { feature_name: "l" map: "m" key: "k" need_discrete: true '
        'vocab_list: ["x", "y"] embedding_dim: 4 separator: "|" }'
    )
    cols = {
        "m": pa.array(["a:x\x1db:y", "a:z", "a:x"]),
        "k": pa.array(["a|b", "a", "q"]),
    }
    sv = f.encode_sparse(cols)
    assert sv.values.tolist() == [0, 1, 2]  # z is unknown -> 2; row 2 no match
    assert sv.lengths.tolist() == [2, 1, 0]


@pytest.mark.parametrize(
    ("bucketing", "combiner", "expected"),
    [
        ("num_buckets: 10", "count", [2, 1, 0]),  # the count is the id
        ('vocab_list: ["5", "2.5", "0"]', "sum", [0, 1, 2]),
        ('vocab_list: ["5", "2.5", "0"]', "mean", [1, 3, 2]),  # 2.5, 3 (OOV), 0
    ],
)
def test_lookup_without_need_discrete_buckets_the_combined_value(
    bucketing, combiner, expected
):
    f = feature(
        f'lookup_feature {{ feature_name: "l" map: "m" key: "k" {bucketing} '
        f'combiner: "{combiner}" embedding_dim: 4 separator: "|" }}'
    )
    assert f.is_sparse and f.table.num_embeddings == (10 if "num" in bucketing else 4)
    cols = {
        "m": pa.array(["a:1\x1db:4", "a:3", "a:1"]),
        "k": pa.array(["a|b", "a", "q"]),
    }
    sv = f.encode_sparse(cols)
    if combiner == "sum":
        cols["m"] = pa.array(["a:1\x1db:4", "a:2.5", "a:1"])
        sv = f.encode_sparse(cols)
    assert sv.values.tolist() == expected
    assert sv.lengths.tolist() == [1, 1, 1]


def test_lookup_need_key_prefixes_the_key():
    f = feature(
        'lookup_feature { feature_name: "l" map: "m" key: "k" need_key: true '
        "hash_bucket_size: 101 embedding_dim: 4 }"
    )
    sv = f.encode_sparse({"m": pa.array(["a:x"]), "k": pa.array(["a"])})
    assert sv.values.tolist() == hash_strings(pa.array(["a_x"]), 101).tolist()


def test_lookup_malformed_map_entry_is_a_data_error():
    f = feature('lookup_feature { feature_name: "l" map: "m" key: "k" }')
    with pytest.raises(DataError, match='"a1" is not key:value.*column "m"'):
        f.encode_dense({"m": pa.array(["a1"]), "k": pa.array(["a"])})
    with pytest.raises(DataError, match='unparseable number.*column "m"'):
        f.encode_dense({"m": pa.array(["a:x"]), "k": pa.array(["a"])})


def test_lookup_missing_key_column_is_named():
    f = feature('lookup_feature { feature_name: "l" map: "m" key: "k" }')
    with pytest.raises(DataError, match='missing column "k"'):
        f.encode_dense({"m": pa.array(["a:1"])})
    assert np.isfinite(f.encode_dense({"m": MAPS, "k": KEYS})).all()
