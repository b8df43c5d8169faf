"""Embedding-table memory: bytes per optimizer, and the refusal before allocation."""

import pytest
import torch
from torchrec import EmbeddingBagCollection, EmbeddingBagConfig

from tzrec.train.table_memory import check_table_memory, table_bytes
from tzrec.utils.dist import DistInfo
from tzrec.utils.errors import ConfigError

CPU = DistInfo(rank=0, world_size=1, local_rank=0, device=torch.device("cpu"))


def _table(rows, dim=16, name="t"):
    return EmbeddingBagConfig(
        name=name, num_embeddings=rows, embedding_dim=dim, feature_names=[name]
    )


@pytest.mark.parametrize(
    "optimizer, want",
    [
        ("sgd_optimizer", 1000 * 16 * 4),
        ("adagrad_optimizer", 1000 * 16 * 4 * 2),
        ("rowwise_adagrad_optimizer", 1000 * 16 * 4 + 1000 * 4),
        ("adam_optimizer", 1000 * 16 * 4 * 3),
        (None, 1000 * 16 * 4),
    ],
)
def test_bytes_are_weights_plus_the_optimizers_state(optimizer, want):
    assert table_bytes([_table(1000)], optimizer) == want


def test_tables_beyond_host_memory_are_refused_before_allocation():
    ebc = EmbeddingBagCollection(
        tables=[_table(10**12, name="huge"), _table(10, name="small")],
        device=torch.device("meta"),
    )
    with pytest.raises(ConfigError) as e:
        check_table_memory(ebc, "adagrad_optimizer", CPU)
    assert e.value.where == "feature_configs"
    assert "largest table huge: 1,000,000,000,000 rows x 16" in e.value.what
    check_table_memory(  # a small table passes
        EmbeddingBagCollection(tables=[_table(10)], device=torch.device("meta")),
        "adagrad_optimizer",
        CPU,
    )
