import pytest
from google.protobuf import text_format

from tzrec.metrics import (
    AUC,
    Calibration,
    DecayAUC,
    GroupedAUC,
    LossMean,
    NormalizedEntropy,
    build_eval_metrics,
    build_loss_means,
    build_train_metrics,
    tower_suffix,
)
from tzrec.protos import model_pb2
from tzrec.utils.errors import ConfigError


def model_config(text):
    return text_format.Parse(text, model_pb2.ModelConfig())


def test_eval_metrics_names_and_types():
    cfg = model_config(
        """
        metrics { auc { thresholds: 100 } }
        metrics { grouped_auc { grouping_key: "user_id" } }
        metrics { normalized_entropy {} }
        metrics { accuracy { threshold: 0.4 } }
        """
    )
    m = build_eval_metrics(cfg.metrics, suffix=tower_suffix("ctr"))
    assert list(m) == [
        "auc_ctr",
        "grouped_auc_ctr",
        "normalized_entropy_ctr",
        "accuracy_ctr",
        "calibration_ctr",
    ]
    assert isinstance(m["auc_ctr"], AUC) and m["auc_ctr"].num_thresholds == 100
    assert isinstance(m["grouped_auc_ctr"], GroupedAUC)
    assert m["grouped_auc_ctr"].grouping_key == "user_id"
    assert isinstance(m["normalized_entropy_ctr"], NormalizedEntropy)
    assert m["accuracy_ctr"].threshold == pytest.approx(0.4)
    assert isinstance(m["calibration_ctr"], Calibration)
    assert list(build_eval_metrics(cfg.metrics[:1], calibration=False)) == ["auc"]


def test_train_metrics_use_decay_auc_and_proto_defaults():
    cfg = model_config(
        """
        train_metrics { auc {} }
        train_metrics { mean_absolute_error {} decay_rate: 0.5 decay_step: 10 }
        """
    )
    m = build_train_metrics(cfg.train_metrics)
    assert isinstance(m["auc"].metric, DecayAUC)
    assert (m["auc"].decay_rate, m["auc"].decay_step) == (0.9, 100)
    assert (
        m["mean_absolute_error"].decay_rate,
        m["mean_absolute_error"].decay_step,
    ) == (0.5, 10)


def test_all_problems_reported_at_once():
    cfg = model_config(
        """
        metrics { xauc { sample_ratio: 2.0 } }
        metrics { grouped_auc {} }
        metrics { auc {} }
        metrics { auc {} }
        metrics {}
        """
    )
    with pytest.raises(ConfigError) as e:
        build_eval_metrics(cfg.metrics)
    wheres = [p.where for p in e.value.problems]
    assert wheres == [
        "model_config.metrics[0].xauc.sample_ratio",
        "model_config.metrics[1].grouped_auc.grouping_key",
        "model_config.metrics[3]",
        "model_config.metrics[4]",
    ]
    assert "sample_ratio must be in (0, 1]" in str(e.value)


def test_train_metric_errors():
    # decay_step / decay_rate: checked once, by config validation
    # (tests/test_config_settings.py, tests/test_config_validate.py).
    bad = model_config("train_metrics { grouped_xauc {} }")
    with pytest.raises(ConfigError, match="grouped_xauc needs a grouping_key"):
        build_train_metrics(bad.train_metrics)


def test_loss_means():
    m = build_loss_means(["binary_cross_entropy_ctr"])
    assert list(m) == ["loss_binary_cross_entropy_ctr"]
    assert isinstance(m["loss_binary_cross_entropy_ctr"], LossMean)


def test_new_metric_config_problems_name_their_field():
    cfg = model_config(
        """
        metrics { grouped_xauc {} }
        metrics { multiclass_auc { average: "micro" } }
        metrics { auc { thresholds: 1 } }
        metrics { recall_at_k { top_k: 0 } }
        metrics { custom_metric {} }
        metrics { custom_metric { name: "calibration" } }
        metrics { custom_metric { name: "f1" factory: "no_such_module:F1" } }
        metrics { custom_metric { name: "nobody" } }
        """
    )
    with pytest.raises(ConfigError) as e:
        build_eval_metrics(cfg.metrics)
    wheres = [p.where for p in e.value.problems]
    assert wheres == [
        "model_config.metrics[0].grouped_xauc.grouping_key",
        "model_config.metrics[1].multiclass_auc.average",
        "model_config.metrics[2].auc.thresholds",
        "model_config.metrics[3].recall_at_k.top_k",
        "model_config.metrics[4].custom_metric.name",
        "model_config.metrics[5].custom_metric.name",
        "model_config.metrics[6].custom_metric.factory",
        "model_config.metrics[7].custom_metric.name",
    ]


def test_registered_and_imported_custom_metrics():
    from torchmetrics.classification import BinaryF1Score

    from tzrec.metrics import register_metric, registered_metrics, unregister_metric

    with pytest.raises(ValueError):
        register_metric("no spaces", BinaryF1Score)
    register_metric("f1", BinaryF1Score)
    register_metric("not_a_metric", lambda: 42)
    try:
        assert {"f1", "not_a_metric"} <= set(registered_metrics())
        cfg = model_config(
            """
            metrics { custom_metric { name: "f1" } }
            metrics { custom_metric {
              name: "ap" factory: "torchmetrics.classification:BinaryAveragePrecision"
            } }
            train_metrics { custom_metric { name: "f1" } decay_step: 5 }
            """
        )
        m = build_eval_metrics(cfg.metrics, suffix="_ctr")
        assert list(m) == ["f1_ctr", "ap_ctr", "calibration_ctr"]
        assert type(m["f1_ctr"]).__name__ == "BinaryF1Score"
        assert type(m["ap_ctr"]).__name__ == "BinaryAveragePrecision"
        train = build_train_metrics(cfg.train_metrics)
        assert type(train["f1"].metric).__name__ == "BinaryF1Score"
        assert train["f1"].decay_step == 5
        bad = model_config('metrics { custom_metric { name: "not_a_metric" } }')
        with pytest.raises(ConfigError, match="not a torchmetrics Metric"):
            build_eval_metrics(bad.metrics)
    finally:
        unregister_metric("f1")
        unregister_metric("not_a_metric")
    assert "f1" not in registered_metrics()
