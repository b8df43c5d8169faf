"""torchrun jobs that cannot run: one clear line, a non-zero exit, no hang.

torchrun prints its own ``ChildFailedError`` report after the ranks exit;
that report is the launcher's, so the checks are on what tzrec prints: one
``error:`` line and no traceback through tzrec's code.
"""

from __future__ import annotations

import re
import subprocess

import numpy as np
import pyarrow as pa
import pytest

from tests.cli import REPO, run_torchrun
from tests.integration.hardening.helpers import (
    ERROR_LINE,
    assert_intact,
    record_line,
    train_flags,
    write_parquet,
)

TZREC_PACKAGE = REPO / "tzrec"
pytestmark = pytest.mark.slow
# A traceback frame inside the tzrec package (not merely under a checkout
# that happens to be named tzrec, whose .venv holds torch's own frames).
TZREC_FRAME = re.compile(r'File "' + re.escape(str(TZREC_PACKAGE)) + "/")


def _torchrun(nproc: int, *args: str) -> subprocess.CompletedProcess:
    # A hang fails the test through the timeout instead of blocking the suite.
    return run_torchrun(nproc, "-m", "tzrec.train_eval", *args, timeout=240)


def _error_lines(proc: subprocess.CompletedProcess) -> list[str]:
    assert proc.returncode != 0
    assert not TZREC_FRAME.search(proc.stderr), proc.stderr[-3000:]
    lines = [x for x in proc.stderr.splitlines() if x.startswith("error:")]
    assert len(lines) == 1, f"{lines}\n{proc.stderr[-3000:]}"
    assert ERROR_LINE.fullmatch(lines[0]), lines[0]
    record_line(lines[0])
    return lines


def test_more_ranks_than_rows(tiny_data, run_copy, train_table, tmp_path):
    model_dir, before = run_copy
    data = write_parquet(train_table.slice(0, 1), tmp_path / "d")
    flags = train_flags(tiny_data, model_dir, "--continue_train", train=data)
    proc = _torchrun(2, *flags)
    (line,) = _error_lines(proc)
    assert "1 rows cannot be split over 2 readers (2 ranks x 1 workers)" in line
    assert "[rank" not in line  # rank 0 reported; rank 1 was stopped first
    assert "use fewer ranks" in line
    assert_intact(before, model_dir)


def test_bad_rows_in_one_ranks_share(train_table, tiny_data, tmp_path):
    """Rank 1 alone fails; it reports, rank 0 stops without a traceback."""
    labels = train_table.column("label").to_numpy().astype(np.float64)
    labels[2100] = np.nan  # rank 1 reads rows 2000..3999
    data = write_parquet(
        train_table.set_column(0, "label", pa.array(labels)), tmp_path / "d"
    )
    proc = _torchrun(2, *train_flags(tiny_data, tmp_path / "md", train=data))
    (line,) = _error_lines(proc)
    assert line.startswith("error: [rank 1] label is NaN or missing")
    assert "row index 2100 of" in line
    assert "rank 0 stopped: another rank exited" in proc.stderr
