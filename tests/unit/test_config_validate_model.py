"""Model, task and optimisation checks: reported at validate time, with paths."""

from __future__ import annotations

import pytest

from tests.cli import REPO
from tzrec.config import load_pipeline_config, validate
from tzrec.utils.errors import ConfigError


def _problems(name: str, edits: dict) -> dict[str, str]:
    import json

    path = REPO / "experiments" / f"{name}_synthetic.config"
    cfg = load_pipeline_config(str(path), json.dumps(edits))
    with pytest.raises(ConfigError) as info:
        validate(cfg)
    return {p.where: p.one_line() for p in info.value.problems}


@pytest.mark.parametrize(
    "name",
    [
        "deepfm",
        "wide_and_deep",
        "dlrm",
        "multi_tower",
        "dcn_v2",
        "mask_net",
        "mmoe",
        "dbmtl",
    ],
)
def test_examples_are_valid(name):
    validate(
        load_pipeline_config(str(REPO / "experiments" / f"{name}_synthetic.config"))
    )


def test_multi_task_export_metric_must_be_a_task_metric():
    found = _problems("mmoe", {"export_config.best_exporter_metric": "auc"})
    text = found["export_config.best_exporter_metric"]
    assert 'did you mean "auc_ctr"' in text and "auc_cvr" in text


def test_early_stopping_metric_checked_too():
    found = _problems(
        "dbmtl", {"train_config.early_stopping": {"metric_name": "loss_ctr"}}
    )
    assert (
        "loss_binary_cross_entropy_ctr"
        in found["train_config.early_stopping.metric_name"]
    )


def test_task_problems_name_their_tower():
    found = _problems(
        "dbmtl",
        {
            "model_config.dbmtl.task_towers[0].label_name": "clicks",
            "model_config.dbmtl.task_towers[0].relation_tower_names": ["cvr"],
        },
    )
    assert "label_fields" in found["model_config.dbmtl.task_towers[0].label_name"]
    where = "model_config.dbmtl.task_towers[0].relation_tower_names[0]"
    assert "relation_mlp" in found[where]


def test_schedule_clipping_and_precision_problems():
    lr = "train_config.dense_optimizer.exponential_decay_learning_rate"
    found = _problems(
        "wide_and_deep",
        {
            f"{lr}.decay_size": 0,
            "train_config.grad_clipping": {"clipping_type": "norm", "max_gradient": 0},
            "train_config.mixed_precision": "FP16",
        },
    )
    assert "decay_size" in " ".join(found)
    assert "must be > 0" in found["train_config.grad_clipping.max_gradient"]
    assert "BF16" in found["train_config.mixed_precision"]


def test_model_blocks_are_checked():
    found = _problems(
        "dlrm",
        {
            "model_config.dlrm.dense_mlp.hidden_units": [32, 8],
            "model_config.dlrm.final.dropout_ratio": [0.1, 0.2],
        },
    )
    assert (
        "sparse embedding_dim (16)" in found["model_config.dlrm.dense_mlp.hidden_units"]
    )
    assert "one per hidden layer" in found["model_config.dlrm.final.dropout_ratio"]
    found = _problems(
        "mask_net", {"model_config.mask_net.mask_net_module.n_mask_blocks": 0}
    )
    assert "model_config.mask_net.n_mask_blocks" in found


def test_supported_features_pass_validation():
    cfg = load_pipeline_config(
        str(REPO / "experiments" / "dcn_v2_synthetic.config"),
        '{"train_config.gradient_accumulation_steps": 4, '
        '"train_config.grad_clipping": {"clipping_type": "value"}, '
        '"train_config.mixed_precision": "BF16", '
        '"model_config.losses": [{"binary_focal_loss": {}}], '
        '"data_config.sample_weight_fields": ["price"]}',
    )
    validate(cfg)
