"""python -m tzrec.eval on a real (tiny) train_eval run."""

from __future__ import annotations

import json
import os

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from tests.cli import run_in_process
from tzrec.eval import build_parser, main
from tzrec.monitor import keys
from tzrec.run_dir import names
from tzrec.utils.cli import run_main

pytestmark = pytest.mark.slow  # every test here shares a ~10 s training run

CONFIG = """
train_input_path: "{root}/train"
eval_input_path: "{root}/eval"
model_dir: "{root}/md"
train_config {{
  sparse_optimizer {{ adagrad_optimizer {{ lr: 0.05 }} constant_learning_rate {{}} }}
  dense_optimizer {{ adam_optimizer {{ lr: 0.003 }} constant_learning_rate {{}} }}
  num_steps: 30
  log_step_count_steps: 10
  save_checkpoints_steps: 15
}}
data_config {{
  batch_size: 128 dataset_type: ParquetDataset label_fields: "label" num_workers: 0
}}
feature_configs {{ id_feature {{
  feature_name: "c0" num_buckets: 100 embedding_dim: 8 }} }}
feature_configs {{ id_feature {{
  feature_name: "c1" hash_bucket_size: 50 embedding_dim: 8 }} }}
feature_configs {{ raw_feature {{ feature_name: "x" }} }}
model_config {{
  feature_groups {{ group_name: "wide" feature_names: ["c0", "c1"] group_type: WIDE }}
  feature_groups {{ group_name: "deep" feature_names: ["c0", "c1"] group_type: DEEP }}
  deepfm {{ deep {{ hidden_units: [16] }} final {{ hidden_units: [8] }} }}
  losses {{ binary_cross_entropy {{}} }}
  metrics {{ auc {{}} }}
}}
"""


def write_data(path: str, rows: int, seed: int) -> None:
    """A Parquet file whose label is learnable from c0 and c1."""
    rng = np.random.default_rng(seed)
    c0 = rng.integers(0, 100, rows)
    c1 = rng.integers(0, 50, rows)
    logit = (c0 % 7 - 3) * 0.6 + (c1 % 5 - 2) * 0.5
    label = (rng.random(rows) < 1 / (1 + np.exp(-logit))).astype(np.int64)
    x = rng.normal(size=rows)
    os.makedirs(os.path.dirname(path), exist_ok=True)
    table = pa.table({"c0": c0, "c1": c1.astype(str), "x": x, "label": label})
    pq.write_table(table, path, row_group_size=500)


@pytest.fixture(scope="module")
def run(tmp_path_factory) -> str:
    """A finished train_eval run with checkpoints (and evals) at 15 and 30."""
    root = str(tmp_path_factory.mktemp("evalrun"))
    write_data(f"{root}/train/part-0.parquet", 2400, 0)
    write_data(f"{root}/eval/part-0.parquet", 900, 1)
    config = f"{root}/p.config"
    with open(config, "w") as f:
        f.write(CONFIG.format(root=root))
    proc = run_in_process("tzrec.train_eval", "--pipeline_config_path", config)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return root


def eval_log(model_dir: str, name: str) -> list[dict]:
    with open(os.path.join(model_dir, name)) as f:
        return [json.loads(line) for line in f]


def tb_scalars(log_dir: str) -> dict[str, list[tuple[int, float]]]:
    from tensorboard.backend.event_processing.event_accumulator import (
        EventAccumulator,
    )

    acc = EventAccumulator(log_dir, size_guidance={"scalars": 0})
    acc.Reload()
    tags = acc.Tags()["scalars"]
    return {t: [(e.step, e.value) for e in acc.Scalars(t)] for t in tags}


def run_eval(argv: list[str], capsys) -> str:
    """``python -m tzrec.eval`` in-process (the same run_main); returns stdout."""
    with pytest.raises(SystemExit) as exit_info:
        run_main(main, build_parser(), argv)
    out, err = capsys.readouterr()
    assert exit_info.value.code == 0, err[-3000:]
    return out


def test_eval_cli_latest_matches_train_eval(run, capsys):
    md = f"{run}/md"
    stdout = run_eval(["--pipeline_config_path", f"{md}/pipeline.config"], capsys)
    train_evals = {r["global_step"]: r for r in eval_log(md, names.EVAL_RESULT_FILE)}
    assert sorted(train_evals) == [15, 30]

    (line,) = eval_log(md, "eval_result.jsonl")
    assert list(line)[0] == "global_step"
    assert line["global_step"] == 30  # the latest complete checkpoint
    assert line["auc"] == pytest.approx(train_evals[30]["auc"], abs=1e-6)
    assert line["auc"] > 0.6  # the model learned something: a real checkpoint
    assert line["loss_binary_cross_entropy"] == pytest.approx(
        train_evals[30]["loss_binary_cross_entropy"], abs=1e-6
    )
    assert json.loads(stdout.strip().splitlines()[-1]) == line

    scalars = tb_scalars(os.path.join(md, names.EVAL_DIR))
    points = dict(scalars[keys.metric_tag("auc")])
    assert points[30] == pytest.approx(line["auc"], abs=1e-6)
    assert keys.loss_tag("binary_cross_entropy") in scalars


def test_eval_cli_chosen_checkpoint_and_file(run, capsys):
    md = f"{run}/md"
    argv = [
        "--pipeline_config_path",
        f"{md}/pipeline.config",
        "--checkpoint_path",
        f"{md}/model.ckpt-15",
        "--eval_result_filename",
        "other.jsonl",
    ]
    run_eval(argv, capsys)
    train_evals = {r["global_step"]: r for r in eval_log(md, names.EVAL_RESULT_FILE)}
    (line,) = eval_log(md, "other.jsonl")
    assert line["global_step"] == 15
    assert line["auc"] == pytest.approx(train_evals[15]["auc"], abs=1e-6)
    assert line["auc"] != pytest.approx(train_evals[30]["auc"], abs=1e-6)
    scalars = tb_scalars(os.path.join(md, names.EVAL_DIR))
    points = dict(scalars[keys.metric_tag("auc")])
    assert points[15] == pytest.approx(line["auc"], abs=1e-6)


def test_eval_cli_errors(run, tmp_path, capsys):
    md = f"{run}/md"
    cases = [
        ["--checkpoint_path", str(tmp_path / "nowhere")],
        ["--checkpoint_pth", f"{md}/model.ckpt-15"],
        ["--eval_result_filename", "/abs/path.jsonl"],
    ]
    for extra in cases:
        argv = ["--pipeline_config_path", f"{md}/pipeline.config", *extra]
        with pytest.raises(SystemExit) as exit_info:
            run_main(main, build_parser(), argv)
        assert exit_info.value.code == 2, extra
        assert capsys.readouterr().err.startswith("error: "), extra
