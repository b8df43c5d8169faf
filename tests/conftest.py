"""Shared fixtures: tiny synthetic data and a small DeepFM config."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
QUICKSTART_CONFIG = REPO / "experiments" / "deepfm_synthetic.config"

# Small and fast: used by the end-to-end CLI tests.
TINY_EDITS = {
    "train_config.num_epochs": 0,
    "train_config.num_steps": 40,
    "train_config.save_checkpoints_steps": 20,
    "train_config.log_step_count_steps": 10,
    "data_config.batch_size": 256,
    "data_config.num_workers": 0,
}


@pytest.fixture(scope="session")
def tiny_data(tmp_path_factory) -> Path:
    """4,000 train and 2,000 eval rows of the bundled synthetic data."""
    from tzrec.datasets.synthetic import generate

    out = tmp_path_factory.mktemp("synthetic")
    generate(str(out), num_rows=4000, num_eval_rows=2000, seed=7, num_files=2)
    return out


_DIST_VARS = ("MASTER_ADDR", "MASTER_PORT", "RANK", "WORLD_SIZE", "LOCAL_RANK")


def child_env() -> dict[str, str]:
    """The environment without any rendezvous a torchrun parent left behind."""
    return {k: v for k, v in os.environ.items() if k not in _DIST_VARS}


def run_cli(module: str, *args: str, timeout: float = 300, env: dict | None = None):
    """Runs ``python -m <module> args`` and returns the CompletedProcess."""
    full_env = {**os.environ, "PYTHONUNBUFFERED": "1", **(env or {})}
    return subprocess.run(
        [sys.executable, "-m", module, *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        cwd=REPO,
        env=full_env,
    )


def train_args(data: Path, model_dir: Path, **edits) -> list[str]:
    """train_eval flags for the quickstart config on ``data``, shrunk."""
    return [
        "--pipeline_config_path",
        str(QUICKSTART_CONFIG),
        "--model_dir",
        str(model_dir),
        "--train_input_path",
        str(data / "train"),
        "--eval_input_path",
        str(data / "eval"),
        "--edit_config_json",
        json.dumps({**TINY_EDITS, **edits}),
    ]
