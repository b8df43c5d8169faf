"""Tasks from configs: names, keys, routing and every config mistake reported."""

import pytest
from google.protobuf import text_format

from tzrec.models.tasks import loss_names, metric_routes, tasks_from_config
from tzrec.protos import model_pb2
from tzrec.utils.errors import ConfigError


def _mc(text: str) -> model_pb2.ModelConfig:
    return text_format.Parse(text, model_pb2.ModelConfig())


MMOE = """
mmoe {
  expert_mlp { hidden_units: [8] }
  task_towers {
    tower_name: "ctr" label_name: "click" sample_weight_name: "w"
    losses { binary_cross_entropy {} }
    metrics { auc {} } metrics { grouped_auc { grouping_key: "user_id" } }
    train_metrics { auc {} }
  }
  task_towers {
    tower_name: "price" label_name: "y" weight: 0.5
    losses { l2_loss {} } metrics { mean_squared_error {} }
  }
}
"""


def test_multi_task_names_and_routes():
    tasks = tasks_from_config(_mc(MMOE), ["click", "y"], ["w"])
    assert [t.suffix for t in tasks] == ["_ctr", "_price"]
    assert loss_names(tasks) == ["binary_cross_entropy_ctr", "l2_loss_price"]
    assert tasks[0].output_names == ["probs_ctr", "logits_ctr"]
    assert tasks[1].output_names == ["y_price"] and tasks[1].weight == 0.5
    routes = metric_routes(tasks)
    assert sorted(routes) == [
        "auc_ctr",
        "calibration_ctr",
        "calibration_price",
        "grouped_auc_ctr",
        "mean_squared_error_price",
    ]
    assert routes["grouped_auc_ctr"].grouping_key == "user_id"
    assert routes["auc_ctr"].weight_name == "w"
    assert routes["mean_squared_error_price"].pred_key == "y_price"
    assert list(metric_routes(tasks, train=True)) == ["auc_ctr"]


def test_single_task_softmax_two_classes_scores_probs1():
    mc = _mc("num_class: 2 losses { softmax_cross_entropy {} } metrics { auc {} }")
    (task,) = tasks_from_config(mc, ["label"], ["w", "v"])
    assert task.suffix == "" and task.sample_weight_name == "w"
    assert task.probability_key == "probs1"
    assert metric_routes([task])["auc"].pred_key == "probs1"


def test_every_problem_is_reported():
    mc = _mc(
        MMOE.replace('label_name: "y"', 'label_name: "nope"').replace(
            'tower_name: "price"', 'tower_name: "ctr"'
        )
        + "losses { binary_cross_entropy {} }"
    )
    with pytest.raises(ConfigError) as info:
        tasks_from_config(mc, ["click", "y"], [])
    text = info.value.one_line()
    for needle in (
        "reads losses from its task towers",
        'duplicate tower_name "ctr"',
        'label_name "nope" is not in data_config.label_fields',
        'sample_weight_name "w" is not in',
    ):
        assert needle in text, text


def test_probability_metric_on_regression_task_is_an_error():
    mc = _mc("losses { l2_loss {} } metrics { auc {} }")
    with pytest.raises(ConfigError, match="needs a probability output"):
        tasks_from_config(mc, ["y"])
