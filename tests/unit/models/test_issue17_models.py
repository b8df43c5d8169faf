"""DCN v1, xDeepFM, SimpleMultiTask and DC2VR; variational dropout; Pareto weights.

In-process and small: models built from shrunk copies of their examples
(see ``test_models.shrunk_config``), blocks checked against the formulas.
"""

import pytest
import torch

from tests.unit.models.test_models import _batch, _model, shrunk_config
from tzrec.export.inference_model import script_model, scripted_inputs
from tzrec.loss.pareto import pareto_weights, project_to_simplex
from tzrec.modules.cin import CIN
from tzrec.modules.cross import CrossNet
from tzrec.modules.intervention import Intervention
from tzrec.monitor.diagnostics import STORE
from tzrec.utils.errors import ConfigError

pytestmark = pytest.mark.filterwarnings(
    "ignore:.*torch.jit.*deprecated:DeprecationWarning"
)
NEW_MODELS = ["dcn_v1", "xdeepfm", "simple_multi_task", "dc2vr"]


@pytest.mark.parametrize("name", NEW_MODELS)
def test_export_matches_eager_within_1e_6(name):
    torch.manual_seed(0)
    model = _model(shrunk_config(name))
    batch = _batch(model, n=8)
    with torch.no_grad():
        want = model.predict(batch)
        got = script_model(model)(*scripted_inputs(batch))
    assert sorted(got) == sorted(want) == sorted(model.output_names())
    for key in want:
        assert torch.allclose(got[key], want[key], atol=1e-6, rtol=0), key


def test_cross_net_is_dcn_v1_formula():
    torch.manual_seed(0)
    net = CrossNet(5, cross_num=2)
    x0 = torch.randn(3, 5)
    xl = x0
    for layer in net.layers:
        xl = x0 * (xl @ layer.weight) + layer.bias + xl
    assert torch.allclose(net(x0), xl)
    assert net(x0).shape == (3, 5)


def test_cin_matches_explicit_sums():
    torch.manual_seed(0)
    cin = CIN(3, [4, 2])
    x0 = torch.randn(2, 3, 5)  # [B, fields, dim]
    xk, pooled = x0, []
    for layer in cin.layers:
        maps = []
        for out in range(layer.out_features):
            w = layer.weight[out].view(xk.shape[1], 3)
            m = layer.bias[out] + sum(
                w[h, n] * xk[:, h, :] * x0[:, n, :]
                for h in range(xk.shape[1])
                for n in range(3)
            )
            maps.append(m)
        xk = torch.stack(maps, dim=1)
        pooled.append(xk.sum(dim=2))
    assert torch.allclose(cin(x0), torch.cat(pooled, dim=1), atol=1e-5)
    assert cin.output_dim == 6


def test_intervention_is_orthonormal_and_stops_source_gradient():
    torch.manual_seed(0)
    iv = Intervention(8, 6, 3, dropout_ratio=0.0)
    basis = iv.base_basis()
    assert torch.allclose(basis.t() @ basis, torch.eye(3), atol=1e-5)
    base = torch.randn(4, 8, requires_grad=True)
    source = torch.randn(4, 6, requires_grad=True)
    iv(base, source).sum().backward()
    assert source.grad is None and base.grad is not None
    # A source equal to the base's own low-rank coordinates leaves it unchanged.
    with torch.no_grad():
        same = (base @ basis) @ iv.source_basis().t()
        assert torch.allclose(iv(base, same), base, atol=1e-5)
    # dropout_ratio drops the output in training only.
    noisy = Intervention(8, 6, 3, dropout_ratio=0.5)
    with torch.no_grad():
        assert not torch.allclose(noisy(base, source), noisy(base, source))
        noisy.eval()
        assert torch.allclose(noisy(base, source), noisy(base, source))


def test_variational_dropout_adds_its_penalty_and_scales_eval_inputs():
    config = shrunk_config("dcn_v1")
    assert config.model_config.HasField("variational_dropout")
    torch.manual_seed(0)
    model = _model(config)
    batch = _batch(model, n=8)
    drop = model.group_dropout.groups["all"]
    fields = len(config.model_config.feature_groups[0].feature_names)
    assert drop.logit_p.shape == (fields,)
    losses = model.loss(model.predict(batch), batch)
    lam = config.model_config.variational_dropout.regularization_lambda
    want = lam / 8 * (1 - torch.sigmoid(drop.logit_p)).sum()
    assert torch.allclose(losses["all_feature_p_loss"], want)
    assert list(losses) == model.loss_names
    # Eval: the head reads every field scaled by 1 - p.
    with torch.no_grad():
        groups = model.embedding_group(batch.sparse, batch.dense)
        x = torch.cat(groups["all"], dim=1)
        dims = model.embedding_group.feature_dims
        widths = [dims[n] for n in model.embedding_group.groups["all"]]
        keep = torch.repeat_interleave(1 - drop.rates(), torch.tensor(widths))
        direct = model.head({"all": [x * keep]})
        assert torch.allclose(model.predict(batch)["logits"], direct[""].squeeze(1))
    # Training samples a mask: two forwards differ; no dropout, no penalty.
    model.train()
    STORE.arm(True)  # a log step: the rates are model diagnostics
    a, b = model.predict(batch)["logits"], model.predict(batch)["logits"]
    logged = STORE.read()
    assert logged["variational_dropout/all/0"][0] == pytest.approx(
        drop.rates()[0].item()
    )
    assert not torch.allclose(a, b)
    no_dropout = {"model_config.variational_dropout": None}
    plain = _model(shrunk_config("dcn_v1", **no_dropout))
    assert plain.group_dropout is None
    assert "all_feature_p_loss" not in plain.loss(plain.predict(batch), batch)


