"""CSV input: streamed in pyarrow record batches, rows counted by reading.

The CSV counterpart of :class:`tzrec.datasets.reader.ParquetReader`: the same
``total_rows`` / ``units`` / ``locate`` / ``iter_range`` interface, so shares
and rebatching (:mod:`tzrec.datasets.reader`) treat both formats alike.
"""

from __future__ import annotations

import csv
import os
import re
from collections.abc import Iterator

import pyarrow as pa
import pyarrow.csv as pacsv

from tzrec.datasets.reader import locate_row, short_message
from tzrec.utils.errors import DataError


class CsvReader:
    """Streams CSV files; rows are numbered by reading (no up-front count).

    Args:
        files: CSV files.
        columns: columns to keep.
        delimiter: field separator.
        with_header: first line holds the column names.
        column_names: names for header-less files (from ``input_fields``).
        column_types: pyarrow types by column (from ``input_fields``).

    """

    def __init__(
        self,
        files: list[str],
        columns: list[str] | None,
        delimiter: str = ",",
        with_header: bool = True,
        column_names: list[str] | None = None,
        column_types: dict[str, pa.DataType] | None = None,
    ) -> None:
        self.files = files
        self.columns = columns
        self.delimiter = delimiter
        self.with_header = with_header
        self.column_names = column_names
        self.column_types = column_types or {}
        self._total_rows: int | None = None
        self.file_rows: list[int] = []
        if not with_header and not column_names:
            raise DataError(
                "a CSV without header needs column names",
                "data_config.input_fields",
                "list the columns in input_fields or set with_header: true",
            )

    @property
    def total_rows(self) -> int:
        """Rows in all files, counted once by a streaming pass over one column."""
        if self._total_rows is None:
            keep = self.columns
            self.columns = self.columns[:1] if self.columns else None
            try:
                self.file_rows = [
                    sum(rb.num_rows for rb in self._read_file(f)) for f in self.files
                ]
            finally:
                self.columns = keep
            self._total_rows = sum(self.file_rows)
        return self._total_rows

    @property
    def units(self) -> list[tuple[int, int, int]]:
        """(file, 0, rows) per file: a CSV file is read whole, in one unit."""
        self.total_rows  # noqa: B018 (counts the rows once)
        return [(i, 0, n) for i, n in enumerate(self.file_rows)]

    def locate(self, row: int, order: list[int] | None = None) -> str:
        """``row index R of FILE`` for a row number over all files.

        Args:
            row: position in the row sequence read.
            order: the file order that sequence was read in (None: as listed).
        """
        if not self.file_rows:
            return f"row index {row} of the input"
        if order is None:
            return locate_row(self.files, self.file_rows, row)
        files = [self.files[i] for i in order]
        return locate_row(files, [self.file_rows[i] for i in order], row)

    def iter_range(
        self, start: int, end: int | None, order: list[int] | None = None
    ) -> Iterator[pa.RecordBatch]:
        """Record batches covering rows ``[start, end)`` (end None: to the end).

        Args:
            start: first row, counted in ``order``.
            end: one past the last row (None: to the end).
            order: file indices in reading order (None: as listed).
        """
        pos = 0
        files = self.files if order is None else [self.files[i] for i in order]
        rows = None if order is None else [self.file_rows[i] for i in order]
        for i, path in enumerate(files):
            if rows is not None and (pos + rows[i] <= start):
                pos += rows[i]  # known size: skip the file unread
                continue
            for rb in self._read_file(path):
                b_lo = max(start - pos, 0)
                b_hi = rb.num_rows if end is None else min(end - pos, rb.num_rows)
                pos += rb.num_rows
                if b_hi > b_lo:
                    yield rb.slice(b_lo, b_hi - b_lo)
                if end is not None and pos >= end:
                    return

    def _read_file(self, path: str) -> Iterator[pa.RecordBatch]:
        read_opts = pacsv.ReadOptions(
            column_names=None if self.with_header else self.column_names,
            block_size=1 << 22,
        )
        parse_opts = pacsv.ParseOptions(delimiter=self.delimiter)
        convert_opts = pacsv.ConvertOptions(
            column_types=self.column_types,
            include_columns=self.columns,
            strings_can_be_null=True,
        )
        if os.path.getsize(path) == 0:
            raise DataError("empty file", path, "remove it or write its rows")
        rows = 0
        try:
            reader = pacsv.open_csv(path, read_opts, parse_opts, convert_opts)
            for rb in reader:
                rows += rb.num_rows
                yield rb
        except (pa.ArrowInvalid, pa.ArrowKeyError, OSError) as e:
            msg = short_message(e)
            where = f"{path}, after row index {rows - 1}" if rows else path
            m = re.match(r"In CSV column #(\d+): ", msg)
            if m:
                name = self._column_name(path, int(m.group(1)))
                where += f', column "{name}"'
                msg = msg[m.end() :]
            raise DataError(
                f"cannot read CSV: {msg}",
                where,
                "fix the value, or set the column's type in data_config.input_fields",
            ) from None

    def _column_name(self, path: str, index: int) -> str:
        """The name of the file's ``index``-th column (header or input_fields)."""
        names = self.column_names or []
        if self.with_header:
            with open(path, encoding="utf-8", errors="replace", newline="") as f:
                names = next(csv.reader(f, delimiter=self.delimiter), [])
        return names[index] if index < len(names) else f"#{index}"
