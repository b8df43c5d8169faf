"""PLE's extraction networks: gate structure, and a deep stack that trains.

TorchEasyRec's ple_taobao (3 extraction layers of 3-layer experts, 3-layer
towers) trained to eval AUC 0.500 in 32 steps: under PyTorch's default Linear
init its logits varied ~1e-8 across a batch, so every prediction stayed the
same. The training test reproduces that depth at small widths.
"""

import pytest
import torch
from google.protobuf import text_format
from torch import nn
from torchmetrics.functional.classification import binary_auroc

from tzrec.models.ple import PLEHead
from tzrec.modules.extraction_net import ExtractionNet
from tzrec.modules.task_tower import TaskTowers
from tzrec.protos import module_pb2

pytestmark = pytest.mark.filterwarnings(
    "ignore:.*torch.jit.*deprecated:DeprecationWarning"
)

# Embedding-sized inputs: tzrec's default table init has std <= 0.01.
INPUT_STD = 0.01


def _net(per_task: int, share: int, units: list[int]) -> module_pb2.ExtractionNetwork:
    text = (
        f"expert_num_per_task: {per_task} share_num: {share} "
        f"task_expert_net {{ hidden_units: {units} }} "
        f"share_expert_net {{ hidden_units: {units} }}"
    )
    return text_format.Parse(text, module_pb2.ExtractionNetwork())


def _ple(in_dim: int, nets: list, tower_units: list[int]) -> PLEHead:
    """PLE's head over one ``in_dim`` group and two binary tasks, as PLE builds it."""
    layers, width, share = [], in_dim, in_dim
    for i, net in enumerate(nets):
        layer = ExtractionNet(width, share, 2, net, final=i == len(nets) - 1, where="x")
        layers.append(layer)
        width = share = layer.output_dim
    tower = text_format.Parse(f"hidden_units: {tower_units}", module_pb2.MLP())
    towers = TaskTowers(width, ["a", "b"], [tower, tower], [1, 1], ["a", "b"])
    return PLEHead("g", layers, towers)


def test_gates_mix_own_and_shared_experts():
    head = _ple(8, [_net(2, 3, [4]), _net(1, 2, [4])], [4])
    first, last = head.layers
    # a task's gate weighs its own experts and the shared ones
    assert [t.gate.out_features for t in first.tasks] == [2 + 3, 2 + 3]
    assert [t.gate.out_features for t in last.tasks] == [1 + 2, 1 + 2]
    # the shared gate weighs every expert; the last layer has none
    assert isinstance(first.share_gate, nn.Linear)
    assert first.share_gate.out_features == 2 * 2 + 3
    assert isinstance(last.share_gate, nn.Identity)
    x = torch.randn(5, 8)
    outs, shared = first([x, x], x)
    assert [o.shape for o in outs] == [(5, 4), (5, 4)] and shared.shape == (5, 4)


def test_without_shared_experts_the_shared_gate_mixes_task_experts():
    # as TorchEasyRec: share_num 0 below the last layer still hands the next
    # layer a shared input, the gate's mix of every task's experts
    head = _ple(8, [_net(2, 0, [4]), _net(1, 1, [3])], [4])
    first, last = head.layers
    assert isinstance(first.share_gate, nn.Linear)
    assert (first.share_gate.in_features, first.share_gate.out_features) == (8, 4)
    assert last.share_experts[0][0].in_features == 4
    x = torch.randn(5, 8)
    _, shared = first([x, x], x)
    assert shared.shape == (5, 4)
    experts = torch.stack([e(x) for t in first.tasks for e in t.experts], dim=1)
    weights = torch.softmax(first.share_gate(x), dim=1).unsqueeze(1)
    torch.testing.assert_close(shared, torch.bmm(weights, experts).squeeze(1))
    assert head({"g": [x]})["a"].shape == (5, 1)


def _ple_taobao_depth() -> PLEHead:
    """ple_taobao's experts, gates and towers at half its widths."""
    nets = [_net(2, 2, [512, 256, 128]), _net(3, 3, [128, 64, 32])]
    return _ple(128, [*nets, _net(4, 4, [64, 32, 16])], [128, 64, 32])


def _data(rows: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Embedding-sized inputs and a label that every input column moves."""
    gen = torch.Generator().manual_seed(1)
    x = torch.randn(rows, 128, generator=gen) * INPUT_STD
    return x, (x @ torch.randn(128, generator=gen) > 0).float()


def test_ple_taobao_depth_logits_vary_at_init():
    torch.manual_seed(0)
    x, _ = _data(1024)
    with torch.no_grad():
        out = _ple_taobao_depth()({"g": [x]})
    for name, logits in out.items():
        # PyTorch's default init gave a spread of ~1e-8 here
        assert logits.std().item() > 1e-6, name


@pytest.fixture
def one_thread():
    """One intra-op thread: two spinning on a busy two-core machine cost 40x."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def test_ple_taobao_depth_trains_in_32_steps(one_thread):
    torch.manual_seed(0)
    head = _ple_taobao_depth()
    x, y = _data(8 * 256)
    optimizer = torch.optim.Adam(head.parameters(), lr=0.001)
    for step in range(32):
        rows = slice(step % 8 * 256, (step % 8 + 1) * 256)
        out = head({"g": [x[rows]]})
        loss = sum(
            nn.functional.binary_cross_entropy_with_logits(o.squeeze(1), y[rows])
            for o in out.values()
        )
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    with torch.no_grad():
        out = head({"g": [x]})
    for name, logits in out.items():
        # a constant prediction scores 0.5; default init reached 0.56-0.81
        auc = binary_auroc(logits.squeeze(1), y.long()).item()
        assert auc > 0.9, (name, auc)
