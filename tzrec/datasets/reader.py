"""File readers: input paths to streams of fixed-size pyarrow record batches.

Rows are split into contiguous ranges, one per share (rank x worker); a share
reads only its own range, in batches of ``batch_size`` rows. Every share yields
the same number of batches (shares differ by at most one row, which the last
batch absorbs), so ranks never disagree on when an epoch ends and a resumed
run can skip exactly the batches it already trained on without reading them.
"""

from __future__ import annotations

import dataclasses
import glob
import os
from collections.abc import Iterator

import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

from tzrec.utils.errors import DataError


def list_files(input_path: str, suffixes: tuple[str, ...]) -> list[str]:
    """Expands a comma-separated list of files, directories and globs."""
    files: list[str] = []
    for part in [p.strip() for p in input_path.split(",") if p.strip()]:
        if os.path.isdir(part):
            found = sorted(
                os.path.join(part, f)
                for f in os.listdir(part)
                if f.endswith(suffixes) and not f.startswith((".", "_"))
            )
        else:
            found = sorted(glob.glob(part))
        files += [f for f in found if os.path.isfile(f)]
    if not files:
        raise DataError(
            "input path matches no data files",
            input_path,
            f"check the path; directories are searched for {'/'.join(suffixes)} files",
        )
    return files


@dataclasses.dataclass(frozen=True)
class Share:
    """Which contiguous slice of the rows one reader owns."""

    index: int
    count: int


def share_range(total: int, share: Share) -> tuple[int, int]:
    """``[start, end)`` of the rows owned by ``share`` out of ``total``."""
    return total * share.index // share.count, total * (share.index + 1) // share.count


def batches_per_share(total: int, shares: int, batch_size: int) -> int:
    """Batches every share yields: ``ceil(floor(total / shares) / batch_size)``.

    A share holding one row more than the smallest puts it in its last batch,
    so all shares (and so all ranks) take the same number of steps.
    """
    smallest = total // shares
    if smallest == 0:
        raise DataError(
            f"{total} rows cannot be split over {shares} readers (ranks x workers)",
            "data_config.num_workers",
            "use fewer DataLoader workers or ranks, or more data",
        )
    return -(-smallest // batch_size)


class ParquetReader:
    """Streams row ranges of a set of Parquet files.

    Args:
        files: Parquet files, read in this order.
        columns: columns to read (None: all).

    """

    def __init__(self, files: list[str], columns: list[str] | None) -> None:
        self.files = files
        self.columns = columns
        self.file_rows: list[int] = []
        for f in files:
            try:
                self.file_rows.append(pq.ParquetFile(f).metadata.num_rows)
            except (pa.ArrowInvalid, OSError) as e:
                raise DataError(
                    f"not a readable Parquet file: {str(e)[:120]}",
                    f,
                    "re-write or remove the file",
                ) from None
        self.total_rows = sum(self.file_rows)

    def iter_range(self, start: int, end: int) -> Iterator[pa.RecordBatch]:
        """Record batches (of any size) covering rows ``[start, end)``."""
        offset = 0
        for path, rows in zip(self.files, self.file_rows):
            f_start, f_end = offset, offset + rows
            offset = f_end
            if f_end <= start or f_start >= end:
                continue
            yield from self._read_file(
                path, max(start, f_start) - f_start, min(end, f_end) - f_start
            )

    def _read_file(self, path: str, lo: int, hi: int) -> Iterator[pa.RecordBatch]:
        pf = pq.ParquetFile(path)
        md = pf.metadata
        groups, first_row, row = [], None, 0
        for g in range(md.num_row_groups):
            n = md.row_group(g).num_rows
            if row + n > lo and row < hi:
                groups.append(g)
                first_row = row if first_row is None else first_row
            row += n
        if not groups:
            return
        pos = first_row
        try:
            for rb in pf.iter_batches(
                batch_size=65536, row_groups=groups, columns=self._cols(pf, path)
            ):
                b_lo, b_hi = max(lo - pos, 0), min(hi - pos, rb.num_rows)
                pos += rb.num_rows
                if b_hi > b_lo:
                    yield rb.slice(b_lo, b_hi - b_lo)
                if pos >= hi:
                    break
        except (pa.ArrowInvalid, OSError) as e:
            raise DataError(
                f"corrupt Parquet data: {str(e)[:120]}", path, "re-write the file"
            ) from None

    def _cols(self, pf: pq.ParquetFile, path: str) -> list[str] | None:
        if self.columns is None:
            return None
        names = set(pf.schema_arrow.names)
        missing = [c for c in self.columns if c not in names]
        if missing:
            raise DataError(
                f"missing column(s) {', '.join(missing)}",
                path,
                "add the columns or fix the feature expressions / label_fields",
            )
        return self.columns


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
                self._total_rows = sum(
                    rb.num_rows for f in self.files for rb in self._read_file(f)
                )
            finally:
                self.columns = keep
        return self._total_rows

    def iter_range(self, start: int, end: int | None) -> Iterator[pa.RecordBatch]:
        """Record batches covering rows ``[start, end)`` (end None: to the end)."""
        pos = 0
        for path in self.files:
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
        try:
            reader = pacsv.open_csv(path, read_opts, parse_opts, convert_opts)
            for rb in reader:
                yield rb
        except (pa.ArrowInvalid, pa.ArrowKeyError, OSError) as e:
            msg = str(e).split("\n")[0][:160]
            raise DataError(
                f"cannot read CSV: {msg}", path, "fix the file or input_fields types"
            ) from None


def rebatch(
    chunks: Iterator[pa.RecordBatch], batch_size: int, num_batches: int
) -> Iterator[pa.Table]:
    """Regroups record batches into ``num_batches`` tables of ``batch_size`` rows.

    Rows beyond ``num_batches * batch_size`` (at most one, see
    :func:`batches_per_share`) join the last table.
    """
    buf: list[pa.RecordBatch] = []
    have = done = 0
    for rb in chunks:
        while rb.num_rows:
            take = (
                rb.num_rows
                if done == num_batches - 1
                else min(batch_size - have, rb.num_rows)
            )
            buf.append(rb.slice(0, take))
            have += take
            rb = rb.slice(take)
            if have == batch_size and done < num_batches - 1:
                yield _concat(buf)
                buf, have, done = [], 0, done + 1
    if have:
        yield _concat(buf)


def _concat(parts: list[pa.RecordBatch]) -> pa.Table:
    try:
        return pa.Table.from_batches(parts)
    except pa.ArrowInvalid as e:
        raise DataError(
            f"files disagree on the schema: {str(e)[:160]}",
            "input files",
            "make every file use the same column types",
        ) from None
