"""Model diagnostics reported with ``put`` reach TensorBoard on log steps."""

from __future__ import annotations

import pytest
import torch

from tests.unit.models.conftest import example_config, train
from tzrec.modules.din import DINAttention
from tzrec.modules.mmoe import MMoE
from tzrec.monitor.diagnostics import STORE, Diagnosable, entropy
from tzrec.protos import module_pb2


def read_tb(path):
    from tensorboard.backend.event_processing.event_accumulator import (
        EventAccumulator,
    )

    acc = EventAccumulator(str(path), size_guidance={"scalars": 0})
    acc.Reload()
    return acc


def test_put_records_only_when_armed_and_reads_in_one_go():
    class M(torch.nn.Module, Diagnosable):
        def forward(self, x):
            if self.diagnosing():
                self.put("a", x.sum())
                self.put("v", x[0], description="first row")
            return x

    m, x = M(), torch.tensor([[1.0, 2.0], [3.0, 4.0]])
    STORE.arm(False)
    m(x)
    assert STORE.read() == {}
    STORE.arm(True)
    m(x)
    got = {k: v for k, (v, _) in STORE.read().items()}
    assert got == {"a": 10.0, "v/0": 1.0, "v/1": 2.0}
    assert not STORE.armed and STORE.descriptions["v"] == "first row"


def test_mmoe_and_din_report_gate_and_attention_entropy():
    mmoe = MMoE(6, module_pb2.MLP(hidden_units=[4]), 3, 2, task_names=["ctr", ""])
    din = DINAttention(4, 4, module_pb2.MLP(hidden_units=[8]), name="seq")
    STORE.arm(True)
    mmoe(torch.randn(16, 6))
    din(torch.randn(3, 4), torch.randn(3, 5, 4), torch.tensor([5, 1, 0]))
    got = {k: v for k, (v, _) in STORE.read().items()}
    weights = [got[f"mmoe/ctr/gate_weight/{e}"] for e in range(3)]
    assert sum(weights) == pytest.approx(1.0)
    assert 0 < got["mmoe/task1/gate_entropy"] <= torch.log(torch.tensor(3.0)) + 1e-6
    # rows: 5 items (some entropy), 1 item (entropy 0), none (left out)
    assert 0 < got["din/seq/attention_entropy"] <= float(torch.log(torch.tensor(5.0)))
    assert 0 < got["din/seq/attention_entropy_ratio"] <= 1.0 + 1e-6
    assert entropy(torch.tensor([0.5, 0.5, 0.0])) == pytest.approx(0.6931, abs=1e-4)


@pytest.mark.slow
@pytest.mark.parametrize(
    ("name", "tags"),
    [
        ("mmoe", ["model/mmoe/ctr/gate_entropy", "model/mmoe/ctr/gate_weight/0"]),
        ("multi_tower_din", ["model/din/seq/attention_entropy"]),
    ],
)
def test_diagnostics_in_tensorboard_for_a_trained_model(
    name, tags, model_data, dist_info, tmp_path
):
    config = example_config(
        name,
        model_data,
        tmp_path / name,
        **{"train_config.num_steps": 20, "train_config.save_checkpoints_steps": 20},
    )
    train(config, dist_info)
    acc = read_tb(tmp_path / name)
    written = set(acc.Tags()["scalars"])
    logits = [t for t in written if t.startswith("model/logits_norm/")]
    assert logits, written
    for tag in [*tags, *logits]:
        assert tag in written, sorted(t for t in written if t.startswith("model/"))
        assert [e.step for e in acc.Scalars(tag)] == [1, 20]  # log steps only
        assert acc.SummaryMetadata(tag).summary_description
