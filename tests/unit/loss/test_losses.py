"""Losses on hand-computed values, sample weights and config checks."""

import math

import pytest
import torch

from tzrec.loss.losses import (
    binary_cross_entropy,
    binary_focal_loss,
    l2_loss,
    per_row_loss,
    softmax_cross_entropy,
    weighted_mean,
)
from tzrec.loss.spec import build_loss_specs
from tzrec.protos import loss_pb2


def _cfg(text: str) -> loss_pb2.LossConfig:
    from google.protobuf import text_format

    return text_format.Parse(text, loss_pb2.LossConfig())


def test_bce_matches_formula_and_label_smoothing():
    logits, label = torch.tensor([0.0, 2.0]), torch.tensor([1.0, 0.0])
    got = binary_cross_entropy(logits, label)
    want = [math.log(2), -math.log(1 - 1 / (1 + math.exp(-2)))]
    assert torch.allclose(got, torch.tensor(want), atol=1e-6)
    # smoothing 0.2: targets 0.9 and 0.1
    smooth = binary_cross_entropy(torch.tensor([0.0]), torch.tensor([1.0]), 0.2)
    assert torch.allclose(smooth, torch.tensor([math.log(2)]))  # any target at p=.5
    p = 1 / (1 + math.exp(-2))
    s2 = binary_cross_entropy(torch.tensor([2.0]), torch.tensor([1.0]), 0.2)
    assert s2.item() == pytest.approx(-(0.9 * math.log(p) + 0.1 * math.log(1 - p)))


def test_softmax_cross_entropy_and_out_of_range_label_errors():
    logits = torch.tensor([[0.0, 0.0, math.log(2)]])
    got = softmax_cross_entropy(logits, torch.tensor([2.0]))
    assert got.item() == pytest.approx(-math.log(2 / 4))
    with pytest.raises((IndexError, RuntimeError)):
        softmax_cross_entropy(logits, torch.tensor([3.0]))


def test_l2_and_focal():
    assert l2_loss(torch.tensor([1.5]), torch.tensor([0.5])).item() == 1.0
    logit, y = torch.tensor([0.5]), torch.tensor([1.0])
    p = 1 / (1 + math.exp(-0.5))
    want = 0.25 * (1 - p) ** 2 * -math.log(p)
    got = binary_focal_loss(logit, y, gamma=2.0, alpha=0.25)
    assert got.item() == pytest.approx(want, rel=1e-5)
    # gamma 0, alpha 0.5 is half the BCE
    half = binary_focal_loss(logit, y, gamma=0.0, alpha=0.5)
    assert half.item() == pytest.approx(0.5 * -math.log(p), rel=1e-5)


def test_weighted_mean_is_sum_w_loss_over_sum_w():
    per_row = torch.tensor([1.0, 3.0])
    assert weighted_mean(per_row).item() == 2.0
    assert weighted_mean(per_row, torch.tensor([3.0, 1.0])).item() == 1.5
    assert weighted_mean(per_row, torch.zeros(2)).item() == 0.0


def test_specs_names_keys_and_bf16_inputs_give_float32():
    specs, problems = build_loss_specs(
        [_cfg("binary_cross_entropy {}"), _cfg("binary_focal_loss { gamma: 1 }")],
        1,
        "_ctr",
        "x",
    )
    assert not problems
    assert [(s.name, s.pred_key) for s in specs] == [
        ("binary_cross_entropy_ctr", "logits_ctr"),
        ("binary_focal_loss_ctr", "logits_ctr"),
    ]
    out = per_row_loss(specs[0], torch.zeros(2, dtype=torch.bfloat16), torch.ones(2))
    assert out.dtype == torch.float32


@pytest.mark.parametrize(
    ("text", "num_class", "needle"),
    [
        ("softmax_cross_entropy {}", 1, "num_class >= 2"),
        ("binary_cross_entropy {}", 3, "num_class 1"),
        ("l2_loss {}", 2, "num_class 1"),
        ("binary_focal_loss { alpha: 1.5 }", 1, "alpha"),
        ("binary_cross_entropy { label_smoothing: 1.0 }", 1, "label_smoothing"),
        ("jrc_loss {}", 2, "jrc_loss needs session_name"),
        ("", 1, "not set"),
    ],
)
def test_bad_loss_configs_are_reported(text, num_class, needle):
    _, problems = build_loss_specs([_cfg(text)], num_class, "", "model_config.losses")
    assert len(problems) == 1 and needle in str(problems[0])
    assert "model_config.losses[0]" in str(problems[0])
