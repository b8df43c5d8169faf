"""Multi-task examples: per-task curves, eval-log keys, best by ``auc_ctr``, export.

Margin: each task's eval AUC above 0.65 (a constant prediction scores 0.5).
"""

import json

import pytest
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

from tests.unit.models.conftest import example_config, train
from tzrec.checkpoint.best import best_step

pytestmark = pytest.mark.slow

MARGIN_AUC = 0.65


@pytest.fixture(scope="module", params=["mmoe", "dbmtl"])
def trained(request, model_data, dist_info, tmp_path_factory):
    name = request.param
    model_dir = tmp_path_factory.mktemp(name) / "md"
    # Train metrics fold every decay_step updates (default 100 > 80 steps).
    edits = {
        f"model_config.{name}.task_towers[{i}].train_metrics[0].decay_step": 10
        for i in (0, 1)
    }
    config = example_config(name, model_data, model_dir, **edits)
    return name, config, train(config, dist_info)


def test_each_task_beats_constant_baseline(trained):
    _, _, records = trained
    assert [r["global_step"] for r in records] == [40, 80]
    last = records[-1]
    for key in (
        "auc_ctr",
        "auc_cvr",
        "calibration_ctr",
        "calibration_cvr",
        "loss_binary_cross_entropy_ctr",
        "loss_binary_cross_entropy_cvr",
    ):
        assert key in last, sorted(last)
    assert "auc" not in last
    assert last["auc_ctr"] > MARGIN_AUC and last["auc_cvr"] > MARGIN_AUC, last


def test_per_task_tensorboard_curves(trained):
    _, config, _ = trained
    train_events = EventAccumulator(config.model_dir)
    train_events.Reload()
    tags = set(train_events.Tags()["scalars"])
    for tag in (
        "loss/binary_cross_entropy_ctr",
        "loss/binary_cross_entropy_cvr",
        "metric/auc_ctr",
        "metric/auc_cvr",
    ):
        assert tag in tags, sorted(tags)
    steps = [e.step for e in train_events.Scalars("loss/binary_cross_entropy_cvr")]
    assert steps[-4:] == [20, 40, 60, 80]  # (the monitor also logs step 1)
    eval_events = EventAccumulator(f"{config.model_dir}/eval_val")
    eval_events.Reload()
    for tag in ("metric/auc_ctr", "metric/auc_cvr"):
        assert [e.step for e in eval_events.Scalars(tag)] == [40, 80]


def test_best_checkpoint_by_per_task_metric(trained, tmp_path):
    from tzrec.export import export, select_checkpoint

    _, config, records = trained
    assert config.export_config.best_exporter_metric == "auc_ctr"
    log = f"{config.model_dir}/train_eval_result.jsonl"
    want = max(records, key=lambda r: r["auc_ctr"])
    step, value = best_step(log, "auc_ctr", True)
    assert (step, value) == (want["global_step"], pytest.approx(want["auc_ctr"]))
    selection = select_checkpoint(config)
    assert (selection.how, selection.step) == ("best", want["global_step"])
    meta = export(config, selection, str(tmp_path / "export"))
    assert meta["inputs"]["outputs"] == [
        "probs_ctr",
        "logits_ctr",
        "probs_cvr",
        "logits_cvr",
    ]
    saved = json.loads((tmp_path / "export" / "meta.json").read_text())
    assert saved["metric"] == "auc_ctr" and saved["global_step"] == step
