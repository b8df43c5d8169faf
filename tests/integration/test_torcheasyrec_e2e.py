"""A TorchEasyRec-style config trains with only its data source overridden.

The config is written here in TorchEasyRec's shape (ODPS source, FG_DAG,
side-prefixed expressions, expression normalizers, an ODPS-only setting);
three command-line overrides are all that change.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from tests.cli import run_cli

pytestmark = pytest.mark.slow

CONFIG = """
train_input_path: "odps://{PROJECT}/tables/demo_train"
eval_input_path: "odps://{PROJECT}/tables/demo_eval"
model_dir: "experiments/demo"
train_config {
    sparse_optimizer { adagrad_optimizer { lr: 0.05 } constant_learning_rate {} }
    dense_optimizer { adam_optimizer { lr: 0.005 } constant_learning_rate {} }
    num_epochs: 2
}
eval_config { num_steps: 100 }
data_config {
    batch_size: 256
    dataset_type: OdpsDataset
    fg_mode: FG_DAG
    label_fields: "clk"
    odps_data_quota_name: ""
    num_workers: 0
}
feature_configs { raw_feature {
    feature_name: "int_0" expression: "user:int_0"
    normalizer: "method=expression,expr=log(x+3)" } }
feature_configs { raw_feature {
    feature_name: "price" expression: "item:price"
    boundaries: [5, 20, 80, 300] embedding_dim: 8 } }
feature_configs { id_feature {
    feature_name: "cate_id" expression: "item:cate_id"
    num_buckets: 50 embedding_dim: 8 } }
feature_configs { id_feature {
    feature_name: "pid" expression: "context:pid"
    hash_bucket_size: 20 embedding_dim: 8 } }
model_config {
    feature_groups {
        group_name: "all"
        feature_names: ["int_0", "price", "cate_id", "pid"]
        group_type: DEEP
    }
    multi_tower {
        towers { input: 'all' mlp { hidden_units: [32, 16] } }
        final { hidden_units: [8] }
    }
    metrics { auc {} }
    losses { binary_cross_entropy {} }
}
"""


def _table(rows: int, seed: int) -> pa.Table:
    rng = np.random.default_rng(seed)
    cate = rng.integers(0, 50, rows)
    count = rng.poisson(30, rows) - 3  # counts from -3, as Criteo's
    price = rng.exponential(60, rows)
    pid = np.array(["430548_1007", "430539_1007"])[rng.integers(0, 2, rows)]
    logit = (cate % 5 - 2) * 1.0 + 0.8 * np.log(count + 3) - 2.6
    clk = (rng.random(rows) < 1 / (1 + np.exp(-logit))).astype(np.int64)
    return pa.table(
        {"int_0": count, "price": price, "cate_id": cate, "pid": pid, "clk": clk}
    )


def test_torcheasyrec_config_trains_with_three_overrides(tmp_path: Path) -> None:
    for split, rows, seed in (("train", 6000, 0), ("eval", 2000, 1)):
        (tmp_path / split).mkdir()
        pq.write_table(_table(rows, seed), tmp_path / split / "part-0.parquet")
    config = tmp_path / "theirs.config"
    config.write_text(CONFIG)
    proc = run_cli(
        "tzrec.train_eval",
        "--pipeline_config_path", str(config),
        "--train_input_path", str(tmp_path / "train"),
        "--eval_input_path", str(tmp_path / "eval"),
        "--model_dir", str(tmp_path / "md"),
        "--edit_config_json", '{"data_config.dataset_type": "ParquetDataset"}',
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr[-3000:]
    warnings = [x for x in proc.stderr.splitlines() if "no effect in tzrec" in x]
    assert len(warnings) == 1 and "odps_data_quota_name" in warnings[0]
    lines = (tmp_path / "md" / "train_eval_result.jsonl").read_text().splitlines()
    assert json.loads(lines[-1])["auc"] > 0.65
