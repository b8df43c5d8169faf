"""Streaming input, output and progress for ``python -m tzrec.predict``.

Input is read in order, ``batch_size`` rows at a time (Parquet or CSV, with
the same readers as training); output is written as it comes, to a temporary
sibling renamed into place when complete, so a killed job never leaves a
half-written file under the output name.
"""

from __future__ import annotations

import logging
import os
import sys
import time
from collections.abc import Callable, Iterator

import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

from tzrec.datasets.csv_reader import CsvReader
from tzrec.datasets.reader import ParquetReader, list_files, rebatch
from tzrec.monitor.cadence import Clock, Throttle
from tzrec.monitor.progress import format_count, format_duration
from tzrec.protos import data_pb2
from tzrec.run_dir.atomic import replace_durably, temp_sibling
from tzrec.utils.errors import ConfigError, DataError

_logger = logging.getLogger("tzrec")

PARQUET, CSV = "ParquetDataset", "CsvDataset"
PARQUET_WRITER, CSV_WRITER = "ParquetWriter", "CsvWriter"
_ROWS_PER_WRITE = 65536
_ARROW_TYPES = {
    data_pb2.INT32: pa.int32(),
    data_pb2.INT64: pa.int64(),
    data_pb2.STRING: pa.string(),
    data_pb2.FLOAT: pa.float32(),
    data_pb2.DOUBLE: pa.float64(),
}


def input_format(input_path: str, dataset_type: str | None) -> str:
    """``ParquetDataset`` or ``CsvDataset``: the flag, else by file extension."""
    if dataset_type:
        if dataset_type not in (PARQUET, CSV):
            raise ConfigError(
                f"unsupported --dataset_type {dataset_type}",
                "command line",
                f"use {PARQUET} or {CSV}",
            )
        return dataset_type
    first = input_path.split(",")[0].strip()
    return CSV if first.endswith((".csv", ".txt")) else PARQUET


def output_format(output_path: str, writer_type: str | None) -> str:
    """``ParquetWriter`` or ``CsvWriter``: the flag, else ``.csv`` -> CSV."""
    if writer_type:
        if writer_type not in (PARQUET_WRITER, CSV_WRITER):
            raise ConfigError(
                f"unsupported --writer_type {writer_type}",
                "command line",
                f"use {PARQUET_WRITER} or {CSV_WRITER}",
            )
        return writer_type
    return CSV_WRITER if output_path.endswith(".csv") else PARQUET_WRITER


def open_input(
    input_path: str,
    fmt: str,
    columns: list[str],
    data_config: data_pb2.DataConfig,
) -> tuple[Iterator[pa.RecordBatch], int | None]:
    """Record batches of ``columns`` over all input rows, in order.

    CSV options (delimiter, header, column names and types) come from the
    config's ``data_config`` when it lists ``input_fields``; otherwise the
    file is read as comma-separated with a header line.

    Returns:
        (the record batches, total rows or None when unknown up front).

    """
    if fmt == PARQUET:
        from tzrec.datasets.preflight import check_unique_columns

        files = list_files(input_path, (".parquet",))
        check_unique_columns(files, columns)
        reader = ParquetReader(files, columns)
        return reader.iter_range(0, reader.total_rows), reader.total_rows
    fields = list(data_config.input_fields)
    csv = CsvReader(
        list_files(input_path, (".csv", ".txt")),
        columns,
        data_config.delimiter if fields else ",",
        data_config.with_header if fields else True,
        [f.input_name for f in fields] or None,
        {
            f.input_name: _ARROW_TYPES[f.input_type]
            for f in fields
            if f.input_type in _ARROW_TYPES
        },
    )
    return csv.iter_range(0, None), None


def batches(
    input_path: str,
    fmt: str,
    columns: list[str],
    data_config: data_pb2.DataConfig,
    batch_size: int,
) -> tuple[Iterator[pa.Table], int | None]:
    """Tables of ``batch_size`` rows (the last may be short), in input order."""
    chunks, total = open_input(input_path, fmt, columns, data_config)
    # No batch count to fill: never fold trailing rows into an earlier batch.
    return rebatch(chunks, batch_size, sys.maxsize), total


