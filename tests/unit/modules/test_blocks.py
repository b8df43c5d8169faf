"""Dense building blocks: formulas on small hand-set weights, and TorchScript."""

import pytest
import torch
from google.protobuf import text_format
from torch import nn

from tzrec.modules.cross import CrossNetV2
from tzrec.modules.interaction import DotInteraction
from tzrec.modules.masknet import MaskNetModule
from tzrec.modules.mlp import MLP
from tzrec.modules.mmoe import MMoE
from tzrec.modules.task_tower import BayesTaskRelation, TaskTowers
from tzrec.protos import module_pb2
from tzrec.utils.errors import ConfigError

pytestmark = pytest.mark.filterwarnings(
    "ignore:.*torch.jit.*deprecated:DeprecationWarning"
)


def _mlp(text: str) -> module_pb2.MLP:
    return text_format.Parse(text, module_pb2.MLP())


def test_mlp_layers_and_scripting():
    mlp = MLP(4, _mlp("hidden_units: [8, 2] use_ln: true dropout_ratio: 0.1"))
    kinds = [type(m).__name__ for m in mlp]
    assert kinds == ["Linear", "LayerNorm", "ReLU", "Dropout"] * 2
    assert mlp.output_dim == 2
    scripted = torch.jit.script(mlp.eval())
    x = torch.randn(3, 4)
    assert torch.allclose(scripted(x), mlp(x))
    with pytest.raises(ConfigError, match="no hidden_units"):
        MLP(4, _mlp(""))


def test_cross_layer_formula():
    net = CrossNetV2(2, cross_num=1, low_rank=1)
    layer = net.layers[0]
    with torch.no_grad():
        layer.U.copy_(torch.tensor([[1.0], [2.0]]))
        layer.V.copy_(torch.tensor([[1.0], [1.0]]))
        layer.bias.copy_(torch.tensor([0.5, 0.0]))
    x = torch.tensor([[1.0, 2.0]])
    # V^T x = 3; U * 3 + b = [3.5, 6]; x * that + x = [4.5, 14]
    assert torch.allclose(net(x), torch.tensor([[4.5, 14.0]]))
    assert torch.allclose(torch.jit.script(net)(x), net(x))


def test_dot_interaction_upper_triangle():
    fields = torch.tensor([[[1.0, 0.0], [0.0, 2.0], [3.0, 1.0]]])
    out = DotInteraction(3)(fields)
    assert out.tolist() == [[0.0, 3.0, 2.0]]  # (0,1), (0,2), (1,2)
    assert "rows" not in DotInteraction(3).state_dict()


def test_mmoe_mixes_experts_by_gate():
    cfg = _mlp("hidden_units: [2]")
    mmoe = MMoE(2, cfg, num_expert=2, num_task=1)
    with torch.no_grad():
        for i, e in enumerate(mmoe.experts):
            e[0].weight.copy_(torch.eye(2) * (i + 1))
            e[0].bias.zero_()
        gate = mmoe.gates[0][0]
        gate.weight.zero_()
        gate.bias.copy_(torch.tensor([0.0, torch.log(torch.tensor(3.0))]))
    # gate softmax = [1/4, 3/4]; experts: relu(x), relu(2x)
    out = mmoe(torch.tensor([[1.0, 2.0]]))
    assert len(out) == 1
    assert torch.allclose(out[0], torch.tensor([[1.75, 3.5]]))
    assert torch.allclose(
        torch.jit.script(mmoe)(torch.ones(1, 2))[0], mmoe(torch.ones(1, 2))[0]
    )


def test_masknet_parallel_and_serial_shapes():
    text = "n_mask_blocks: 2 mask_block { hidden_dim: 6 reduction_ratio: 0.5 } %s"
    from tzrec.protos import module_pb2 as m

    par = text_format.Parse(text % "top_mlp { hidden_units: [3] }", m.MaskNetModule())
    ser = text_format.Parse(text % "use_parallel: false", m.MaskNetModule())
    a, b = MaskNetModule(8, par, "p"), MaskNetModule(8, ser, "s")
    x = torch.randn(4, 8)
    assert a(x).shape == (4, 3) and a.output_dim == 3
    assert b(x).shape == (4, 6) and b.output_dim == 6
    assert a.blocks[0].mask_generator[0].out_features == 4  # 8 * 0.5
    assert b.blocks[1].mask_generator[2].out_features == 6  # masks the hidden
    torch.jit.script(a)
    bad = text_format.Parse("n_mask_blocks: 1", m.MaskNetModule())
    with pytest.raises(ConfigError, match="hidden_dim"):
        MaskNetModule(8, bad, "model_config.mask_net")


def test_task_towers_and_bayes_relation():
    towers = TaskTowers(
        3, ["a", "b"], [None, _mlp("hidden_units: [4]")], [1, 2], ["x", "y"]
    )
    out = towers([torch.randn(2, 3), torch.randn(2, 3)])
    assert out["a"].shape == (2, 1) and out["b"].shape == (2, 2)
    rel = BayesTaskRelation(
        [3, 3], [[], [0]], [None, _mlp("hidden_units: [5]")], ["x", "y"]
    )
    assert rel.output_dims == [3, 5]
    assert rel.layers[1][0].in_features == 6  # own 3 + tower a's 3
    nets = rel([torch.randn(2, 3), torch.randn(2, 3)])
    assert nets[1].shape == (2, 5)
    torch.jit.script(rel)
    torch.jit.script(towers)
    assert isinstance(rel.layers[0], nn.Identity)
