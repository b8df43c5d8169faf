"""Resolved settings: defaults applied once, in tzrec/config/settings.py."""

from __future__ import annotations

import dataclasses
import re
from pathlib import Path

import pytest

from tzrec import config as config_lib
from tzrec.config.settings import (
    DEFAULT_METRIC,
    MetricGoal,
    best_goal,
    resolve_settings,
)
from tzrec.protos import pipeline_pb2
from tzrec.utils.errors import ConfigError

REPO = Path(__file__).resolve().parents[2]
DEEPFM = REPO / "tests" / "configs" / "deepfm_tzrec_style.config"
PLE = REPO / "experiments" / "ple_synthetic.config"


def _config(edits: dict | None = None) -> pipeline_pb2.EasyRecConfig:
    return config_lib.load_pipeline_config(str(DEEPFM), edits)


def test_proto_defaults_resolve_to_the_documented_settings() -> None:
    s = resolve_settings(pipeline_pb2.EasyRecConfig())
    assert s.eval.best == MetricGoal("auc", True)
    assert s.export.exporter_type == "latest" and s.export.best == s.eval.best
    assert s.monitor.best == s.eval.best
    assert (s.monitor.log_every_steps, s.monitor.log_every_secs) == (100, 1.0)
    assert s.monitor.eval_log_every_steps == s.eval.log_every_steps == 10
    assert s.monitor.use_tensorboard and s.monitor.embedding_health
    assert s.monitor.summaries == frozenset()
    assert s.train.early_stop is None
    assert (s.train.save_steps, s.train.save_epochs) == (1000, 0)


def test_empty_metric_names_mean_auc_everywhere() -> None:
    config = _config(
        {
            "export_config.best_exporter_metric": "",
            "export_config.metric_larger_is_better": False,
            "train_config.early_stopping": {"metric_name": "", "patience": 4},
        }
    )
    s = resolve_settings(config)
    assert s.eval.best == s.export.best == s.monitor.best
    assert s.eval.best == MetricGoal(DEFAULT_METRIC, larger_is_better=False)
    es = s.train.early_stop
    assert es is not None and es.goal == MetricGoal("auc", True)
    assert (es.patience, es.min_delta) == (4, 0.0)
    # A run whose config cannot be read ranks by the same default.
    assert best_goal(None) == MetricGoal("auc", True)


def test_cadences_and_switches_are_resolved() -> None:
    config = _config(
        {
            "train_config.save_checkpoints_epochs": 1,
            "train_config.save_checkpoints_steps": 50,
            "train_config.tensorboard_summaries": ["no_embedding_health", "gradient"],
            "eval_config.log_step_count_steps": 0,
            "eval_config.num_steps": 7,
            "data_config.batch_size": 64,
        }
    )
    s = resolve_settings(config)
    assert (s.train.save_steps, s.train.save_epochs) == (0, 1)  # epochs win
    assert not s.monitor.embedding_health
    assert s.monitor.summaries == {"no_embedding_health", "gradient"}
    assert s.eval.log_every_steps == s.monitor.eval_log_every_steps == 1
    assert s.eval.num_steps == 7 and s.monitor.batch_size == 64
    assert s.monitor.config_hash == config_lib.config_hash(config)
    assert s.monitor.config_text.startswith("train_input_path")


def test_settings_are_frozen() -> None:
    s = resolve_settings(_config())
    with pytest.raises(dataclasses.FrozenInstanceError):
        s.monitor.log_every_steps = 1  # type: ignore[misc]


def test_no_runtime_module_applies_the_auc_default_again() -> None:
    pattern = re.compile(r"""or\s+["']auc["']""")
    hits = [
        str(path.relative_to(REPO))
        for path in sorted((REPO / "tzrec").rglob("*.py"))
        if pattern.search(path.read_text(encoding="utf-8"))
    ]
    assert hits == []


def _problems(config: pipeline_pb2.EasyRecConfig) -> dict[str, str]:
    with pytest.raises(ConfigError) as info:
        config_lib.validate(config)
    return {p.where: p.what for p in info.value.problems}


@pytest.mark.parametrize(
    "edits, where",
    [
        ({"train_config.log_step_count_steps": 0}, "train_config.log_step_count_steps"),
        (
            {"train_config.tensorboard_summaries": ["gradients"]},
            "train_config.tensorboard_summaries[0]",
        ),
        ({"train_config.mixed_precision": "FP16"}, "train_config.mixed_precision"),
        ({"export_config.exporter_type": "newest"}, "export_config.exporter_type"),
    ],
)
def test_values_runtime_code_no_longer_checks_are_rejected_up_front(
    edits: dict, where: str
) -> None:
    # Monitor, models/build.py and export.py used to check these again.
    assert where in _problems(_config(edits))


@pytest.mark.parametrize(
    "field, value", [("decay_step", 0), ("decay_rate", 1.0), ("decay_rate", -0.5)]
)
def test_train_metric_decay_is_checked_in_every_task_tower(
    field: str, value: float
) -> None:
    # PLE's towers were checked only by TrainMetricWrapper at runtime.
    edits = {f"model_config.ple.task_towers[1].train_metrics[0].{field}": value}
    config = config_lib.load_pipeline_config(str(PLE), edits)
    found = _problems(config)
    assert list(found) == [f"model_config.ple.task_towers[1].train_metrics[0].{field}"]