class PredictionWriter:
    """Writes output tables to ``path`` atomically, in order, in large groups.

    Use as a context manager: on a clean exit the temporary file is renamed to
    ``path``; on an exception it is removed.

    Args:
        path: the final output file (its folder is created).
        fmt: ``ParquetWriter`` or ``CsvWriter``.
        empty_schema: the columns to write when no row comes.
    """

    def __init__(
        self, path: str, fmt: str, empty_schema: pa.Schema | None = None
    ) -> None:
        self.path = path
        self.fmt = fmt
        self.empty_schema = empty_schema
        folder = os.path.dirname(os.path.abspath(path))
        os.makedirs(folder, exist_ok=True)
        self.tmp = temp_sibling(path)
        self.rows = 0
        self._writer: pq.ParquetWriter | pacsv.CSVWriter | None = None
        self._schema: pa.Schema | None = None
        self._pending: list[pa.Table] = []
        self._pending_rows = 0

    def __enter__(self) -> PredictionWriter:
        return self

    def __exit__(self, exc_type: type | None, *exc: object) -> None:
        if exc_type is None:
            self.commit()
        else:
            self.abort()

    def write(self, table: pa.Table) -> None:
        """Queues ``table``; writes when enough rows are queued."""
        if self._schema is None:
            self._schema = table.schema
        elif table.schema != self._schema:
            table = _cast(table, self._schema)
        self._pending.append(table)
        self._pending_rows += table.num_rows
        self.rows += table.num_rows
        if self._pending_rows >= _ROWS_PER_WRITE:
            self._flush()

    def _flush(self) -> None:
        if not self._pending:
            return
        table = pa.concat_tables(self._pending)
        self._pending, self._pending_rows = [], 0
        if self._writer is None:
            self._writer = self._open(table.schema)
        self._writer.write_table(table)

    def _open(self, schema: pa.Schema) -> pq.ParquetWriter | pacsv.CSVWriter:
        if self.fmt == CSV_WRITER:
            return pacsv.CSVWriter(self.tmp, schema)
        return pq.ParquetWriter(self.tmp, schema)

    def commit(self) -> None:
        """Finishes the file and renames it into place."""
        if self._writer is None and not self._pending:
            schema = self._schema or self.empty_schema or pa.schema([])
            self._pending = [schema.empty_table()]
        self._flush()
        assert self._writer is not None
        self._writer.close()
        replace_durably(self.tmp, self.path)

    def abort(self) -> None:
        """Closes and removes the temporary file."""
        try:
            if self._writer is not None:
                self._writer.close()
        finally:
            if os.path.exists(self.tmp):
                os.unlink(self.tmp)


def _cast(table: pa.Table, schema: pa.Schema) -> pa.Table:
    try:
        return table.select(schema.names).cast(schema)
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError, KeyError) as e:
        raise DataError(
            f"input files disagree on column types: {str(e)[:160]}",
            "reserved columns",
            "give every input file the same column types",
        ) from None


class RowProgress:
    """A throttled ``[predict] rows, rows/s, ETA`` line.

    Args:
        total: input rows when known (percent and ETA).
        every_secs: minimum seconds between lines.
        clock: seconds source (fake in tests).
        log: where lines go (the ``tzrec`` logger by default).
    """

    def __init__(
        self,
        total: int | None,
        every_secs: float = 5.0,
        clock: Clock = time.monotonic,
        log: Callable[[str], None] | None = None,
    ) -> None:
        self.total = total
        self._clock = clock
        self._t0 = clock()
        self._throttle = Throttle(0, every_secs, clock)
        self._log = log or _logger.info
        self._first = True

    def update(self, rows: int, final: bool = False) -> str | None:
        """Logs the line for ``rows`` done if due (always when ``final``)."""
        if not (final or self._first or self._throttle.ready(rows)):
            return None
        self._first = False
        elapsed = self._clock() - self._t0
        rate = rows / elapsed if elapsed > 0 else None
        line = f"[predict] {format_count(rows)}"
        if self.total:
            pct = 100.0 * rows / self.total
            line += f"/{format_count(self.total)} rows ({pct:.1f}%)"
        else:
            line += " rows"
        if rate:
            line += f" | {format_count(rate)} rows/s"
            if self.total and not final:
                line += f" | ETA {format_duration((self.total - rows) / rate)}"
        if final:
            line += f" | done in {format_duration(elapsed)}"
        self._log(line)
        return line
