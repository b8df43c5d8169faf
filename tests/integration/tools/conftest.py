"""Two real training runs on tiny data, built once per test session.

Run A and run B differ in batch size, dense learning rate, checkpoint
cadence and retention, so ``compare`` has steps, samples and config
differences to align.
"""

from __future__ import annotations

import dataclasses
import subprocess
from pathlib import Path

import pytest

from tests.cli import QUICKSTART_CONFIG, start_cli, train_args
from tests.unit.tools.runs_helpers import (
    BASE_EDITS,
    EDITS_A,
    EDITS_B,
    write_tiny_data,
)


def _train_flags(data: Path, model_dir: Path, edits: dict) -> list[str]:
    return train_args(
        data, model_dir, config=QUICKSTART_CONFIG, base_edits=BASE_EDITS, **edits
    )


@dataclasses.dataclass
class TwoRuns:
    a: Path
    b: Path
    data: Path


@pytest.fixture(scope="session")
def two_runs(tmp_path_factory) -> TwoRuns:
    """Trains runs A and B at the same time (one process each)."""
    root = tmp_path_factory.mktemp("runs")
    data = write_tiny_data(root / "data")
    dirs = {"a": root / "run_a", "b": root / "run_b"}
    procs = {
        k: start_cli(
            "tzrec.train_eval",
            *_train_flags(data, d, EDITS_A if k == "a" else EDITS_B),
            env={"OMP_NUM_THREADS": "1"},
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        for k, d in dirs.items()
    }
    for k, p in procs.items():
        out, _ = p.communicate(timeout=300)
        assert p.returncode == 0, f"training run {k} failed:\n{out[-3000:]}"
    return TwoRuns(dirs["a"], dirs["b"], data)
