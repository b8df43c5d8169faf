"""Issue 17's per-feature options: each one's effect on the batch or the model."""

from __future__ import annotations

import pyarrow as pa
import pytest
import torch
from google.protobuf import text_format

from tests.conftest import REPO
from tests.unit.features.helpers import feature, features
from tzrec import config as config_lib
from tzrec.datasets.batch import BatchBuilder
from tzrec.features.hashing import hash_ints, hash_strings
from tzrec.modules.embedding import EmbeddingGroup
from tzrec.protos import data_pb2, model_pb2
from tzrec.utils.errors import ConfigError, DataError

DERIVED = REPO / "tests" / "configs" / "derived_features.config"


def ids(f, cols) -> tuple[list[int], list[int]]:
    sv = f.encode_sparse(cols)
    return sv.values.tolist(), sv.lengths.tolist()


VOCAB = 'feature_name: "c" embedding_dim: 4 vocab_list: ["x", "y", "z"]'


def test_default_bucketize_value_is_the_id_of_unknown_tokens():
    cols = {"c": pa.array(["y", "unknown"])}
    plain = feature(f"id_feature {{ {VOCAB} }}")
    assert ids(plain, cols) == ([1, 3], [1, 1]) and plain.table.num_embeddings == 4
    given = feature(f"id_feature {{ {VOCAB} default_bucketize_value: 0 }}")
    assert ids(given, cols) == ([1, 0], [1, 1]) and given.table.num_embeddings == 3
    wide = feature(f"id_feature {{ {VOCAB} default_bucketize_value: 7 }}")
    assert ids(wide, cols)[0] == [1, 7] and wide.table.num_embeddings == 8


def test_default_bucketize_value_with_num_buckets_and_hash():
    f = feature(
        'id_feature { feature_name: "c" num_buckets: 5 embedding_dim: 4 '
        "default_bucketize_value: 4 }"
    )
    assert ids(f, {"c": pa.array([1, 9, -2])}) == ([1, 4, 4], [1, 1, 1])
    with pytest.raises(ConfigError, match="no meaning with hash_bucket_size"):
        feature(
            'id_feature { feature_name: "c" hash_bucket_size: 5 embedding_dim: 4 '
            "default_bucketize_value: 1 }"
        )


def test_fg_value_type_decides_how_values_are_hashed():
    cols = {"c": pa.array([5, 6])}
    base = 'feature_name: "c" hash_bucket_size: 1000 embedding_dim: 4'
    as_int = feature(f"id_feature {{ {base} }}")
    as_text = feature(f'id_feature {{ {base} fg_value_type: "string" }}')
    assert ids(as_int, cols)[0] == hash_ints(pa.array([5, 6]).to_numpy(), 1000).tolist()
    want = hash_strings(pa.array(["5", "6"]), 1000).tolist()
    assert ids(as_text, cols)[0] == want != ids(as_int, cols)[0]
    text_as_int = feature(f'id_feature {{ {base} fg_value_type: "int64" }}')
    assert ids(text_as_int, {"c": pa.array(["5", "6"])}) == ids(as_int, cols)
    with pytest.raises(DataError, match="non-integer"):
        text_as_int.encode_sparse({"c": pa.array(["five"])})


def test_lookup_value_separator_splits_a_matched_value_into_ids():
    cols = {"m": pa.array(["k1:3,4\x1dk2:5"]), "k": pa.array(["k1"])}
    base = (
        'feature_name: "l" map: "m" key: "k" need_discrete: true num_buckets: 10 '
        "embedding_dim: 4"
    )
    assert ids(feature(f"lookup_feature {{ {base} }}"), cols) == ([3, 4], [2])
    one = feature(f'lookup_feature {{ {base} value_separator: "|" }}')
    with pytest.raises(DataError, match="non-integer"):
        one.encode_sparse(cols)  # "3,4" stays one token


