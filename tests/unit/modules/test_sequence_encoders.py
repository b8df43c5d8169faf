"""Sequence encoders: padding never counts, shapes, and a group's wiring."""

import pytest
import torch

from tzrec.modules.sequence_encoders import build_encoder
from tzrec.protos import module_pb2, seq_encoder_pb2
from tzrec.utils.errors import ConfigError

MLP = module_pb2.MLP(hidden_units=[8])
KINDS = {
    "din_encoder": seq_encoder_pb2.DINEncoder(attn_mlp=MLP),
    "simple_attention": seq_encoder_pb2.SimpleAttention(),
    "pooling_encoder": seq_encoder_pb2.PoolingEncoder(pooling_type="mean"),
    "multi_window_din_encoder": seq_encoder_pb2.MultiWindowDINEncoder(
        attn_mlp=MLP, windows_len=[1, 2, 3]
    ),
    "self_attention_encoder": seq_encoder_pb2.SelfAttentionEncoder(num_heads=2),
}
OUT_DIM = {"multi_window_din_encoder": 12}


def _encoder(kind):
    torch.manual_seed(0)
    cfg = seq_encoder_pb2.SeqEncoderConfig(**{kind: KINDS[kind]})
    return build_encoder(cfg, 6, 4, "enc").eval()


@pytest.mark.parametrize("kind", sorted(KINDS))
def test_padding_never_counts(kind):
    enc = _encoder(kind)
    q, seq = torch.randn(3, 6), torch.randn(3, 5, 4)
    lengths = torch.tensor([5, 2, 0])
    out = enc(q, seq, lengths)
    assert out.shape == (3, OUT_DIM.get(kind, 4))
    noisy = seq.clone()
    noisy[1, 2:] = 100.0
    noisy[2] = -50.0
    assert torch.allclose(enc(q, noisy, lengths), out, atol=1e-5)
    assert torch.allclose(out[2], torch.zeros_like(out[2]), atol=1e-6)
    assert torch.isfinite(out).all()


def test_pooling_sum_and_mean():
    cfg = seq_encoder_pb2.SeqEncoderConfig(
        pooling_encoder=seq_encoder_pb2.PoolingEncoder(pooling_type="sum")
    )
    enc = build_encoder(cfg, 0, 2, "enc")
    seq = torch.tensor([[[1.0, 2.0], [3.0, 4.0], [9.0, 9.0]]])
    assert enc(torch.zeros(1, 0), seq, torch.tensor([2])).tolist() == [[4.0, 6.0]]


@pytest.mark.parametrize(
    "cfg, problem",
    [
        ({"hstu_encoder": seq_encoder_pb2.HSTUEncoder()}, "not supported yet"),
        ({}, "not supported yet"),
        (
            {"pooling_encoder": seq_encoder_pb2.PoolingEncoder(pooling_type="max")},
            "not sum or mean",
        ),
        (
            {
                "self_attention_encoder": seq_encoder_pb2.SelfAttentionEncoder(
                    num_heads=3
                )
            },
            "does not divide",
        ),
    ],
)
def test_bad_encoders_name_the_problem(cfg, problem):
    with pytest.raises(ConfigError, match=problem):
        build_encoder(seq_encoder_pb2.SeqEncoderConfig(**cfg), 6, 4, "enc")


def test_query_needed_for_target_attention():
    cfg = seq_encoder_pb2.SeqEncoderConfig(din_encoder=KINDS["din_encoder"])
    with pytest.raises(ConfigError, match="needs a query"):
        build_encoder(cfg, 0, 4, "enc")
