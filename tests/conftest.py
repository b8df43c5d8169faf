"""Shared fixtures of both tiers: tiny synthetic data.

The CLI runner, torchrun launcher and train_eval flag builder are in
``tests/cli.py``; the names below stay importable from here for tests written
before it.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.cli import (
    QUICKSTART_CONFIG,
    REPO,
    TINY_EDITS,
    child_env,
    run_cli,
    train_args,
)

__all__ = [
    "QUICKSTART_CONFIG",
    "REPO",
    "TINY_EDITS",
    "child_env",
    "run_cli",
    "tiny_data",
    "train_args",
]


@pytest.fixture(scope="session")
def tiny_data(tmp_path_factory) -> Path:
    """4,000 train and 2,000 eval rows of the bundled synthetic data."""
    from tzrec.datasets.synthetic import generate

    out = tmp_path_factory.mktemp("synthetic")
    generate(str(out), num_rows=4000, num_eval_rows=2000, seed=7, num_files=2)
    return out
