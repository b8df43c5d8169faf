"""Files that go bad part-way through: corrupt pages, CSV values and types.

Their headers and footers are fine, so they pass the up-front checks and fail
while being read; the run still answers with one line naming the file (and
the column), and the protected run keeps everything it had.
"""

from __future__ import annotations

import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq
import pytest

from tests.cli import TINY_CONFIG, run_in_process
from tests.integration.hardening.helpers import (
    COLUMNS,
    assert_intact,
    assert_one_error,
    train_flags,
    write_parquet,
)

ATTEMPT = ("run.json", "version")
CSV = "dataset_type: CsvDataset\n  with_header: true"
TYPED = "".join(
    f'\n  input_fields {{ input_name: "{c}" input_type: INT64 }}' for c in COLUMNS
)


@pytest.fixture(scope="module")
def eval_csv(tiny_data, tmp_path_factory):
    folder = tmp_path_factory.mktemp("eval_csv")
    table = pq.read_table(tiny_data / "eval").select(COLUMNS)
    pacsv.write_csv(table, folder / "part-0.csv")
    return folder


def _csv_config(tmp_path, typed: bool):
    text = TINY_CONFIG.read_text().replace(
        "dataset_type: ParquetDataset", CSV + (TYPED if typed else "")
    )
    path = tmp_path / "csv.config"
    path.write_text(text)
    return path


def _resume(tiny_data, run_copy, train, config=TINY_CONFIG, eval_=None):
    model_dir, before = run_copy
    flags = train_flags(
        tiny_data,
        model_dir,
        "--continue_train",
        config=config,
        train=train,
        eval_=eval_,
    )
    return run_in_process("tzrec.train_eval", *flags), model_dir, before


def test_corrupt_parquet_pages(tiny_data, run_copy, train_table, tmp_path):
    data = write_parquet(train_table.slice(0, 2000), tmp_path / "d", "part-0.parquet")
    write_parquet(train_table.slice(2000), data, "part-1.parquet")
    path = data / "part-1.parquet"
    raw = bytearray(path.read_bytes())
    for i in range(100, len(raw) // 2):  # pages garbled, footer intact
        raw[i] = (raw[i] * 7 + 13) % 256
    path.write_bytes(bytes(raw))
    assert pq.ParquetFile(path).metadata.num_rows == 2000
    proc, model_dir, before = _resume(tiny_data, run_copy, data)
    assert_one_error(proc, "corrupt Parquet data", str(path), "re-write the file")
    assert_intact(before, model_dir, rewritten=ATTEMPT)


def test_unparseable_number_in_csv(
    tiny_data, run_copy, train_table, eval_csv, tmp_path
):
    lines = _csv_lines(train_table)
    fields = lines[3501].split(",")  # data row 3500, after the header
    fields[COLUMNS.index("int_0")] = "12x"
    lines[3501] = ",".join(fields)
    data = tmp_path / "d"
    data.mkdir()
    (data / "part-0.csv").write_text("\n".join(lines) + "\n")
    config = _csv_config(tmp_path, typed=True)
    proc, model_dir, before = _resume(tiny_data, run_copy, data, config, eval_csv)
    assert_one_error(
        proc,
        "CSV conversion error to int64: invalid value '12x'",
        'column "int_0"',
        "part-0.csv",
        "data_config.input_fields",
    )
    assert_intact(before, model_dir, rewritten=ATTEMPT)


def test_csv_column_changes_type_midway(
    tiny_data, run_copy, train_table, eval_csv, tmp_path
):
    """Types are inferred from the first 4 MiB; a later block has a header row."""
    big = pa.concat_tables([train_table] * 100)  # 400k rows, ~6 MB
    lines = _csv_lines(big)
    lines.insert(350_000, lines[0])  # two files concatenated: a header midway
    data = tmp_path / "d"
    data.mkdir()
    (data / "part-0.csv").write_text("\n".join(lines) + "\n")
    config = _csv_config(tmp_path, typed=False)
    proc, model_dir, before = _resume(tiny_data, run_copy, data, config, eval_csv)
    line = assert_one_error(
        proc,
        "CSV conversion error to int64: invalid value",
        "part-0.csv, after row index",
        'column "',
    )
    row = int(line.split("after row index ")[1].split(",")[0])
    assert 200_000 < row < 350_000  # the first block read fine
    assert_intact(before, model_dir, rewritten=ATTEMPT)


def _csv_lines(table: pa.Table) -> list[str]:
    sink = pa.BufferOutputStream()
    pacsv.write_csv(table, sink)
    return sink.getvalue().to_pybytes().decode().splitlines()


def test_event_time_in_milliseconds(tiny_data, run_copy, train_table, tmp_path):
    millis = pa.array(
        [1_700_000_000_000 + i for i in range(train_table.num_rows)], pa.int64()
    )
    data = write_parquet(train_table.append_column("ts", millis), tmp_path / "d")
    model_dir, before = run_copy
    edit = (
        '{"train_config.save_checkpoints_timestamp_interval": 3600,'
        ' "train_config.save_checkpoints_timestamp_field": "ts"}'
    )
    flags = train_flags(
        tiny_data, model_dir, "--continue_train", "--edit_config_json", edit, train=data
    )
    proc = run_in_process("tzrec.train_eval", *flags)
    assert_one_error(
        proc,
        'event time 1.7e+12 in column "ts" is not Unix-epoch seconds',
        "(train_config.save_checkpoints_timestamp_field)",
        "divide milliseconds by 1000",
    )
    assert_intact(before, model_dir, rewritten=ATTEMPT)
