"""Trains and evaluates DeepFM on a Parquet file of awkward real-world column types.

The columns are what real logs hold and the bundled generator does not:
int64 counts up to 5e9 (long-tailed, Criteo-like), a uint64 user id up to
2**63, a dictionary-encoded string category, and a column that is entirely
null. The label depends on the counts, the user and the category, so a model
that reads them correctly scores an AUC well above 0.5.

Usage:
    .venv/bin/python scripts/check_column_types.py --rows 1000000 --work_dir /tmp/ct
Prints the rows, the training and evaluation figures, and exits non-zero if
either command fails.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

CONFIG = """
train_input_path: "{train}"
eval_input_path: "{eval}"
model_dir: "{model_dir}"
train_config {{
  sparse_optimizer {{ adagrad_optimizer {{ lr: 0.05 }} constant_learning_rate {{}} }}
  dense_optimizer {{ adam_optimizer {{ lr: 0.002 }} constant_learning_rate {{}} }}
  num_epochs: 1
  save_checkpoints_steps: {save_steps}
  log_step_count_steps: 50
  seed: 7
}}
data_config {{
  batch_size: {batch_size}
  dataset_type: ParquetDataset
  label_fields: "label"
  num_workers: 2
  shuffle: true
}}
feature_configs {{ raw_feature {{ feature_name: "count_a"
  boundaries: [1, 10, 100, 1000, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9] embedding_dim: 8 }} }}
feature_configs {{ raw_feature {{ feature_name: "count_b"
  normalizer: "method=log10,threshold=0.5,default=0" }} }}
feature_configs {{ id_feature {{ feature_name: "user_id" hash_bucket_size: 100000
  embedding_dim: 8 }} }}
feature_configs {{ id_feature {{ feature_name: "category" hash_bucket_size: 1000
  embedding_dim: 8 }} }}
feature_configs {{ raw_feature {{ feature_name: "empty_count" default_value: "3" }} }}
feature_configs {{ id_feature {{ feature_name: "empty_tag" hash_bucket_size: 100
  embedding_dim: 8 default_value: "none" }} }}
model_config {{
  feature_groups {{ group_name: "wide" group_type: WIDE
    feature_names: ["count_a", "user_id", "category", "empty_tag"] }}
  feature_groups {{ group_name: "fm" group_type: DEEP
    feature_names: ["count_a", "user_id", "category", "empty_tag"] }}
  feature_groups {{ group_name: "deep" group_type: DEEP
    feature_names: ["count_a", "count_b", "user_id", "category", "empty_count",
                    "empty_tag"] }}
  deepfm {{ deep {{ hidden_units: [32, 16] }} }}
  losses {{ binary_cross_entropy {{}} }}
  metrics {{ auc {{}} }}
}}
"""


def make_table(rows: int, seed: int) -> pa.Table:
    """The awkward columns and a label that depends on them (vectorised)."""
    rng = np.random.default_rng(seed)
    # Long-tailed counts: log-uniform over 0 .. 5e9.
    count_a = np.floor(np.exp(rng.uniform(0, np.log(5e9), rows))).astype(np.int64)
    count_b = np.floor(np.exp(rng.uniform(0, np.log(5e9), rows))).astype(np.int64)
    users = rng.integers(0, 2**63 - 1, 5000, dtype=np.int64).astype(np.uint64)
    user_idx = rng.integers(0, len(users), rows)
    cats = np.array([f"category-{i}" for i in range(200)])
    cat_idx = rng.integers(0, len(cats), rows)
    user_effect = rng.normal(0, 1, len(users))[user_idx]
    cat_effect = rng.normal(0, 1, len(cats))[cat_idx]
    logit = (
        0.6 * (np.log10(count_a + 1) - 4.8)
        - 0.4 * (np.log10(count_b + 1) - 4.8)
        + user_effect
        + cat_effect
    )
    label = (rng.random(rows) < 1 / (1 + np.exp(-logit))).astype(np.int64)
    category = pa.DictionaryArray.from_arrays(
        pa.array(cat_idx.astype(np.int32)), pa.array(cats)
    )
    return pa.table(
        {
            "label": pa.array(label),
            "count_a": pa.array(count_a, pa.int64()),
            "count_b": pa.array(count_b, pa.int64()),
            "user_id": pa.array(users[user_idx], pa.uint64()),
            "category": category,
            "empty_count": pa.nulls(rows),
            "empty_tag": pa.nulls(rows),
        }
    )


def _run(*args: str) -> tuple[int, float, str]:
    t0 = time.time()
    proc = subprocess.run(
        [sys.executable, "-m", *args], cwd=REPO, capture_output=True, text=True
    )
    return proc.returncode, time.time() - t0, proc.stdout + proc.stderr


def main() -> int:
    """Writes the data and config, trains, evaluates, prints the figures."""
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--rows", type=int, default=1_000_000)
    p.add_argument("--eval_rows", type=int, default=0, help="default: rows / 10")
    p.add_argument("--batch_size", type=int, default=4096)
    p.add_argument("--work_dir", required=True)
    args = p.parse_args()
    eval_rows = args.eval_rows or max(args.rows // 10, 1000)
    os.makedirs(args.work_dir, exist_ok=True)
    train = os.path.join(args.work_dir, "train.parquet")
    evals = os.path.join(args.work_dir, "eval.parquet")
    pq.write_table(make_table(args.rows, 1), train, row_group_size=100_000)
    pq.write_table(make_table(eval_rows, 2), evals)
    schema = pq.read_schema(train)
    print("schema:", ", ".join(f"{f.name}: {f.type}" for f in schema))
    model_dir = os.path.join(args.work_dir, "model")
    steps_per_epoch = -(-args.rows // args.batch_size)
    config = os.path.join(args.work_dir, "pipeline.config")
    with open(config, "w") as f:
        f.write(
            CONFIG.format(
                train=train,
                eval=evals,
                model_dir=model_dir,
                batch_size=args.batch_size,
                save_steps=max(steps_per_epoch // 2, 1),
            )
        )
    rc, secs, out = _run("tzrec.train_eval", "--pipeline_config_path", config)
    print(f"train_eval: exit {rc} in {secs:.1f}s on {args.rows:,} rows")
    if rc != 0:
        print(out[-4000:])
        return 1
    log = os.path.join(model_dir, "train_eval_result.jsonl")
    records = [json.loads(line) for line in open(log) if line.strip()]
    for r in records:
        print(
            f"  step {r['global_step']}: auc {r['auc']:.4f} samples {r.get('samples')}"
        )
    rc, secs, out = _run("tzrec.eval", "--pipeline_config_path", config)
    print(f"eval: exit {rc} in {secs:.1f}s")
    if rc != 0:
        print(out[-4000:])
        return 1
    last = [line for line in out.splitlines() if "auc" in line][-1:]
    print("  " + (last[0].strip() if last else "(no auc line)"))
    return 0


if __name__ == "__main__":
    sys.exit(main())
