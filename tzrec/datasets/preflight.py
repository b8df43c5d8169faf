"""Input checks that need no model: run before any heavy import or write.

Reading only Parquet footers (and the sizes of CSV files) finds most data
mistakes in about a second, before torch is imported, the model is built or
anything in model_dir is touched: a path that matches nothing, an empty or
unreadable file, a missing column, a label stored as text, files whose column
types differ, or too few rows for the ranks and workers. Mistakes in the
values themselves (NaN labels, unparseable numbers) are found as batches are
built.
"""

from __future__ import annotations

import os

import pyarrow as pa

from tzrec.datasets.reader import ParquetReader, check_share_rows, list_files
from tzrec.features.build import build_features
from tzrec.protos import data_pb2, pipeline_pb2
from tzrec.utils.errors import DataError


def check_inputs(config: pipeline_pb2.EasyRecConfig, input_paths: list[str]) -> None:
    """Checks the files of each input path against the config.

    Args:
        config: the validated pipeline config.
        input_paths: e.g. ``[train_input_path, eval_input_path]``; empty
            entries are skipped.

    Raises:
        DataError: naming the path, file or column, and how to fix it.
    """
    dc = config.data_config
    features = build_features(config.feature_configs)
    labels = list(dc.label_fields) + list(dc.sample_weight_fields)
    columns = [c for f in features for c in f.inputs] + labels
    columns = list(dict.fromkeys(columns))
    world_size = int(os.environ.get("WORLD_SIZE", "1") or 1)
    for path in filter(None, input_paths):
        if dc.dataset_type == data_pb2.ParquetDataset:
            files = list_files(path, (".parquet",))
            check_unique_columns(files, columns)
            reader = ParquetReader(files, columns)
            _check_numeric(reader, labels)
            check_share_rows(reader.total_rows, world_size, dc.num_workers, path)
        elif dc.dataset_type == data_pb2.CsvDataset:
            for f in list_files(path, (".csv", ".txt")):
                if os.path.getsize(f) == 0:
                    raise DataError("empty file", f, "remove it or write its rows")


def check_unique_columns(files: list[str], columns: list[str]) -> None:
    """No needed column appears twice in a Parquet file (footers only).

    Unreadable files are left to :class:`ParquetReader`, which names them.

    Raises:
        DataError: naming the file and the duplicated column.
    """
    import pyarrow.parquet as pq

    wanted = set(columns)
    for f in files:
        try:
            names = pq.read_schema(f).names
        except (pa.ArrowInvalid, OSError):
            continue
        seen: set[str] = set()
        for name in names:
            if name in seen and name in wanted:
                raise DataError(
                    f'column "{name}" appears {names.count(name)} times',
                    f,
                    "write the file with unique column names (rename or drop "
                    "the copies)",
                )
            seen.add(name)


def _check_numeric(reader: ParquetReader, columns: list[str]) -> None:
    """Labels and sample weights must be scalars: numbers, booleans or text.

    Text is allowed here because numbers written as text convert; text that
    is not a number is reported as batches are built.
    """
    import pyarrow.parquet as pq

    schema = pq.read_schema(reader.files[0])
    for col in columns:
        kind = schema.field(col).type
        if not any(
            check(kind)
            for check in (
                pa.types.is_integer,
                pa.types.is_floating,
                pa.types.is_boolean,
                pa.types.is_null,
                pa.types.is_string,
                pa.types.is_large_string,
            )
        ):
            raise DataError(
                f'label/weight column "{col}" holds {kind}, not numbers',
                reader.files[0],
                "store labels and sample weights as numbers",
            )


def check_event_time_column(config: pipeline_pb2.EasyRecConfig, path: str) -> None:
    """The timestamp checkpoints' column holds integer seconds (Parquet footers).

    Only the training data needs it. Any other type would reach the batch as
    a hash (the path for grouping keys), not a time.

    Raises:
        DataError: the column is missing or not an integer column.
    """
    tc = config.train_config
    field = tc.save_checkpoints_timestamp_field
    used = tc.save_checkpoints_timestamp_interval or tc.save_checkpoints_timestamps
    if not (field and used and path):
        return
    if config.data_config.dataset_type != data_pb2.ParquetDataset:
        return  # CSV types are inferred per file as batches are read
    import pyarrow.parquet as pq

    for f in list_files(path, (".parquet",)):
        schema = pq.read_schema(f)
        if field not in schema.names:
            raise DataError(
                f'no event-time column "{field}"',
                f,
                "write each row's Unix-epoch seconds there, or fix "
                "train_config.save_checkpoints_timestamp_field",
            )
        kind = schema.field(field).type
        if not pa.types.is_integer(kind):
            raise DataError(
                f'event-time column "{field}" holds {kind}, not integer seconds',
                f,
                "store the event time as integer Unix-epoch seconds",
            )
