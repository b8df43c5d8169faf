"""Default table init: torchrec's scale capped at std 0.01; torchrec's reachable."""

import math

import pytest
import torch
from google.protobuf import text_format

from tests.unit.features.helpers import features
from tzrec.modules.embedding import EmbeddingGroup
from tzrec.modules.embedding_tables import default_init_std, init_fn_of
from tzrec.protos import model_pb2


def test_default_std_is_capped_for_small_tables_only() -> None:
    assert default_init_std(3) == 0.01
    assert default_init_std(3000) == 0.01
    assert default_init_std(1_000_000) == pytest.approx(math.sqrt(1 / 3e6))


@pytest.mark.parametrize(
    ("spec", "rows", "std"),
    [
        ("", 3, 0.01),  # torchrec would draw U(-0.58, 0.58): std 0.33
        ("", 1_000_000, math.sqrt(1 / 3e6)),
        ("nn.init.normal_,std=0.2", 3, 0.2),
    ],
)
def test_init_fn_of_draws_the_stated_std(spec: str, rows: int, std: float) -> None:
    torch.manual_seed(0)
    t = torch.empty(100, 1000)
    init_fn_of(spec, rows)(t)
    assert t.std().item() == pytest.approx(std, rel=0.02)
    assert abs(t.mean().item()) < std * 0.01


def test_torchrec_keeps_torchrecs_own_init() -> None:
    assert init_fn_of("torchrec", 3) is None
    assert init_fn_of(" torchrec ", 3) is None


def test_tables_of_a_group_use_the_default_and_the_explicit_field() -> None:
    feats = features(
        'id_feature { feature_name: "small" num_buckets: 3 embedding_dim: 16 }',
        'id_feature { feature_name: "legacy" num_buckets: 3 embedding_dim: 16 '
        'init_fn: "torchrec" }',
    )
    mc = text_format.Parse(
        'feature_groups { group_name: "deep" feature_names: ["small", "legacy"] }',
        model_pb2.ModelConfig(),
    )
    torch.manual_seed(0)
    eg = EmbeddingGroup(feats, list(mc.feature_groups), device=torch.device("cpu"))
    small = eg.ebc.embedding_bags["small"].weight
    legacy = eg.ebc.embedding_bags["legacy"].weight
    assert small.abs().max().item() < 0.05
    # torchrec: U(-sqrt(1/3), sqrt(1/3)); 48 draws all under 0.05 would be absurd.
    assert legacy.abs().max().item() > 0.2
    assert legacy.abs().max().item() <= math.sqrt(1 / 3) + 1e-6
