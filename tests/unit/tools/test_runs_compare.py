"""Config diffs, compare tables and text formatting on hand-written runs."""

from __future__ import annotations

import pytest

from tests.cli import QUICKSTART_CONFIG
from tests.unit.tools.runs_helpers import fake_run
from tzrec import config as config_lib
from tzrec.protos import pipeline_pb2
from tzrec.tools.runs.compare import compare_data, compare_text
from tzrec.tools.runs.config import config_diff, flatten
from tzrec.tools.runs.load import load_run
from tzrec.tools.runs.table import fmt_value, table


def quickstart(edits=None) -> pipeline_pb2.EasyRecConfig:
    return config_lib.load_pipeline_config(str(QUICKSTART_CONFIG), edits)


def test_flatten_names_repeated_messages_by_their_key():
    flat = flatten(quickstart())
    assert flat["feature_configs[feature_name=cat_2].id_feature.num_buckets"] == 100000
    assert flat["model_config.feature_groups[group_name=deep].group_type"] == "DEEP"
    assert flat["train_config.dense_optimizer.adam_optimizer.lr"] == 0.002
    assert flat["train_config.dense_optimizer.constant_learning_rate"] == "{}"
    assert "model_config.losses[0].binary_cross_entropy" in flat


def test_diff_uses_defaults_ignores_model_dir_and_survives_an_inserted_feature():
    a = quickstart({"train_config.save_checkpoints_steps": None})  # unset: 1000
    b = quickstart({"train_config.save_checkpoints_steps": 1000, "model_dir": "x"})
    c = quickstart({"train_config.save_checkpoints_steps": 500})
    first = c.feature_configs[0]
    new = pipeline_pb2.EasyRecConfig()
    new.CopyFrom(c)
    del new.feature_configs[:]
    extra = new.feature_configs.add()
    extra.id_feature.feature_name = "extra_id"
    extra.id_feature.num_buckets = 7
    new.feature_configs.extend(c.feature_configs)
    assert config_diff([a, b]) == []
    diff = {d["path"]: d["values"] for d in config_diff([a, b, new])}
    assert diff == {
        "train_config.save_checkpoints_steps": [1000, 1000, 500],
        "feature_configs[feature_name=extra_id].id_feature.feature_name": [
            "(unset)", "(unset)", "extra_id"],
        "feature_configs[feature_name=extra_id].id_feature.num_buckets": [
            "(unset)", "(unset)", 7],
    }  # fmt: skip
    assert first.raw_feature.feature_name == "int_0"
    stop = quickstart({"train_config.early_stopping.patience": 5})
    diff = {d["path"]: d["values"] for d in config_diff([a, stop])}
    assert diff["train_config.early_stopping.patience"] == ["(unset)", 5]


def _evals(aucs, every=10):
    return [
        {"global_step": every * (i + 1), "auc": a, "loss_bce": 1 - a}
        for i, a in enumerate(aucs)
    ]


def test_three_runs_deltas_and_same_samples_note(tmp_path):
    runs = [
        load_run(str(fake_run(tmp_path / n, _evals(v), ckpt_steps=[10, 20, 30])))
        for n, v in (("a", [0.6, 0.7, 0.65]), ("b", [0.62, 0.66, 0.71]), ("c", [0.5]))
    ]
    data = compare_data(runs)
    auc = data["metrics"]["auc"]["runs"]
    assert [r["best_step"] for r in auc] == [20, 30, 10]
    assert [r["delta_best"] for r in auc] == pytest.approx([0.0, 0.01, -0.2])
    assert [r["delta_last"] for r in auc] == pytest.approx([0.0, 0.06, -0.15])
    loss = data["metrics"]["loss_bce"]
    assert loss["better"] == "lower" and loss["runs"][1]["best_step"] == 30
    text = compare_text(runs)
    rows = text.split("auc by step")[1].split("\n\n")[0].splitlines()
    assert rows[1].split() == ["step", "A", "B", "C", "Δ", "B", "Δ", "C"]
    assert rows[3].split() == ["10", "0.6000", "0.6200", "0.5000", "+0.0200", "-0.1000"]
    assert rows[5].split() == ["30", "0.6500", "0.7100", "+0.0600"]
    assert "aligned by samples too" in text
    assert "config differences: none" in text


def test_table_aligns_numbers_right_and_text_left():
    lines = table(["name", "value"], [["a", "1.5"], ["bbb", "10.25"]])
    assert lines == [
        "  name  value",
        "  ----  -----",
        "  a       1.5",
        "  bbb   10.25",
    ]
    assert fmt_value(None) == "nan" and fmt_value(0.5) == "0.5000"
    assert fmt_value(123456.0) == "1.235e+05" and fmt_value(2e-5) == "2e-05"