def test_use_mask_hides_the_feature_from_the_drawn_training_samples():
    feats = features(
        'id_feature { feature_name: "a" num_buckets: 10 embedding_dim: 4 '
        'use_mask: true default_value: "0" }',
        'id_feature { feature_name: "b" num_buckets: 10 embedding_dim: 4 }',
        'raw_feature { feature_name: "p" use_mask: true default_value: "-1" }',
    )
    table = pa.table({"a": [3, 4, 5, 6], "b": [3, 4, 5, 6], "p": [1.0, 2, 3, 4]})
    train = BatchBuilder(feats, [], require_labels=False, mask_prob=1.0).build(table)
    kjt = train.sparse["deep"].to_dict()
    assert kjt["a"].values().tolist() == [0, 0, 0, 0]  # masked: the default
    assert kjt["b"].values().tolist() == [3, 4, 5, 6]  # no use_mask
    assert train.dense["p"].reshape(-1).tolist() == [-1.0] * 4
    half = BatchBuilder(feats, [], require_labels=False, mask_prob=0.5, seed=1)
    masked = (half.build(table).sparse["deep"].to_dict()["a"].values() == 0).sum()
    assert 0 < int(masked) < 4
    evaluation = BatchBuilder(feats, [], require_labels=False).build(table)
    assert evaluation.sparse["deep"].to_dict()["a"].values().tolist() == [3, 4, 5, 6]


def _group(names: list[str]) -> model_pb2.FeatureGroupConfig:
    g = model_pb2.FeatureGroupConfig()
    text_format.Parse(f'group_name: "all" group_type: DEEP feature_names: {names}', g)
    return g


@pytest.mark.parametrize("option", ["autodis { num_channels: 3 }", "mlp {}"])
def test_autodis_and_mlp_embed_a_dense_value_and_learn(option):
    feats = features(
        f'raw_feature {{ feature_name: "p" embedding_dim: 8 {option} }}',
        'expr_feature { feature_name: "e" variables: ["p"] expression: "p * 2" '
        f"embedding_dim: 4 {option} }}",
    )
    assert [f.output_dim for f in feats] == [8, 4] and not feats[0].is_sparse
    group = EmbeddingGroup(feats, [_group(["p", "e"])])
    assert group.group_dim("all") == 12
    batch = BatchBuilder(feats, [], require_labels=False).build(
        pa.table({"p": [0.1, 1.0, 5.0, 20.0]})
    )
    out = torch.cat(group(batch.sparse, batch.dense)["all"], dim=1)
    assert out.shape == (4, 12)
    # Different values get different embeddings, and the module trains.
    assert not torch.allclose(out[0], out[3])
    before = [p.detach().clone() for p in group.dense_embs.parameters()]
    torch.optim.SGD(group.dense_embs.parameters(), lr=0.5).zero_grad()
    out.pow(2).sum().backward()
    torch.optim.SGD(group.dense_embs.parameters(), lr=0.5).step()
    changed = [
        not torch.equal(a, b) for a, b in zip(before, group.dense_embs.parameters())
    ]
    assert all(changed)


def test_autodis_on_a_bucketized_feature_is_refused():
    with pytest.raises(ConfigError, match="autodis embeds a dense value"):
        feature(
            'raw_feature { feature_name: "p" boundaries: [1] embedding_dim: 4 '
            "autodis { num_channels: 2 } }"
        )


def test_fp16_tables_store_half_precision_and_give_float32():
    feats = features(
        'id_feature { feature_name: "a" num_buckets: 10 embedding_dim: 4 '
        'data_type: "FP16" }'
    )
    group = EmbeddingGroup(feats, [_group(["a"])])
    assert group.ebc.embedding_bags["a"].weight.dtype == torch.float16
    batch = BatchBuilder(
        feats, [], require_labels=False, sparse_groups=group.sparse_groups
    )
    out = group(*_inputs(batch.build(pa.table({"a": [1, 2]}))))["all"][0]
    assert out.dtype == torch.float32 and out.shape == (2, 4)
    with pytest.raises(ConfigError, match='data_type "INT8" is not supported'):
        features(
            'id_feature { feature_name: "a" num_buckets: 10 embedding_dim: 4 '
            'data_type: "INT8" }'
        )


