"""Metrics in a real (in-process) training run: TensorBoard and the eval log.

A torchmetrics metric tzrec does not ship is registered and named in the
config; it is decayed in training (train TensorBoard tag) and computed in
eval (eval log), next to the new xauc / grouped_xauc / train grouped AUC and
NE and, on a three-class task, multiclass_auc and recall_at_k.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import pyarrow.compute as pc
import pyarrow.parquet as pq
import pytest
from google.protobuf import text_format
from torchmetrics.classification import BinaryF1Score

from tests.conftest import QUICKSTART_CONFIG, TINY_EDITS
from tests.unit.models.conftest import train as run_in_process  # as the model tests
from tzrec.metrics import register_metric, unregister_metric

EDITS = {
    **TINY_EDITS,
    "train_config.num_steps": 12,
    "train_config.save_checkpoints_steps": 12,
    "train_config.log_step_count_steps": 6,
    "data_config.eval_batch_size": 1000,
}


@pytest.fixture(scope="module")
def dist_info():
    from tzrec.utils.dist import init_distributed

    return init_distributed()


def _config(
    data: Path, model_dir: Path, model_text: str, label: str = "label", best="auc"
):
    from tzrec import config as config_lib

    config = config_lib.load_pipeline_config(str(QUICKSTART_CONFIG), json.dumps(EDITS))
    config.train_input_path = str(data / "train")
    config.eval_input_path = str(data / "eval")
    config.model_dir = str(model_dir)
    config.data_config.label_fields[:] = [label]
    mc = config.model_config
    for field in ("metrics", "train_metrics", "losses"):
        mc.ClearField(field)
    text_format.Merge(model_text, mc)
    config.export_config.best_exporter_metric = best
    config_lib.validate(config)
    return config


def _tb_scalars(log_dir: Path) -> dict[str, list[float]]:
    from tensorboard.backend.event_processing.event_accumulator import (
        EventAccumulator,
    )

    acc = EventAccumulator(str(log_dir), size_guidance={"scalars": 0})
    acc.Reload()
    return {t: [e.value for e in acc.Scalars(t)] for t in acc.Tags()["scalars"]}


def test_user_metric_and_new_metrics_in_train_and_eval(tiny_data, dist_info, tmp_path):
    register_metric("f1", lambda: BinaryF1Score(validate_args=False))
    try:
        config = _config(
            tiny_data,
            tmp_path / "run",
            """
            losses { binary_cross_entropy {} }
            metrics { auc {} }
            metrics { custom_metric { name: "f1" } }
            metrics { custom_metric {
              name: "ap" factory: "torchmetrics.classification:BinaryAveragePrecision"
            } }
            metrics { xauc { sample_ratio: 1.0 } }
            metrics { grouped_xauc { grouping_key: "user_id" } }
            train_metrics { auc {} decay_step: 2 }
            train_metrics { custom_metric { name: "f1" } decay_step: 2 }
            train_metrics { grouped_auc { grouping_key: "user_id" } decay_step: 3 }
            train_metrics { normalized_entropy {} decay_step: 3 }
            """,
        )
        records = run_in_process(config, dist_info)
    finally:
        unregister_metric("f1")
    last = records[-1]
    for key in ("auc", "f1", "ap", "xauc", "grouped_xauc", "calibration"):
        assert key in last and math.isfinite(last[key]), (key, last)
    assert 0.0 <= last["f1"] <= 1.0 and 0.0 < last["ap"] <= 1.0
    assert 0.0 < last["xauc"] < 1.0 and 0.0 < last["grouped_xauc"] < 1.0
    train = _tb_scalars(tmp_path / "run")
    for name in ("auc", "f1", "grouped_auc", "normalized_entropy"):
        values = train[f"metric/{name}"]
        assert values and all(math.isfinite(v) for v in values), name
    evals = _tb_scalars(tmp_path / "run" / "eval_val")
    assert evals["metric/f1"][-1] == pytest.approx(last["f1"], abs=1e-6)
    assert evals["metric/xauc"][-1] == pytest.approx(last["xauc"], abs=1e-6)


def test_multiclass_auc_and_recall_at_k_in_eval(tiny_data, dist_info, tmp_path):
    # three classes: no click, click without conversion, conversion
    data = tmp_path / "data"
    for split in ("train", "eval"):
        table = pq.read_table(tiny_data / split)
        cls = pc.add(
            pc.cast(table["label"], "int64"), pc.cast(table["conversion"], "int64")
        )
        (data / split).mkdir(parents=True)
        pq.write_table(table.append_column("cls", cls), data / split / "part.parquet")
    config = _config(
        data,
        tmp_path / "run",
        """
        num_class: 3
        losses { softmax_cross_entropy {} }
        metrics { multiclass_auc {} }
        metrics { recall_at_k { top_k: 2 } }
        train_metrics { recall_at_k { top_k: 1 } decay_step: 2 }
        """,
        label="cls",
        best="multiclass_auc",
    )
    last = run_in_process(config, dist_info)[-1]
    assert 0.5 < last["multiclass_auc"] <= 1.0, last
    assert 0.0 < last["recall_at_k"] <= 1.0, last
    train = _tb_scalars(tmp_path / "run")
    assert math.isfinite(train["metric/recall_at_k"][-1])
