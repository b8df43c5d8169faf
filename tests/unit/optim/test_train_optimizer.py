"""TrainOptimizer: accumulation, clipping, and schedules on real fused tables."""

import pytest
import torch
from torch import nn
from torchrec.optim.keyed import CombinedOptimizer, KeyedOptimizerWrapper

from tzrec.optim.train_optimizer import TrainOptimizer


def _dense(model: nn.Module, lr: float = 1.0, **kw) -> TrainOptimizer:
    params = dict(model.named_parameters())
    inner = KeyedOptimizerWrapper(params, lambda p: torch.optim.SGD(p, lr=lr))
    return TrainOptimizer(CombinedOptimizer([("dense", inner)]), **kw)


def _step(opt: TrainOptimizer, loss: torch.Tensor) -> None:
    opt.apply_lr_schedule()
    opt.zero_grad(set_to_none=True)
    (loss * opt.loss_scale).backward()
    opt.step()


def test_accumulation_equals_one_big_batch():
    torch.manual_seed(0)
    x, y = torch.randn(8, 3), torch.randn(8, 1)
    a, b = nn.Linear(3, 1), nn.Linear(3, 1)
    b.load_state_dict(a.state_dict())
    acc, big = _dense(a, accumulation_steps=2), _dense(b)
    start = a.weight.detach().clone()
    _step(acc, nn.functional.mse_loss(a(x[:4]), y[:4]))
    assert torch.equal(a.weight, start)  # mid-window: no update yet
    _step(acc, nn.functional.mse_loss(a(x[4:]), y[4:]))
    _step(big, nn.functional.mse_loss(b(x), y))
    assert torch.allclose(a.weight, b.weight, atol=1e-6)
    assert acc.global_step == 2 and acc.loss_scale == 0.5


def test_norm_and_value_clipping():
    lin = nn.Linear(4, 1, bias=False)
    nn.init.zeros_(lin.weight)
    opt = _dense(lin, clipping_type="norm", max_gradient=0.5)
    _step(opt, -100.0 * lin(torch.ones(1, 4)).sum())  # grad = -100 each
    assert lin.weight.norm().item() == pytest.approx(0.5, rel=1e-4)
    nn.init.zeros_(lin.weight)
    opt = _dense(lin, clipping_type="value", max_gradient=0.3)
    _step(opt, -100.0 * lin(torch.ones(1, 4)).sum())
    assert torch.allclose(lin.weight, torch.full((1, 4), 0.3))


def test_schedule_sets_lr_used_by_the_step():
    lin = nn.Linear(1, 1)
    opt = _dense(lin, schedules={"dense": lambda s: 0.1 * (s + 1)})
    seen = []
    for _ in range(3):
        _step(opt, lin(torch.ones(1, 1)).sum())
        seen.append(opt.param_groups[-1]["lr"])
    assert seen == pytest.approx([0.1, 0.2, 0.3])
    opt.set_global_step(10)
    opt.apply_lr_schedule()
    assert opt.param_groups[-1]["lr"] == pytest.approx(1.1)


@pytest.mark.filterwarnings("ignore::FutureWarning")
def test_sparse_schedule_reaches_the_fused_kernel(tmp_path):
    """Sparse lr 0.5 for two steps, then 0: tables move, then stop moving."""
    from tests.unit.models.test_models import shrunk_config
    from tzrec.export.self_check import synthetic_batch
    from tzrec.features.build import build_features
    from tzrec.models.build import build_model
    from tzrec.train.setup import build_model_parts
    from tzrec.train.trainer import train_step
    from tzrec.utils.dist import init_distributed

    edits = {
        "train_config.sparse_optimizer": {
            "sgd_optimizer": {"lr": 0.5},
            "manual_step_learning_rate": {
                "schedule_sizes": [1],
                "learning_rates": [0.0],
            },
        },
        "train_config.gradient_accumulation_steps": 2,
    }
    config = shrunk_config("deepfm", **edits)
    parts = build_model_parts(config, init_distributed())
    plain = build_model(
        config, build_features(config.feature_configs), torch.device("cpu")
    )
    batch = synthetic_batch(plain, 8, seed=1)
    batch.labels["label"] = torch.tensor([0.0, 1.0] * 4)

    def tables():
        out = []
        for key, t in parts.dmp.state_dict().items():
            if "embedding_bags" in key:
                out.append(t.local_shards()[0].tensor.detach().clone())
        assert out
        return out

    def dense():
        return parts.model.head.output.weight.detach().clone()

    snaps, dense_snaps = [tables()], [dense()]
    for _ in range(4):
        train_step(parts.dmp, parts.optimizer, batch, parts.model.loss, 0.0)
        snaps.append(tables())
        dense_snaps.append(dense())
    moved = [
        any(not torch.equal(a, b) for a, b in zip(s0, s1))
        for s0, s1 in zip(snaps, snaps[1:])
    ]
    assert moved[:2] == [True, True]  # sparse: every micro-batch, lr 0.5
    assert moved[2:] == [False, False]  # lr 0 from step 2 on
    assert [torch.equal(a, b) for a, b in zip(dense_snaps, dense_snaps[1:])] == [
        True,
        False,
        True,
        False,
    ]  # dense: every second step
    assert parts.optimizer.optimizers[0][1].param_groups[0]["lr"] == 0.0
