"""scripts/check_column_types.py end to end on 6,000 rows (1M rows: by hand).

train_eval evaluates at each checkpoint; the separate tzrec.eval call of the
script is left to the by-hand run to keep the suite short.
"""

import subprocess
import sys

import pytest

from tests.cli import REPO

pytestmark = pytest.mark.slow


def test_awkward_column_types_train_and_evaluate(tmp_path):
    proc = subprocess.run(
        [
            sys.executable,
            "scripts/check_column_types.py",
            "--rows",
            "6000",
            "--batch_size",
            "256",
            "--work_dir",
            str(tmp_path),
            "--skip_eval_cli",
        ],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=600,
    )
    out = proc.stdout + proc.stderr
    assert proc.returncode == 0, out[-4000:]
    assert "user_id: uint64" in out and "empty_count: null" in out
    assert "category: dictionary<values=string" in out
    assert "train_eval: exit 0" in out
    aucs = [
        float(line.split("auc ")[1].split()[0])
        for line in out.splitlines()
        if "  step " in line
    ]
    assert aucs and aucs[-1] > 0.6, out
