"""Dense optimizer options, row-wise Adagrad weight decay modes, part optimizers."""

from __future__ import annotations

import pytest
import torch
from google.protobuf import text_format

from tzrec.optim.dense import dense_optimizer_factory, group_by_pattern
from tzrec.optim.lr import build_schedule
from tzrec.protos import optimizer_pb2


def _dense(text: str) -> optimizer_pb2.DenseOptimizer:
    return text_format.Parse(text, optimizer_pb2.DenseOptimizer())


def _one_step(text: str, grads: list[float], start: float = 0.0) -> tuple:
    """Parameter and optimizer state after one step per gradient."""
    w = torch.nn.Parameter(torch.full((2,), start))
    opt = dense_optimizer_factory(_dense(text))([w])
    for g in grads:
        w.grad = torch.full((2,), g)
        opt.step()
    return w.detach(), opt


def test_adam_eps_enters_the_denominator():
    # First Adam step: -lr * g / (|g| + eps) (bias corrections cancel).
    w, _ = _one_step("adam_optimizer { lr: 0.1 eps: 1.0 }", [1.0])
    assert torch.allclose(w, torch.full((2,), -0.05))
    w, _ = _one_step("adam_optimizer { lr: 0.1 }", [1.0])
    assert torch.allclose(w, torch.full((2,), -0.1), atol=1e-6)


@pytest.mark.parametrize("kind", ["adam_optimizer", "adamw_optimizer"])
def test_amsgrad_keeps_the_max_second_moment(kind):
    grads = [3.0, 0.0]
    _, plain = _one_step(f"{kind} {{ lr: 0.1 }}", grads)
    w_ams, ams = _one_step(f"{kind} {{ lr: 0.1 amsgrad: true }}", grads)
    state = next(iter(ams.state.values()))
    assert "max_exp_avg_sq" in state and "max_exp_avg_sq" not in next(
        iter(plain.state.values())
    )
    # The max keeps step 1's 0.001 * 9; the average decays to 0.999 of it.
    assert state["max_exp_avg_sq"][0] > state["exp_avg_sq"][0]
    w_plain, _ = _one_step(f"{kind} {{ lr: 0.1 }}", grads)
    assert not torch.allclose(w_ams, w_plain)


@pytest.mark.parametrize(
    "text",
    [
        "adam_optimizer { lr: 0.1 weight_decay: 0.01 amsgrad: true }",
        "adamw_optimizer { lr: 0.1 }",
        "sgd_optimizer { lr: 0.1 momentum: 0.9 nesterov: true }",
        "adagrad_optimizer { lr: 0.1 initial_accumulator_value: 0.1 }",
    ],
)
def test_fused_runs_torchs_fused_kernel_with_the_same_result(text):
    kind = text.split()[0]
    fused_text = text.replace("}", "fused: true }")
    w_loop, loop = _one_step(text, [1.0, -0.5, 2.0], start=0.3)
    w_fused, fused = _one_step(fused_text, [1.0, -0.5, 2.0], start=0.3)
    assert fused.param_groups[0]["fused"] is True, kind
    assert not loop.param_groups[0]["fused"]
    assert torch.allclose(w_fused, w_loop, atol=1e-6)


def test_sgd_dampening_scales_new_gradients_in_the_momentum_buffer():
    # buf1 = g1; buf2 = m * buf1 + (1 - dampening) * g2.
    _, opt = _one_step(
        "sgd_optimizer { lr: 0.1 momentum: 0.9 dampening: 0.5 }", [1.0, 1.0]
    )
    buf = next(iter(opt.state.values()))["momentum_buffer"]
    assert torch.allclose(buf, torch.full((2,), 0.9 + 0.5))


def test_sgd_nesterov_looks_ahead():
    # First step: d = g + m * buf = (1 + m) g.
    w, _ = _one_step("sgd_optimizer { lr: 0.1 momentum: 0.9 nesterov: true }", [1.0])
    assert torch.allclose(w, torch.full((2,), -0.19))
    w, _ = _one_step("sgd_optimizer { lr: 0.1 momentum: 0.9 }", [1.0])
    assert torch.allclose(w, torch.full((2,), -0.1))


