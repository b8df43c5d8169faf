"""EmbeddingGroup: SEQUENCE groups, weighted bags, frozen tables, group rules."""

import pyarrow as pa
import pytest
import torch
from google.protobuf import text_format

from tests.unit.features.helpers import features
from tzrec.datasets.batch import BatchBuilder
from tzrec.modules.embedding import EmbeddingGroup
from tzrec.modules.sequence_embedding import pad_jagged, pool_jagged
from tzrec.protos import model_pb2
from tzrec.utils.errors import ConfigError

FEATURES = (
    'id_feature { feature_name: "item" num_buckets: 10 embedding_dim: 4 '
    'embedding_name: "item_emb" }',
    'raw_feature { feature_name: "price" }',
    'sequence_id_feature { feature_name: "hist" sequence_length: 3 num_buckets: 10 '
    'embedding_dim: 4 embedding_name: "item_emb" }',
    'sequence_raw_feature { feature_name: "ts" sequence_length: 3 }',
    'id_feature { feature_name: "tag" num_buckets: 5 embedding_dim: 8 '
    "weighted: true trainable: false }",
)
GROUPS = (
    'feature_groups { group_name: "deep" feature_names: ["item", "tag"] }',
    'feature_groups { group_name: "seq" feature_names: ["item", "price", "hist", "ts"] '
    "group_type: SEQUENCE }",
)
TABLE = pa.table(
    {
        "item": pa.array([3, 7], pa.int64()),
        "price": pa.array([1.5, 2.5]),
        "hist": pa.array(["1;2", ""]),
        "ts": pa.array(["10;20", None]),
        "tag": pa.array(["1:2.0\x1d2:0.5", "4:1"]),
        "label": pa.array([0, 1]),
    }
)


def _groups(*texts: str) -> list:
    mc = text_format.Parse("\n".join(texts), model_pb2.ModelConfig())
    return list(mc.feature_groups)


def _setup(groups=GROUPS):
    feats = features(*FEATURES)
    torch.manual_seed(0)
    eg = EmbeddingGroup(feats, _groups(*groups), device=torch.device("cpu"))
    builder = BatchBuilder(
        feats,
        ["label"],
        sparse_groups=eg.sparse_groups,
        sequence_groups=eg.aligned_sequences,
    )
    return eg, builder.build(TABLE)


def test_pool_and_pad_jagged_by_hand():
    values = torch.tensor([[1.0, 1.0], [2.0, 4.0], [3.0, 0.0]])
    lengths = torch.tensor([2, 0, 1])
    assert pool_jagged(values, lengths, mean=False).tolist() == [[3, 5], [0, 0], [3, 0]]
    assert pool_jagged(values, lengths, mean=True).tolist() == [
        [1.5, 2.5],
        [0, 0],
        [3, 0],
    ]
    padded = pad_jagged(values, lengths, 3)
    assert padded.tolist() == [
        [[1, 1], [2, 4], [0, 0]],
        [[0, 0], [0, 0], [0, 0]],
        [[3, 0], [0, 0], [0, 0]],
    ]


def test_sequence_group_output_shares_the_query_and_history_table():
    eg, batch = _setup()
    assert set(eg.sparse_groups) == {"deep", "sequence_4"}
    assert eg.sequence_dims("seq") == (5, 5)
    query, seq, lengths = eg(batch.sparse, batch.dense)["seq"]
    table = eg.seq.ecs["sequence_4"].embeddings["item_emb"].weight
    assert query.shape == (2, 5) and seq.shape == (2, 3, 5)
    torch.testing.assert_close(query[:, :4], table[[3, 7]])
    assert query[:, 4].tolist() == [1.5, 2.5]
    torch.testing.assert_close(seq[0, :2, :4], table[[1, 2]])
    assert seq[0, :2, 4].tolist() == [10, 20]
    assert seq[0, 2].abs().sum() == 0 and seq[1].abs().sum() == 0
    assert lengths.tolist() == [2, 0]


def test_weighted_bag_and_frozen_table():
    eg, batch = _setup()
    assert eg.export_unsupported() == "SEQUENCE feature groups"
    deep = eg(batch.sparse, batch.dense)["deep"]
    weight = eg.ebc.embedding_bags["tag"].weight
    torch.testing.assert_close(deep[1][0], 2.0 * weight[1] + 0.5 * weight[2])
    # trainable: false -> the table's own in-backward SGD with lr 0
    opts = weight._in_backward_optimizers
    assert len(opts) == 1 and opts[0].param_groups[0]["lr"] == 0.0
    assert not hasattr(
        eg.ebc.embedding_bags["item_emb"].weight, "_in_backward_optimizers"
    )
    before = weight.detach().clone()
    torch.cat(deep, dim=1).sum().backward()
    torch.testing.assert_close(weight.detach(), before)


