"""Bad input files found before training starts (Parquet footers, file sizes).

These are checked right after the config, before torch is imported or
model_dir is touched, so the protected run must stay exactly as it was.
"""

from __future__ import annotations

import json

import pyarrow as pa
import pyarrow.parquet as pq

from tests.cli import TINY_CONFIG, run_in_process
from tests.integration.hardening.helpers import (
    assert_intact,
    assert_one_error,
    train_flags,
    write_parquet,
)


def _resume(tiny_data, run_copy, train, *extra, config=TINY_CONFIG, eval_=None):
    model_dir, before = run_copy
    flags = train_flags(
        tiny_data,
        model_dir,
        "--continue_train",
        *extra,
        config=config,
        train=train,
        eval_=eval_,
    )
    proc = run_in_process("tzrec.train_eval", *flags)
    return proc, model_dir, before


def test_path_matches_no_files(tiny_data, run_copy, tmp_path):
    empty = tmp_path / "empty"
    empty.mkdir()
    proc, model_dir, before = _resume(tiny_data, run_copy, empty)
    assert_one_error(proc, "input path matches no data files", f"({empty})")
    assert_intact(before, model_dir)


def test_glob_matches_no_files(tiny_data, run_copy, tmp_path):
    pattern = str(tmp_path / "day=*" / "*.parquet")
    proc, model_dir, before = _resume(tiny_data, run_copy, pattern)
    assert_one_error(proc, "input path matches no data files", pattern)
    assert_intact(before, model_dir)


def test_eval_path_matches_no_files(tiny_data, run_copy, tmp_path):
    missing = tmp_path / "no_eval"
    proc, model_dir, before = _resume(tiny_data, run_copy, None, eval_=missing)
    assert_one_error(proc, "input path matches no data files", str(missing))
    assert_intact(before, model_dir)


def test_empty_file(tiny_data, run_copy, tmp_path):
    (tmp_path / "d").mkdir()
    (tmp_path / "d" / "part-0.parquet").write_bytes(b"")
    proc, model_dir, before = _resume(tiny_data, run_copy, tmp_path / "d")
    assert_one_error(
        proc, "not a readable Parquet file: Parquet file size is 0 bytes", "part-0"
    )
    assert_intact(before, model_dir)


def test_file_without_rows(tiny_data, run_copy, train_table, tmp_path):
    data = write_parquet(train_table.slice(0, 0), tmp_path / "d")
    proc, model_dir, before = _resume(tiny_data, run_copy, data)
    assert_one_error(proc, "input has no rows", str(data), "non-empty files")
    assert_intact(before, model_dir)


def test_missing_column(tiny_data, run_copy, train_table, tmp_path):
    data = write_parquet(train_table.drop(["cat_5"]), tmp_path / "d")
    proc, model_dir, before = _resume(tiny_data, run_copy, data)
    assert_one_error(proc, "missing column(s) cat_5", "part-0.parquet", "add the")
    assert_intact(before, model_dir)


def test_label_column_of_the_wrong_type(tiny_data, run_copy, train_table, tmp_path):
    lists = pa.array([[v] for v in train_table.column("label").to_pylist()])
    bad = train_table.set_column(0, "label", lists)
    data = write_parquet(bad, tmp_path / "d")
    proc, model_dir, before = _resume(tiny_data, run_copy, data)
    assert_one_error(
        proc, 'label/weight column "label" holds list<', "store labels and sample"
    )
    assert_intact(before, model_dir)


def test_truncated_parquet(tiny_data, run_copy, train_table, tmp_path):
    data = write_parquet(train_table, tmp_path / "d")
    path = data / "part-0.parquet"
    path.write_bytes(path.read_bytes()[:-100])
    proc, model_dir, before = _resume(tiny_data, run_copy, data)
    assert_one_error(proc, "not a readable Parquet file", str(path), "re-write")
    assert_intact(before, model_dir)


def test_files_disagree_on_column_type(tiny_data, run_copy, train_table, tmp_path):
    data = write_parquet(train_table.slice(0, 2000), tmp_path / "d", "part-0.parquet")
    text = pa.array([str(v) for v in train_table.column("cat_4").to_pylist()])
    newer = train_table.set_column(2, "cat_4", text).slice(2000)
    write_parquet(newer, data, "part-1.parquet")
    proc, model_dir, before = _resume(tiny_data, run_copy, data)
    assert_one_error(
        proc,
        'column "cat_4" is string in this file but int64 in',
        "part-1.parquet",
        "same column types",
    )
    assert_intact(before, model_dir)


def test_empty_csv_file(tiny_data, run_copy, tmp_path):
    config = tmp_path / "csv.config"
    config.write_text(
        TINY_CONFIG.read_text().replace(
            "dataset_type: ParquetDataset",
            "dataset_type: CsvDataset\n  with_header: true",
        )
    )
    (tmp_path / "d").mkdir()
    (tmp_path / "d" / "part-0.csv").write_text("")
    proc, model_dir, before = _resume(
        tiny_data, run_copy, tmp_path / "d", config=config
    )
    assert_one_error(proc, "empty file", "part-0.csv", "remove it")
    assert_intact(before, model_dir)


def test_too_few_rows_for_the_readers(tiny_data, run_copy, train_table, tmp_path):
    workers = 4
    data = write_parquet(train_table.slice(0, 3), tmp_path / "d")
    edit = json.dumps({"data_config.num_workers": workers})
    proc, model_dir, before = _resume(
        tiny_data, run_copy, data, "--edit_config_json", edit
    )
    assert_one_error(
        proc,
        f"3 rows cannot be split over {workers} readers (1 ranks x {workers} workers)",
        "use fewer ranks or data_config.num_workers",
    )
    assert_intact(before, model_dir)


def test_eval_cli_checks_its_input_first(run_copy, train_table, tmp_path):
    model_dir, before = run_copy
    data = write_parquet(train_table.drop(["label"]), tmp_path / "d")
    proc = run_in_process(
        "tzrec.eval",
        "--pipeline_config_path",
        str(model_dir / "pipeline.config"),
        "--eval_input_path",
        str(data),
    )
    assert_one_error(proc, "missing column(s) label", "part-0.parquet")
    assert_intact(before, model_dir)
    assert (
        pq.read_schema(data / "part-0.parquet").names
        == train_table.drop(["label"]).column_names
    )


def test_event_time_column_not_integer(tiny_data, run_copy, train_table, tmp_path):
    seconds = pa.array([1.7e9 + i for i in range(train_table.num_rows)])
    data = write_parquet(train_table.append_column("ts", seconds), tmp_path / "d")
    edit = json.dumps(
        {
            "train_config.save_checkpoints_timestamp_interval": 3600,
            "train_config.save_checkpoints_timestamp_field": "ts",
        }
    )
    proc, model_dir, before = _resume(
        tiny_data, run_copy, data, "--edit_config_json", edit
    )
    assert_one_error(
        proc, 'event-time column "ts" holds double, not integer seconds', "Unix-epoch"
    )
    assert_intact(before, model_dir)
