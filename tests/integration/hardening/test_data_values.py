"""Bad values found as batches are built: one line naming the file and row.

The protected run resumes at step 10 of epoch 0 and reads rows 2560 onwards,
so each bad value sits at row 3500 (row index 1500 of the second file). The
run fails at that batch; the resolved config it wrote is put back, and only
``run.json``/``version`` (the latest attempt) and the logs may change.
"""

from __future__ import annotations

import json

import numpy as np
import pyarrow as pa
import pytest

from tests.cli import run_cli, run_in_process
from tests.integration.hardening.helpers import (
    assert_intact,
    assert_one_error,
    train_flags,
    write_parquet,
)

BAD_ROW = 3500
WHERE = "row index 1500 of"
ATTEMPT = ("run.json", "version")


def _two_files(table: pa.Table, folder):
    write_parquet(table.slice(0, 2000), folder, "part-0.parquet")
    write_parquet(table.slice(2000), folder, "part-1.parquet")
    return folder


def _with_value(table: pa.Table, column: str, value, as_type=None) -> pa.Table:
    values = table.column(column).to_pylist()
    if as_type is not None:
        values = [None if v is None else as_type(v) for v in values]
    values[BAD_ROW] = value
    return table.set_column(table.column_names.index(column), column, pa.array(values))


def _resume(tiny_data, run_copy, train, *extra, runner=run_in_process):
    model_dir, before = run_copy
    flags = train_flags(tiny_data, model_dir, "--continue_train", *extra, train=train)
    return runner("tzrec.train_eval", *flags), model_dir, before


CASES = {
    "nan_label": (
        ("label", np.nan, float),
        ["label is NaN or missing", 'column "label"', WHERE, "part-1.parquet"],
    ),
    "label_out_of_range": (
        ("label", 2.0, float),
        [
            "label 2 is out of range: binary_cross_entropy needs labels in [0, 1]",
            WHERE,
            "part-1.parquet",
        ],
    ),
    "text_label": (
        ("label", "yes", str),
        ["label column has non-numeric values", 'column "label"'],
    ),
    "text_in_numeric_column": (
        ("int_0", "12x", str),
        ["unparseable number", "'12x'", 'column "int_0"'],
    ),
}


@pytest.mark.parametrize("case", list(CASES))
def test_bad_value(case, tiny_data, run_copy, train_table, tmp_path):
    (column, value, as_type), needles = CASES[case]
    data = _two_files(_with_value(train_table, column, value, as_type), tmp_path / "d")
    proc, model_dir, before = _resume(tiny_data, run_copy, data)
    assert_one_error(proc, *needles)
    assert_intact(before, model_dir, rewritten=ATTEMPT)


def test_bad_value_in_a_loader_worker(tiny_data, run_copy, train_table, tmp_path):
    """A worker's error reaches the user as the same one line, no traceback."""
    data = _two_files(_with_value(train_table, "label", np.nan, float), tmp_path / "d")
    edit = json.dumps({"data_config.num_workers": 2})
    # A subprocess: a worker's own stderr output is then part of proc.stderr.
    proc, model_dir, before = _resume(
        tiny_data, run_copy, data, "--edit_config_json", edit, runner=run_cli
    )
    assert_one_error(proc, "label is NaN or missing", WHERE, "part-1.parquet")
    assert "DataLoader worker" not in proc.stderr
    assert_intact(before, model_dir, rewritten=ATTEMPT)
