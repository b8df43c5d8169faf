"""Training the example configs in-process on a small synthetic set.

Subprocess start-up (torch + torchrec imports, a process group) costs
seconds per run, so model tests share one process group and call the
Trainer API directly; the CLI path is covered by tests/integration/e2e.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from tests.cli import REPO

# 20k rows: enough for every example to clearly beat a constant score
# (AUC 0.5) in about a hundred steps, small enough to stay fast.
NUM_ROWS, NUM_EVAL_ROWS = 20_000, 4_000
FAST = {
    "train_config.num_epochs": 0,
    "train_config.num_steps": 80,
    "train_config.save_checkpoints_steps": 40,
    "train_config.log_step_count_steps": 20,
    "data_config.batch_size": 256,
    "data_config.eval_batch_size": 2000,
    "data_config.num_workers": 0,
}


@pytest.fixture(scope="session")
def model_data(tmp_path_factory) -> Path:
    """20k train and 4k eval rows of the bundled synthetic data."""
    from tzrec.datasets.synthetic import generate

    out = tmp_path_factory.mktemp("model_data")
    generate(str(out), num_rows=NUM_ROWS, num_eval_rows=NUM_EVAL_ROWS, seed=5)
    return out


@pytest.fixture(scope="session")
def dist_info():
    """One process group for every in-process run."""
    from tzrec.utils.dist import init_distributed

    return init_distributed()


def example_config(name: str, data: Path, model_dir: Path, **edits: Any):
    """experiments/<name>_synthetic.config on ``data``, shrunk and validated."""
    from tzrec import config as config_lib

    path = REPO / "experiments" / f"{name}_synthetic.config"
    config = config_lib.load_pipeline_config(str(path), json.dumps({**FAST, **edits}))
    config.train_input_path = str(data / "train")
    config.eval_input_path = str(data / "eval")
    config.model_dir = str(model_dir)
    config_lib.validate(config)
    return config


def train(config, dist_info) -> list[dict]:
    """Runs train_eval in-process; returns the eval log records.

    One intra-op thread: fbgemm's CPU embedding backward with two OpenMP
    threads on a busy two-core machine took ~500 ms a step against ~3 ms
    with one (its threads spin-wait for each other).
    """
    import torch

    from tzrec.train.trainer import Trainer

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        Trainer(config, dist_info, False).train()
    finally:
        torch.set_num_threads(threads)
    log = Path(config.model_dir) / "train_eval_result.jsonl"
    return [json.loads(line) for line in log.read_text().splitlines()]