def test_embedding_wise_variational_dropout_has_a_rate_per_column():
    edits = {
        "model_config.variational_dropout.embedding_wise_variational_dropout": True
    }
    model = _model(shrunk_config("dcn_v1", **edits))
    width = model.group_dim("all")
    assert model.group_dropout.groups["all"].logit_p.shape == (width,)


def test_pareto_weights_differ_from_fixed_ones_and_keep_their_floor():
    config = shrunk_config("simple_multi_task")
    assert config.model_config.use_pareto_loss_weight
    torch.manual_seed(0)
    model = _model(config).train()
    batch = _batch(model, n=8)
    preds = model.predict(batch)
    STORE.arm(True)  # a log step: the weights are model diagnostics
    weighted = model.loss(preds, batch)
    logged = STORE.read()
    model.model_config.use_pareto_loss_weight = False
    fixed = model.loss(preds, batch)
    ratios = torch.stack([weighted[k] / fixed[k] for k in fixed]).detach()
    assert torch.allclose(ratios.sum(), torch.tensor(1.0), atol=1e-5)
    assert (ratios >= 0.2 - 1e-6).all() and not torch.allclose(ratios, ratios[0])
    key = "pareto_loss_weight/binary_cross_entropy_ctr"
    assert logged[key][0] == pytest.approx(ratios[0].item(), rel=1e-5)
    # Eval (no training) leaves the losses unweighted.
    model.model_config.use_pareto_loss_weight = True
    model.eval()
    unweighted = model.loss(preds, batch)
    assert {k: v.item() for k, v in unweighted.items()} == pytest.approx(
        {k: v.item() for k, v in fixed.items()}
    )


def test_pareto_weights_solve_small_cases():
    g = torch.tensor([[1.0, 0.0], [0.0, 1.0]])
    assert pareto_weights(g, torch.zeros(2)).tolist() == pytest.approx([0.5, 0.5])
    # Parallel gradients: the smaller one alone, or its floor with minimums.
    g = torch.tensor([[1.0, 1.0], [2.0, 2.0]])
    assert pareto_weights(g, torch.zeros(2)).tolist() == pytest.approx([1.0, 0.0])
    mins = torch.tensor([0.2, 0.2])
    assert pareto_weights(g, mins).tolist() == pytest.approx([0.8, 0.2])
    # An interior optimum is the true min-norm point (grid search).
    g = torch.tensor([[1.0, 0.2, 0.0], [-0.5, 1.0, 0.3], [0.1, -0.4, 1.0]])
    w = pareto_weights(g, torch.zeros(3))
    a, b = torch.meshgrid(torch.linspace(0, 1, 201), torch.linspace(0, 1, 201))
    inside = (a + b) <= 1
    ws = torch.stack([a[inside], b[inside], 1 - a[inside] - b[inside]], dim=1)
    best = ((ws @ g) ** 2).sum(dim=1).min()
    assert float(((w @ g) ** 2).sum()) <= float(best) + 1e-6
    assert (w > 0.05).all()  # interior


def test_simplex_projection():
    v = torch.tensor([0.5, -0.2, 0.9])
    assert project_to_simplex(v, torch.tensor(1.0)).tolist() == pytest.approx(
        [0.3, 0.0, 0.7]
    )
    assert project_to_simplex(v, torch.tensor(0.6)).sum().item() == pytest.approx(0.6)


@pytest.mark.parametrize(
    ("name", "edits", "match"),
    [
        (
            "simple_multi_task",
            {
                "model_config.simple_multi_task.task_towers[0]"
                ".pareto_min_loss_weight": 0.9
            },
            "sum to 1.1",
        ),
        (
            "dc2vr",
            {"model_config.dc2vr.task_towers[1].intervention_tower_names": ["cvr"]},
            "not an earlier task tower",
        ),
        (
            "dc2vr",
            {"model_config.dc2vr.task_towers[1].low_rank_dim": 64},
            "low_rank_dim 64",
        ),
        (
            "xdeepfm",
            {"model_config.feature_groups[0].group_type": "DEEP"},
            "must be a WIDE group",
        ),
    ],
)
def test_config_errors(name, edits, match):
    with pytest.raises(ConfigError, match=match):
        _model(shrunk_config(name, **edits))


def test_task_space_counts_any_positive_indicator_as_inside():
    config = shrunk_config("dc2vr")
    model = _model(config)
    batch = _batch(model, n=8)
    preds = model.predict(batch)
    batch.labels["label"] = torch.tensor([0.0, 1.0, 2.0, 0.0, 3.0, 1.0, 0.0, 2.0])
    cvr = model.loss(preds, batch)["binary_cross_entropy_cvr"]
    batch.labels["label"] = (batch.labels["label"] > 0).float()
    binary = model.loss(preds, batch)["binary_cross_entropy_cvr"]
    assert binary.item() == pytest.approx(cvr.item())


@pytest.mark.parametrize("name", ["rocket_launching", "wukong"])
def test_variational_dropout_applies_to_other_models_too(name):
    edits = {"model_config.variational_dropout": {"regularization_lambda": 0.1}}
    model = _model(shrunk_config(name, **edits))
    batch = _batch(model, n=8)
    losses = model.loss(model.predict(batch), batch)
    assert list(losses) == model.loss_names
    assert any(k.endswith("_feature_p_loss") for k in losses)
    # The rates reach the predictions (rocket_launching has its own predict).
    key = model.output_names()[0]
    with torch.no_grad():
        before = model.predict(batch)[key]
        for drop in model.group_dropout.groups.values():
            drop.logit_p.add_(3.0)
        assert not torch.allclose(model.predict(batch)[key], before)
