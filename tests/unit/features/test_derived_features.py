"""Issue 17's feature types, each on a small table: the values they compute."""

from __future__ import annotations

import json

import numpy as np
import pyarrow as pa
import pytest

from tests.unit.features.helpers import feature, features
from tzrec.utils.errors import ConfigError, DataError

WORDS = "tests/unit/features/data/words.json"


def ids(f, cols) -> tuple[list[int], list[int]]:
    sv = f.encode_sparse(cols)
    return sv.values.tolist(), sv.lengths.tolist()


def dense(f, cols) -> list[float]:
    return [round(float(v), 4) for v in f.encode_dense(cols).reshape(-1)]


TAGS = {"tag": pa.array(["a\x1db", "b", None, "c", "a\x1da"])}
MAP = 'value_map { key: "a" value: 1.0 } value_map { key: "b" value: 2.5 }'


@pytest.mark.parametrize(
    ("combiner", "want"),
    [
        ("sum", [3.5, 2.5, 0, 0, 2]),
        ("mean", [1.75, 2.5, 0, 0, 1]),
        ("max", [2.5, 2.5, 0, 0, 1]),
    ],
)
def test_combine_maps_and_combines_each_rows_values(combiner, want):
    f = feature(
        f'combine_feature {{ feature_name: "c" expression: "user:tag" {MAP} '
        f'combiner: "{combiner}" }}'
    )
    assert not f.is_sparse and f.output_dim == 1
    assert dense(f, TAGS) == want  # "c" is not in the map: like a missing row


def test_combine_num_buckets_takes_the_value_as_id_and_default_fills():
    f = feature(
        f'combine_feature {{ feature_name: "c" expression: "tag" {MAP} num_buckets: 3 '
        'embedding_dim: 4 default_value: "1" }'
    )
    assert f.table.num_embeddings == 3
    # 3.5 is out of range (empty bag); 2.5 -> 2; missing rows take default 1.
    assert ids(f, TAGS) == ([2, 1, 1, 2], [0, 1, 1, 1, 1])


def test_combine_without_value_map_reads_numbers_and_bucketizes():
    f = feature(
        'combine_feature { feature_name: "c" expression: "x" boundaries: [1, 2] '
        'embedding_dim: 4 separator: "," }'
    )
    # 0.5 + 0.7 -> bucket 1; no default_value ("") leaves the empty row's bag empty.
    assert ids(f, {"x": pa.array(["0.5,0.7", "3", ""])}) == ([1, 2], [1, 1, 0])
    with pytest.raises(DataError, match="unparseable number"):
        f.encode_sparse({"x": pa.array(["high"])})


XY = {"x": pa.array([1.0, None, 3.0, 4.0]), "y": pa.array([2, 3, 4, 4])}


def test_expr_evaluates_torcheasyrec_syntax_over_columns():
    f = feature(
        'expr_feature { feature_name: "e" variables: ["user:x", "item:y"] '
        'expression: "x == y ? 1 : x^2 + y" }'
    )
    assert f.inputs == ["x", "y"]
    # Row 1 has no x: the result is missing and takes default_value 0.
    assert dense(f, XY) == [3.0, 0.0, 13.0, 1.0]


def test_expr_fill_missing_and_boundaries():
    f = feature(
        'expr_feature { feature_name: "e" variables: ["x", "y"] expression: '
        '"x > 2 && y > 3" fill_missing: 5 boundaries: [0.5] embedding_dim: 4 }'
    )
    assert ids(f, XY) == ([0, 0, 1, 1], [1, 1, 1, 1])


def test_expr_refuses_what_the_evaluator_does_not_allow():
    with pytest.raises(ConfigError, match='unknown function "dot"'):
        feature(
            'expr_feature { feature_name: "e" variables: ["x"] '
            'expression: "dot(x, x)" }'
        )
    with pytest.raises(ConfigError, match="needs variables"):
        feature('expr_feature { feature_name: "e" expression: "1" }')


NESTED = {
    "nm": pa.array(["c1^b1:0.2,b2:0.3|c2^b1:0.5", "c1^b2:1", None, "c2^b9:7"]),
    "cate": pa.array(["c1", "c1", "c1", "c2"]),
    "brand": pa.array(["b1", "b2", "b1", "b1"]),
}