def test_adagrad_eps():
    # First step from a zero sum: -lr * g / (sqrt(g^2) + eps).
    w, _ = _one_step("adagrad_optimizer { lr: 0.1 eps: 1.0 }", [1.0])
    assert torch.allclose(w, torch.full((2,), -0.05))


def test_group_by_pattern_first_full_match_wins():
    p = {n: torch.nn.Parameter(torch.zeros(1)) for n in (
        "_dmp_wrapped_module.dnn.mlp.0.weight",
        "_dmp_wrapped_module.dnn.mlp.0.bias",
        "_dmp_wrapped_module.final.weight",
        "module.fm_mlp.weight",
    )}  # fmt: skip
    rest, parts = group_by_pattern(p, ["dnn\\.mlp\\..*bias", "dnn.*", "mlp"])
    assert list(parts[0]) == ["_dmp_wrapped_module.dnn.mlp.0.bias"]
    assert list(parts[1]) == ["_dmp_wrapped_module.dnn.mlp.0.weight"]
    assert parts[2] == {}  # fullmatch: "mlp" alone matches no name
    assert sorted(rest) == ["_dmp_wrapped_module.final.weight", "module.fm_mlp.weight"]


def test_part_schedule_is_its_own_or_the_dense_kind_with_its_base_rate():
    dense = _dense(
        """
        adam_optimizer { lr: 0.01 }
        exponential_decay_learning_rate { decay_size: 10 decay_factor: 0.5 }
        part_optimizers { regex_pattern: "a.*" sgd_optimizer { lr: 0.4 } }
        part_optimizers {
          regex_pattern: "b.*" sgd_optimizer { lr: 0.4 }
          manual_step_learning_rate { schedule_sizes: [5] learning_rates: [0.1] }
        }
        """
    )
    inherited = build_schedule(dense.part_optimizers[0], "p0", inherit_from=dense)
    own = build_schedule(dense.part_optimizers[1], "p1", inherit_from=dense)
    assert inherited is not None and own is not None
    assert inherited(0) == pytest.approx(0.4) and inherited(10) == pytest.approx(0.2)
    assert own(0) == pytest.approx(0.4) and own(6) == pytest.approx(0.1)
    assert build_schedule(dense, "d")(10) == pytest.approx(0.005)


def _problems(text: str) -> dict[str, str]:
    from tzrec.optim.validate import optim_option_problems
    from tzrec.protos import pipeline_pb2

    config = text_format.Parse(text, pipeline_pb2.EasyRecConfig())
    return {e.where: e.what for e in optim_option_problems(config)}


def test_invalid_options_are_config_problems():
    found = _problems(
        """
        train_config {
          dense_optimizer {
            sgd_optimizer { lr: 0.1 momentum: 0 nesterov: true }
            part_optimizers { regex_pattern: "(" adam_optimizer { eps: -1 } }
            part_optimizers { regex_pattern: "x" }
          }
        }
        """
    )
    at = "train_config.dense_optimizer"
    assert "momentum > 0" in found[f"{at}.sgd_optimizer.nesterov"]
    assert "not a regular expression" in found[f"{at}.part_optimizers[0].regex_pattern"]
    assert found[f"{at}.part_optimizers[0].adam_optimizer.eps"] == "must be >= 0"
    assert found[f"{at}.part_optimizers[1]"] == "no optimizer set"


def _sparse_parts(mode: str, weight_decay: float):
    """The shrunk DeepFM built with fused row-wise Adagrad (validation skipped:
    on CPU it rejects weight decay, which fbgemm's CPU kernel does not apply)."""
    from tests.unit.models.test_models import shrunk_config
    from tzrec.train.setup import build_model_parts
    from tzrec.utils.dist import init_distributed

    config = shrunk_config("deepfm")
    sparse = config.train_config.sparse_optimizer
    sparse.rowwise_adagrad_optimizer.lr = 0.5
    sparse.rowwise_adagrad_optimizer.weight_decay = weight_decay
    sparse.rowwise_adagrad_optimizer.weight_decay_mode = (
        optimizer_pb2.WeightDecayMode.Value(mode)
    )
    return config, build_model_parts(config, init_distributed())


