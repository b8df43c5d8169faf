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
        metrics { xauc {} }
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
        "model_config.metrics[0]",
        "model_config.metrics[1].grouped_auc.grouping_key",
        "model_config.metrics[3]",
        "model_config.metrics[4]",
    ]
    assert "xauc" in str(e.value)


def test_train_metric_errors():
    cfg = model_config("train_metrics { auc {} decay_step: 0 }")
    with pytest.raises(ConfigError) as e:
        build_train_metrics(cfg.train_metrics)
    assert e.value.where == "model_config.train_metrics[0].decay_step"
    bad = model_config("train_metrics { grouped_auc { grouping_key: 'u' } }")
    with pytest.raises(ConfigError, match="not supported"):
        build_train_metrics(bad.train_metrics)


def test_loss_means():
    m = build_loss_means(["binary_cross_entropy_ctr"])
    assert list(m) == ["loss_binary_cross_entropy_ctr"]
    assert isinstance(m["loss_binary_cross_entropy_ctr"], LossMean)