@pytest.mark.parametrize(
    ("pkey", "skey", "want"),
    [
        ("item:cate", "item:brand", [0.2, 1.0, 0.0, 0.0]),
        ("ALL", "item:brand", [0.7, 1.0, 0.0, 0.0]),
        ("item:cate", "ALL", [0.5, 1.0, 0.0, 7.0]),
    ],
)
def test_match_finds_values_by_primary_and_secondary_key(pkey, skey, want):
    f = feature(
        f'match_feature {{ feature_name: "m" nested_map: "user:nm" pkey: "{pkey}" '
        f'skey: "{skey}" }}'
    )
    assert dense(f, NESTED) == want


def test_match_discrete_bags_the_matched_tokens():
    f = feature(
        'match_feature { feature_name: "m" nested_map: "nm" pkey: "cate" skey: "ALL" '
        'show_skey: true vocab_list: ["b1_0.2", "b2_0.3", "b2_1"] embedding_dim: 4 }'
    )
    # Unknown tokens ("b9_7") get the extra last id, 3.
    assert ids(f, NESTED) == ([0, 1, 2, 3], [2, 1, 0, 1])
    with pytest.raises(DataError, match='has no "\\^"'):
        f.encode_sparse({**NESTED, "nm": pa.array(["b1:1", "", "", ""])})


QT = {
    "q": pa.array(["a b c", "a b", "x", "", "b c"]),
    "t": pa.array(["a b c", "z a b", "y", "a", "a b c d"]),
}


@pytest.mark.parametrize(
    ("method", "want"),
    [
        ("query_common_ratio", [1.0, 1.0, 0.0, 0.0, 1.0]),
        ("title_common_ratio", [1.0, 0.6667, 0.0, 0.0, 0.5]),
        ("is_contain", [1.0, 1.0, 0.0, 0.0, 1.0]),
        ("is_equal", [1.0, 0.0, 0.0, 0.0, 0.0]),
    ],
)
def test_overlap_methods(method, want):
    f = feature(
        f'overlap_feature {{ feature_name: "o" query: "user:q" title: "item:t" '
        f'method: "{method}" separator: " " }}'
    )
    assert dense(f, QT) == want


def test_overlap_contain_keeps_order():
    f = feature(
        'overlap_feature { feature_name: "o" query: "q" title: "t" '
        'method: "is_contain" separator: " " }'
    )
    cols = {"q": pa.array(["b a", "a c"]), "t": pa.array(["a b", "a b c"])}
    assert dense(f, cols) == [0.0, 0.0]


def test_bool_mask_keeps_the_masked_values():
    f = feature(
        'bool_mask_feature { feature_name: "b" expression: ["user:v", "item:m"] '
        'separator: "," num_buckets: 1000 embedding_dim: 4 }'
    )
    cols = {
        "v": pa.array(["123,456,90,80", "1,2", None]),
        "m": pa.array(["true,false,TRUE,0", "0,1", None]),
    }
    assert ids(f, cols) == ([123, 90, 2], [2, 1, 0])
    lists = {"v": pa.array([[1, 2, 3, 4]]), "m": pa.array([[1, 0, 1, 0]])}
    assert ids(f, lists) == ([1, 3], [2])
    with pytest.raises(DataError, match="4 values and 3 mask elements"):
        f.encode_sparse({"v": pa.array(["1,2,3,4"]), "m": pa.array(["1,0,1"])})


def test_kv_dot_product_follows_torcheasyrec_examples():
    f = feature(
        'kv_dot_product { feature_name: "k" query: "user:q" document: "item:d" '
        'separator: "|" }'
    )
    cols = {
        "q": pa.array(["a:0.5|b:0.5", "a|b|c", "a|b|c", None]),
        "d": pa.array(["d:0.5|b:0.5", "a|b|d", "a:0.5|b:0.5", "a"]),
    }
    assert dense(f, cols) == [0.25, 2.0, 1.0, 0.0]
    as_map = pa.array([[("a", 0.5), ("b", 0.5)]], pa.map_(pa.string(), pa.float64()))
    assert dense(f, {"q": pa.array(["a|b|c"]), "d": as_map}) == [1.0]


TITLES = {
    "title": pa.array(["Red shoe!", "blue  hat sale", None, "new bag unknownword"])
}


