"""adagrad_optimizer.initial_accumulator_value reaches the fused and dense steps."""

import pytest
import torch

from tzrec.optim.build import dense_optimizer_factory
from tzrec.protos import optimizer_pb2


def _table_step(kind: str, initial: float) -> torch.Tensor:
    """Largest table change of one step on real fused (fbgemm) tables."""
    from tests.unit.models.test_models import shrunk_config
    from tzrec.export.self_check import synthetic_batch
    from tzrec.features.build import build_features
    from tzrec.models.build import build_model
    from tzrec.train.setup import build_model_parts
    from tzrec.train.trainer import train_step
    from tzrec.utils.dist import init_distributed

    edits = {
        "train_config.sparse_optimizer": {
            kind: {"lr": 0.5, "initial_accumulator_value": initial},
            "constant_learning_rate": {},
        },
    }
    config = shrunk_config("deepfm", **edits)
    parts = build_model_parts(config, init_distributed())
    plain = build_model(
        config, build_features(config.feature_configs), torch.device("cpu")
    )
    batch = synthetic_batch(plain, 8, seed=1)
    batch.labels["label"] = torch.tensor([0.0, 1.0] * 4)

    def tables() -> list[torch.Tensor]:
        return [
            t.local_shards()[0].tensor.detach().clone()
            for key, t in parts.dmp.state_dict().items()
            if "embedding_bags" in key
        ]

    before = tables()
    train_step(parts.dmp, parts.optimizer, batch, parts.model.loss, 0.0)
    return max((a - b).abs().max() for a, b in zip(tables(), before))


@pytest.mark.filterwarnings("ignore::FutureWarning")
@pytest.mark.parametrize("kind", ["adagrad_optimizer", "rowwise_adagrad_optimizer"])
def test_sparse_initial_accumulator_damps_the_first_step(kind):
    # Adagrad's first step is lr * g / sqrt(acc + g^2) (row-wise: the row's
    # mean g^2): of the order of lr from acc 0, tiny from a large acc.
    plain = _table_step(kind, 0.0)
    damped = _table_step(kind, 1e4)
    assert plain > 0.25
    assert damped < 0.01 * plain


def test_dense_adagrad_starts_from_the_initial_accumulator():
    cfg = optimizer_pb2.DenseOptimizer()
    cfg.adagrad_optimizer.lr = 0.1
    cfg.adagrad_optimizer.initial_accumulator_value = 0.25
    w = torch.nn.Parameter(torch.zeros(3))
    opt = dense_optimizer_factory(cfg)([w])
    assert torch.equal(opt.state[w]["sum"], torch.full((3,), 0.25))
    w.grad = torch.ones(3)
    opt.step()
    # One step: -lr * g / sqrt(0.25 + g^2).
    expected = -0.1 / (1.25**0.5)
    assert torch.allclose(w.detach(), torch.full((3,), expected), atol=1e-6)