def _inputs(batch):
    return batch.sparse, batch.dense


@pytest.mark.parametrize(
    ("edit", "where", "needle"),
    [
        (
            {"feature_configs[9].id_feature.zch": {"zch_size": 100}},
            "feature_configs[9].id_feature.zch",
            "managed-collision modules run on CPU",
        ),
        (
            {"feature_configs[9].id_feature.dynamicemb": {"max_capacity": 100}},
            "feature_configs[9].id_feature.dynamicemb",
            "need CUDA",
        ),
    ],
)
def test_zch_and_dynamicemb_are_refused_with_their_reasons(edit, where, needle):
    config = config_lib.load_pipeline_config(str(DERIVED))
    config.train_input_path = config.eval_input_path = "x"
    config_lib.validate(config)  # the example itself is valid
    config_lib.apply_edit_config_json(config, edit)
    with pytest.raises(ConfigError) as info:
        config_lib.validate(config)
    found = {p.where: p.one_line() for p in info.value.problems}
    assert set(found) == {where} and needle in found[where]
    with pytest.raises(ConfigError, match="not supported yet"):
        features(text_format.MessageToString(config.feature_configs[9]))


def test_embedding_name_suffix_gives_a_group_tables_of_its_own():
    feats = features(
        'id_feature { feature_name: "a" num_buckets: 10 embedding_dim: 4 }',
        'raw_feature { feature_name: "p" }',
    )
    groups = []
    for name, suffix in (("u", ""), ("v", "_v"), ("w", "")):
        g = _group(["a", "p"])
        g.group_name, g.embedding_name_suffix = name, suffix
        groups.append(g)
    group = EmbeddingGroup(feats, groups)
    assert sorted(group.ebc.embedding_bags) == ["a", "a_v"]
    assert group.sparse_groups["deep"] == ["a", "a@_v"]
    builder = BatchBuilder(
        feats, [], require_labels=False, sparse_groups=group.sparse_groups
    )
    out = group(*_inputs(builder.build(pa.table({"a": [1, 2], "p": [0.5, 3.0]}))))
    assert torch.equal(out["u"][0], out["w"][0])  # one table
    assert not torch.equal(out["u"][0], out["v"][0])  # its own table
    assert torch.equal(out["u"][1], out["v"][1])  # dense values are shared


def test_fg_none_says_tzrec_computes_derived_features_from_their_inputs():
    config = config_lib.load_pipeline_config(str(DERIVED))
    config.train_input_path = config.eval_input_path = "x"
    config.data_config.fg_mode = data_pb2.FG_NONE
    with pytest.raises(ConfigError) as info:
        config_lib.validate(config)
    found = {p.where: p.one_line() for p in info.value.problems}
    line = found["feature_configs[1].expr_feature"]
    assert 'reads the expr result from column "ratio"' in line
    assert "fg_mode: FG_NORMAL" in line


@pytest.mark.parametrize(
    ("edit", "where", "needle"),
    [
        (
            {"feature_configs[1].expr_feature.expression": "dot(clicks, views)"},
            "feature_configs[1].expr_feature.expression",
            'unknown function "dot"',
        ),
        (
            {"feature_configs[0].combine_feature.combiner": "count"},
            "feature_configs[0].combine_feature.combiner",
            'bad combiner "count"',
        ),
        (
            {"feature_configs[8].tokenize_feature.tokenizer_type": "sentencepiece"},
            "feature_configs[8].tokenize_feature.tokenizer_type",
            "not supported yet",
        ),
    ],
)
def test_validation_names_the_derived_features_field(edit, where, needle):
    config = config_lib.load_pipeline_config(str(DERIVED))
    config.train_input_path = config.eval_input_path = "x"
    config_lib.apply_edit_config_json(config, edit)
    with pytest.raises(ConfigError) as info:
        config_lib.validate(config)
    found = {p.where: p.one_line() for p in info.value.problems}
    assert set(found) == {where} and needle in found[where], found