def test_group_rules():
    eg, _ = _setup()
    with pytest.raises(ConfigError, match="is a SEQUENCE group"):
        eg.group_dim("seq")
    bad = {
        'feature_groups { group_name: "g" feature_names: ["item"] '
        "group_type: JAGGED_SEQUENCE }": "JAGGED_SEQUENCE",
        'feature_groups { group_name: "g" feature_names: ["ts"] }': "dense sequence",
        'feature_groups { group_name: "g" feature_names: ["item", "ts"] '
        "group_type: SEQUENCE }": "no sequence id feature",
        'feature_groups { group_name: "g" feature_names: ["tag", "hist"] '
        "group_type: SEQUENCE }": "weighted feature tag",
    }
    feats = features(*FEATURES)
    reserved = features(
        'id_feature { feature_name: "items" num_buckets: 3 embedding_dim: 4 }'
    )
    bad_groups = _groups('feature_groups { group_name: "g" feature_names: ["items"] }')
    with pytest.raises(ConfigError, match='"items" is reserved'):
        EmbeddingGroup(reserved, bad_groups, device=torch.device("cpu"))
    for text, message in bad.items():
        with pytest.raises(ConfigError, match=message):
            EmbeddingGroup(feats, _groups(text), device=torch.device("cpu"))


def test_one_collection_per_sequence_width():
    feats = features(
        *FEATURES,
        'sequence_id_feature { feature_name: "cat_hist" sequence_length: 2 '
        "num_buckets: 10 embedding_dim: 8 }",
    )
    groups = _groups(
        'feature_groups { group_name: "seq" '
        'feature_names: ["item", "hist", "cat_hist"] '
        "group_type: SEQUENCE }"
    )
    eg = EmbeddingGroup(feats, groups, device=torch.device("cpu"))
    assert eg.sparse_groups["sequence_4"] == ["item", "hist"]
    assert eg.sparse_groups["sequence_8"] == ["cat_hist"]
    assert eg.sequence_dims("seq") == (4, 12)
    assert eg.aligned_sequences == [["hist", "cat_hist"]]


def test_frozen_table_stays_put_under_fused_sharded_training():
    """DMP with fbgemm's fused kernels: the frozen table's SGD lr 0 never moves it.

    The configured sparse optimizer goes on the tables without an in-backward
    optimizer (as tzrec.optim.build must do), here Adagrad.
    """
    from torchrec.distributed import DistributedModelParallel
    from torchrec.optim.apply_optimizer_in_backward import apply_optimizer_in_backward

    from tzrec.train.sharding import create_plan
    from tzrec.utils.dist import init_distributed

    info = init_distributed()
    feats = features(*FEATURES)
    groups = _groups(GROUPS[0])
    eg = EmbeddingGroup(feats, groups, device=torch.device("meta"))
    free = [p for p in eg.parameters() if not hasattr(p, "_in_backward_optimizers")]
    apply_optimizer_in_backward(torch.optim.Adagrad, free, {"lr": 0.5})
    dmp = DistributedModelParallel(eg, device=info.device, plan=create_plan(eg, info))
    batch = BatchBuilder(feats, ["label"], sparse_groups=eg.sparse_groups).build(TABLE)

    def tables() -> dict[str, torch.Tensor]:
        out = {}
        for k, v in dmp.state_dict().items():
            if k.endswith(".weight"):
                shards = v.local_shards() if hasattr(v, "local_shards") else None
                out[k] = (shards[0].tensor if shards else v).detach().clone()
        return out

    before = tables()
    out = dmp(batch.sparse, batch.dense)["deep"]
    torch.cat(out, dim=1).pow(2).sum().backward()
    after = tables()
    frozen = [k for k in before if k.endswith("tag.weight")]
    moved = [k for k in before if k.endswith("item_emb.weight")]
    assert frozen and moved
    assert all(torch.equal(before[k], after[k]) for k in frozen)
    assert not any(torch.equal(before[k], after[k]) for k in moved)