def _kernels(parts) -> list:
    """fbgemm's table-batched embedding modules inside the sharded model."""
    found = []
    for m in parts.dmp.modules():
        for lookup in getattr(m, "_lookups", []):
            found += [e._emb_module for e in getattr(lookup, "_emb_modules", [])]
    return found


@pytest.mark.filterwarnings("ignore::FutureWarning")
@pytest.mark.parametrize("mode", ["NONE", "L2", "DECOUPLE"])
def test_rowwise_adagrad_weight_decay_mode_reaches_fbgemm(mode):
    from fbgemm_gpu.split_table_batched_embeddings_ops_training import (
        WeightDecayMode,
    )

    _, parts = _sparse_parts(mode, 0.5)
    kernels = _kernels(parts)
    assert kernels
    for k in kernels:
        assert k.optimizer_args.weight_decay == 0.5
        assert k.optimizer_args.weight_decay_mode == WeightDecayMode[mode].value


def test_sparse_weight_decay_is_rejected_where_fbgemm_ignores_it():
    from tests.unit.models.test_models import shrunk_config
    from tzrec.utils.errors import ConfigError

    opt = {"lr": 0.1, "weight_decay": 0.5, "weight_decay_mode": "DECOUPLE"}
    edits = {
        "train_config.sparse_optimizer": {
            "rowwise_adagrad_optimizer": opt,
            "constant_learning_rate": {},
        }
    }
    if torch.cuda.is_available():
        shrunk_config("deepfm", **edits)  # valid: the CUDA kernels apply it
        return
    with pytest.raises(ConfigError) as e:
        shrunk_config("deepfm", **edits)
    at = "train_config.sparse_optimizer.rowwise_adagrad_optimizer"
    found = {x.where: x.what for x in e.value.problems}
    assert found[f"{at}.weight_decay"] == "not supported yet"
    assert found[f"{at}.weight_decay_mode"] == "not supported yet"


def _table_change(mode: str, weight_decay: float) -> torch.Tensor:
    """Every table's change after one step of fused row-wise Adagrad."""
    from tzrec.export.self_check import synthetic_batch
    from tzrec.features.build import build_features
    from tzrec.models.build import build_model
    from tzrec.train.trainer import train_step

    config, parts = _sparse_parts(mode, weight_decay)
    plain = build_model(
        config, build_features(config.feature_configs), torch.device("cpu")
    )
    batch = synthetic_batch(plain, 8, seed=1).to(parts.dmp.device)
    batch.labels["label"] = torch.tensor([0.0, 1.0] * 4, device=parts.dmp.device)

    def tables() -> torch.Tensor:
        return torch.cat(
            [
                t.local_shards()[0].tensor.detach().flatten()
                for key, t in sorted(parts.dmp.state_dict().items())
                if "embedding_bags" in key
            ]
        )

    before = tables()
    train_step(parts.dmp, parts.optimizer, batch, parts.model.loss, 0.0)
    return tables() - before


@pytest.mark.skipif(
    not torch.cuda.is_available(),
    reason="fbgemm's CPU row-wise Adagrad applies no weight decay (config rejects it)",
)
@pytest.mark.filterwarnings("ignore::FutureWarning")
def test_rowwise_adagrad_weight_decay_mode_changes_the_update_on_cuda():
    none = _table_change("NONE", 0.5)
    no_decay = _table_change("NONE", 0.0)
    l2 = _table_change("L2", 0.5)
    decouple = _table_change("DECOUPLE", 0.5)
    # NONE ignores weight_decay (fbgemm, as in TorchEasyRec).
    assert torch.allclose(none, no_decay)
    assert not torch.allclose(l2, none, atol=1e-6)
    assert not torch.allclose(decouple, none, atol=1e-6)
    assert not torch.allclose(decouple, l2, atol=1e-6)
