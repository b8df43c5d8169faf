"""Fixtures of the bad-input catalogue: tiny data tables and a run to protect."""

from __future__ import annotations

import shutil
import signal
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from tests.cli import run_cli
from tests.integration.hardening.helpers import (
    COLUMNS,
    eval_steps,
    snapshot,
    train_flags,
)


@pytest.fixture(scope="session")
def protected_run(tiny_data, tmp_path_factory) -> Path:
    """A tiny run killed at step 15: checkpoint 10 and its evaluation."""
    model_dir = tmp_path_factory.mktemp("protected") / "md"
    proc = run_cli(
        "tzrec.train_eval",
        *train_flags(tiny_data, model_dir),
        env={"TZREC_FAILPOINT": "after_step:15"},
    )
    assert proc.returncode == -signal.SIGKILL, proc.stderr[-3000:]
    assert eval_steps(model_dir) == [10]
    assert [p.name for p in model_dir.glob("model.ckpt-*")] == ["model.ckpt-10"]
    return model_dir


@pytest.fixture
def run_copy(protected_run, tmp_path) -> tuple[Path, dict]:
    """A private copy of ``protected_run`` (mtimes kept) and its snapshot."""
    model_dir = tmp_path / "run"
    shutil.copytree(protected_run, model_dir)
    config = model_dir / "pipeline.config"  # eval/export must use the copy
    text = config.read_text()
    assert f'model_dir: "{protected_run}"' in text
    config.write_text(text.replace(str(protected_run), str(model_dir)))
    return model_dir, snapshot(model_dir)


@pytest.fixture(scope="session")
def train_table(tiny_data) -> pa.Table:
    """The tiny training rows, only the columns the tiny config reads."""
    return pq.read_table(tiny_data / "train").select(COLUMNS)