def test_tokenize_looks_words_up_in_a_wordlevel_vocab():
    f = feature(
        f'tokenize_feature {{ feature_name: "t" expression: "item:title" '
        f'vocab_file: "{WORDS}" embedding_dim: 4 '
        "text_normalizer { norm_options: [TEXT_UPPER2LOWER] } }"
    )
    assert f.table.num_embeddings == 10
    assert ids(f, TITLES) == ([1, 4, 9, 2, 6, 7, 8, 5, 0], [3, 3, 0, 3])
    g = feature(
        f'tokenize_feature {{ feature_name: "t" expression: "title" '
        f'vocab_file: "{WORDS}" '
        'embedding_dim: 4 default_value: "sale" }'
    )
    # Case kept: "Red" is unknown; the empty row takes the default text.
    assert ids(g, TITLES)[0][:3] == [0, 4, 9] and ids(g, TITLES)[1][2] == 1


def test_tokenize_refuses_what_it_cannot_do(tmp_path):
    bpe = tmp_path / "bpe.json"
    bpe.write_text(json.dumps({"model": {"type": "BPE", "vocab": {}, "merges": []}}))
    with pytest.raises(ConfigError, match="BPE tokenizer models are not supported"):
        feature(f'tokenize_feature {{ feature_name: "t" vocab_file: "{bpe}" }}')
    with pytest.raises(ConfigError, match='"sentencepiece" is not supported yet'):
        feature(
            f'tokenize_feature {{ feature_name: "t" vocab_file: "{WORDS}" '
            'tokenizer_type: "sentencepiece" }'
        )
    with pytest.raises(ConfigError, match="TEXT_SBC2DBC"):
        feature(
            f'tokenize_feature {{ feature_name: "t" vocab_file: "{WORDS}" '
            "text_normalizer { norm_options: [TEXT_SBC2DBC] } }"
        )


def test_sequence_combine_and_expr_give_one_value_per_position():
    seq_combine = feature(
        'sequence_combine_feature { feature_name: "ev" expression: "user:ev" '
        'value_map { key: "click" value: 1 } value_map { key: "buy" value: 2 } '
        "num_buckets: 5 embedding_dim: 4 sequence_length: 2 }"
    )
    cols = {
        "ev": pa.array(["click;buy;click", "buy", None]),
        "now": pa.array([10.0, 20.0, 30.0]),
        "ts": pa.array(["1;2;3", "5", None]),
    }
    assert ids(seq_combine, cols) == ([1, 2, 2], [2, 1, 0])
    age = feature(
        'sequence_expr_feature { feature_name: "age" variables: ["user:now", '
        '"item:ts"] expression: "now - ts" sequence_length: 4 }'
    )
    padded, lengths = age.encode_sequence_dense(cols)
    assert padded.shape == (3, 4, 1) and lengths.tolist() == [3, 1, 0]
    assert padded[:, :, 0].tolist() == [[9, 8, 7, 0], [15, 0, 0, 0], [0, 0, 0, 0]]


def test_sequence_feature_sub_expr_reads_item_side_per_position():
    item, age = features(
        'sequence_feature { sequence_name: "click" sequence_length: 3 '
        'features { id_feature { feature_name: "iid" expression: "item:iid" '
        "hash_bucket_size: 10 embedding_dim: 4 } } "
        'features { expr_feature { feature_name: "age" variables: ["user:now", '
        '"item:ts"] expression: "now - ts" boundaries: [5, 10] embedding_dim: 4 } } }'
    )
    assert age.name == "click__age" and age.inputs == ["now", "click__ts"]
    cols = {
        "click__iid": pa.array(["a;b;c", "d", None]),
        "now": pa.array([10.0, 20.0, 30.0]),
        "click__ts": pa.array(["1;6;9", "15", None]),
    }
    assert ids(age, cols) == ([1, 0, 0, 1], [3, 1, 0])
    assert item.encode_sparse(cols).lengths.tolist() == [3, 1, 0]


def test_custom_feature_says_custom_operators_are_not_supported():
    with pytest.raises(ConfigError, match="custom operators are not supported"):
        feature(
            'custom_feature { feature_name: "d" operator_name: "EditDistance" '
            'expression: ["user:q", "item:t"] }'
        )


