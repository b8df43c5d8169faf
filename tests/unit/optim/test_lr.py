"""Learning-rate schedules: values at chosen steps, and config errors."""

import math

import pytest
from google.protobuf import text_format

from tzrec.optim.lr import build_schedule
from tzrec.protos import optimizer_pb2
from tzrec.utils.errors import ConfigError


def _schedule(text: str):
    cfg = text_format.Parse(text, optimizer_pb2.DenseOptimizer())
    return build_schedule(cfg, "train_config.dense_optimizer")


def test_constant_is_none():
    assert _schedule("adam_optimizer { lr: 0.1 } constant_learning_rate {}") is None
    assert _schedule("adam_optimizer { lr: 0.1 }") is None


def test_exponential_decay_with_warmup_and_floor():
    lr = _schedule(
        "adam_optimizer { lr: 1.0 } exponential_decay_learning_rate { decay_size: 10 "
        "decay_factor: 0.5 warmup_size: 4 warmup_learning_rate: 0.2 "
        "min_learning_rate: 0.2 }"
    )
    assert [lr(s) for s in (0, 2, 4)] == pytest.approx([0.2, 0.6, 1.0])
    assert lr(13) == 1.0  # staircase: still the first interval
    assert lr(14) == 0.5
    assert lr(40) == pytest.approx(0.2)  # 1/8 floored at min_learning_rate


def test_exponential_decay_smooth():
    lr = _schedule(
        "sgd_optimizer { lr: 1.0 } exponential_decay_learning_rate { decay_size: 10 "
        "decay_factor: 0.5 staircase: false }"
    )
    assert lr(5) == pytest.approx(0.5**0.5)


def test_manual_step_with_and_without_warmup():
    text = (
        "adam_optimizer { lr: 1.0 } manual_step_learning_rate { "
        "schedule_sizes: [10, 20] learning_rates: [0.5, 0.1] %s }"
    )
    lr = _schedule(text % "")
    want = [1.0, 1.0, 0.5, 0.5, 0.1, 0.1]
    assert [lr(s) for s in (0, 10, 11, 20, 21, 99)] == pytest.approx(want)
    warm = _schedule(text % "warmup: true")
    assert warm(5) == pytest.approx(0.75)


def test_cosine_annealing_with_warmup():
    lr = _schedule(
        "adam_optimizer { lr: 1.0 } cosine_annealing_learning_rate { T_max: 100 "
        "min_learning_rate: 0.1 warmup_size: 10 }"
    )
    assert lr(0) == 0.0 and lr(5) == pytest.approx(0.5)
    assert lr(10) == pytest.approx(1.0)
    assert lr(60) == pytest.approx(0.1 + 0.9 * 0.5 * (1 + math.cos(math.pi * 0.5)))
    assert lr(110) == pytest.approx(0.1) and lr(500) == pytest.approx(0.1)


def test_warm_restarts_periods_grow():
    lr = _schedule(
        "adam_optimizer { lr: 1.0 } cosine_annealing_warm_restarts_learning_rate "
        "{ T_0: 10 T_mult: 2 }"
    )
    assert lr(0) == 1.0 and lr(10) == 1.0 and lr(30) == 1.0 and lr(70) == 1.0
    assert lr(20) == pytest.approx(0.5)  # middle of the 20-step second cycle
    flat = _schedule(
        "adam_optimizer { lr: 1.0 } cosine_annealing_warm_restarts_learning_rate "
        "{ T_0: 4 }"
    )
    assert flat(1_000_002) == pytest.approx(0.5)


def test_zero_base_lr_stays_zero():
    lr = _schedule(
        "adam_optimizer { lr: 0.0 } cosine_annealing_learning_rate { T_max: 10 "
        "warmup_size: 2 warmup_learning_rate: 0.5 }"
    )
    assert lr(0) == 0.0 and lr(5) == 0.0


@pytest.mark.parametrize(
    ("text", "needle"),
    [
        ("exponential_decay_learning_rate {}", "decay_size"),
        ("cosine_annealing_learning_rate {}", "T_max"),
        ("cosine_annealing_learning_rate { T_max: 5 by_epoch: true }", "by_epoch"),
        ("manual_step_learning_rate { schedule_sizes: [5] }", "one value each"),
        (
            "manual_step_learning_rate { schedule_sizes: [5, 2] "
            "learning_rates: [1, 2] }",
            "increasing",
        ),
    ],
)
def test_bad_schedules_raise(text, needle):
    with pytest.raises(ConfigError, match=needle):
        _schedule("adam_optimizer { lr: 1.0 } " + text)
