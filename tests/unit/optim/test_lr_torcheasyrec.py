"""TorchEasyRec's schedule field names: min_learning_rate and warm-restart warmup."""

import math

import pytest
from google.protobuf import text_format

from tzrec.optim.lr import build_schedule
from tzrec.protos import optimizer_pb2


def _schedule(text: str):
    cfg = text_format.Parse(text, optimizer_pb2.DenseOptimizer())
    return build_schedule(cfg, "train_config.dense_optimizer")


def test_cosine_floor_is_min_learning_rate():
    lr = _schedule(
        "adam_optimizer { lr: 1.0 } cosine_annealing_learning_rate "
        "{ T_max: 10 min_learning_rate: 0.25 }"
    )
    assert lr(0) == pytest.approx(1.0)
    assert lr(5) == pytest.approx(0.25 + 0.75 * 0.5)
    assert lr(10) == lr(50) == pytest.approx(0.25)


def test_warm_restarts_with_warmup_and_floor():
    lr = _schedule(
        "adam_optimizer { lr: 1.0 } cosine_annealing_warm_restarts_learning_rate "
        "{ T_0: 4 min_learning_rate: 0.1 warmup_size: 2 warmup_learning_rate: 0.0 }"
    )
    # Warmup 0 -> 1 over 2 steps, then 4-step cosines from 1.0 down to 0.1.
    assert [lr(s) for s in (0, 1)] == pytest.approx([0.0, 0.5])
    assert lr(2) == pytest.approx(1.0)
    cos = 0.1 + 0.9 * 0.5 * (1 + math.cos(math.pi * 2 / 4))
    assert lr(4) == pytest.approx(cos)
    assert lr(6) == pytest.approx(1.0)  # restart