def test_derived_features_compute_whole_columns_without_row_loops():
    n = 20_000
    rng = np.random.default_rng(0)
    cols = {
        "q": pa.array(rng.integers(0, 50, (n, 3)).astype(str).tolist()),
        "t": pa.array(rng.integers(0, 50, (n, 6)).astype(str).tolist()),
    }
    f = feature(
        'overlap_feature { feature_name: "o" query: "q" title: "t" '
        'method: "is_contain" }'
    )
    out = f.encode_dense(cols)
    assert out.shape == (n, 1) and set(np.unique(out)) <= {0.0, 1.0}


def test_value_dim_one_keeps_the_first_value_and_more_is_refused():
    match = (
        'match_feature { feature_name: "m" nested_map: "nm" pkey: "cate" skey: "ALL" '
        "need_discrete: true hash_bucket_size: 100 embedding_dim: 4 value_dim: 1 }"
    )
    assert ids(feature(match), NESTED)[1] == [1, 1, 0, 1]
    mask = (
        'bool_mask_feature { feature_name: "b" expression: ["v", "m"] separator: "," '
        "num_buckets: 1000 embedding_dim: 4 value_dim: 1 }"
    )
    cols = {"v": pa.array(["123,456,90"]), "m": pa.array(["1,0,1"])}
    assert ids(feature(mask), cols) == ([123], [1])
    with pytest.raises(ConfigError, match="value_dim 2 is not supported yet"):
        feature(mask.replace("value_dim: 1", "value_dim: 2"))
    expr = 'expr_feature { feature_name: "e" variables: ["x"] expression: "x" '
    assert dense(feature(expr + "value_dim: 1 }"), {"x": pa.array([2.0])}) == [2.0]


def test_sequence_match_overlap_and_kv_compute_per_position():
    # In a sequence_feature: item-side inputs per position, user-side per row.
    match, overlap, kv = features(
        'sequence_feature { sequence_name: "s" sequence_length: 3 '
        'features { match_feature { feature_name: "m" nested_map: "user:nm" '
        'pkey: "item:cate" skey: "item:brand" } } '
        'features { overlap_feature { feature_name: "o" query: "user:q" '
        'title: "item:t" method: "query_common_ratio" separator: " " } } '
        'features { kv_dot_product { feature_name: "k" query: "user:kq" '
        'document: "item:kd" separator: "|" } } }'
    )
    assert match.inputs == ["nm", "s__cate", "s__brand"]
    assert overlap.inputs == ["q", "s__t"] and kv.inputs == ["kq", "s__kd"]
    cols = {
        "nm": pa.array(["c1^b1:0.2,b2:0.3|c2^b1:0.5", None]),
        "s__cate": pa.array(["c1;c2;c1", "c1"]),
        "s__brand": pa.array(["b2;b1;b9", "b1"]),
        "q": pa.array(["a b", "x"]),
        "s__t": pa.array(["a;a b c;z", "x y"]),
        "kq": pa.array(["a:2|b:1", "a"]),
        "s__kd": pa.array(["a:1;b:3|a:0.5;c:1", "a:4"]),
    }
    padded, lengths = match.encode_sequence_dense(cols)
    assert lengths.tolist() == [3, 1]
    np.testing.assert_allclose(padded[:, :, 0], [[0.3, 0.5, 0.0], [0.0, 0, 0]])
    ratio, _ = overlap.encode_sequence_dense(cols)
    np.testing.assert_allclose(ratio[:, :, 0], [[0.5, 1.0, 0.0], [1.0, 0, 0]])
    dot, _ = kv.encode_sequence_dense(cols)
    np.testing.assert_allclose(dot[:, :, 0], [[2.0, 4.0, 0.0], [4.0, 0, 0]])


def test_sequence_match_needs_numbers_and_an_item_side_key():
    with pytest.raises(ConfigError, match="discrete match feature in a sequence"):
        feature(
            'sequence_match_feature { feature_name: "m" nested_map: "user:nm" '
            'pkey: "item:c" skey: "ALL" need_discrete: true hash_bucket_size: 9 '
            "embedding_dim: 4 sequence_length: 3 }"
        )
    with pytest.raises(ConfigError, match="needs a per-position"):
        feature(
            'sequence_kv_dot_product { feature_name: "k" query: "user:a" '
            'document: "context:b" sequence_length: 3 }'
        )
