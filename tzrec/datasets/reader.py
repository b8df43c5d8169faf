"""File readers: input paths to streams of fixed-size pyarrow record batches.

Parquet is read here, CSV by :mod:`tzrec.datasets.csv_reader`.

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


def check_share_rows(
    total: int, world_size: int, num_workers: int, input_path: str
) -> None:
    """Raises a DataError unless every (rank, worker) share gets a row."""
    shares = world_size * max(num_workers, 1)
    if total == 0:
        raise DataError(
            "input has no rows", input_path, "point the path at non-empty files"
        )
    if total < shares:
        raise DataError(
            f"{total} rows cannot be split over {shares} readers "
            f"({world_size} ranks x {max(num_workers, 1)} workers)",
            input_path,
            "use fewer ranks or data_config.num_workers, or more data",
        )


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
        self.units: list[tuple[int, int, int]] = []
        first: pa.Schema | None = None
        for i, f in enumerate(files):
            try:
                pf = pq.ParquetFile(f)
                md = pf.metadata
                self.file_rows.append(md.num_rows)
                self.units += [
                    (i, g, md.row_group(g).num_rows) for g in range(md.num_row_groups)
                ]
                schema = pf.schema_arrow
            except (pa.ArrowInvalid, OSError) as e:
                raise DataError(
                    f"not a readable Parquet file: {short_message(e)}",
                    f,
                    "re-write or remove the file",
                ) from None
            first = first or schema
            self._check_schema(f, schema, first)
        self.total_rows = sum(self.file_rows)

    def _check_schema(self, path: str, schema: pa.Schema, first: pa.Schema) -> None:
        """Every file has the needed columns, with the first file's types.

        Only footers are read, so a file that would fail mid-epoch (a column
        dropped or retyped in newer files) fails before training starts.
        """
        names = set(schema.names)
        needed = first.names if self.columns is None else self.columns
        missing = [c for c in needed if c not in names]
        if missing:
            raise DataError(
                f"missing column(s) {', '.join(missing)}",
                path,
                "add the columns or fix the feature expressions / label_fields",
            )
        for col in needed:
            want, got = first.field(col).type, schema.field(col).type
            if got != want and not pa.types.is_null(got) and not pa.types.is_null(want):
                raise DataError(
                    f'column "{col}" is {got} in this file but {want} in '
                    f"{self.files[0]}",
                    path,
                    "write every file of the input with the same column types",
                )

    def locate(self, row: int, order: list[int] | None = None) -> str:
        """``row index R of FILE`` for a row number over all files.

        Args:
            row: position in the row sequence read.
            order: the unit order that sequence was read in (None: stored order).
        """
        if order is None:
            return locate_row(self.files, self.file_rows, row)
        for u in order:
            file, group, n = self.units[u]
            if row < n:
                before = sum(r for f, g, r in self.units if f == file and g < group)
                return f"row index {before + row} of {self.files[file]}"
            row -= n
        return f"row index {row} of the input"

    def iter_range(
        self, start: int, end: int, order: list[int] | None = None
    ) -> Iterator[pa.RecordBatch]:
        """Record batches (of any size) covering rows ``[start, end)``.

        Args:
            start: first row, counted in ``order``.
            end: one past the last row.
            order: the row groups (indices into ``units``) in reading order;
                None reads files and row groups as stored.
        """
        units = self.units if order is None else [self.units[u] for u in order]
        offset = 0
        for file, groups, rows in _runs(units):
            r_start, r_end = offset, offset + rows
            offset = r_end
            if r_end <= start or r_start >= end:
                continue
            yield from self._read_groups(
                self.files[file],
                groups,
                max(start, r_start) - r_start,
                min(end, r_end) - r_start,
            )

    def _read_groups(
        self, path: str, groups: list[int], lo: int, hi: int
    ) -> Iterator[pa.RecordBatch]:
        """Rows ``[lo, hi)`` of the consecutive row groups ``groups`` of a file."""
        pf = pq.ParquetFile(path)
        md = pf.metadata
        keep: list[int] = []
        first_row, row = 0, 0
        for g in groups:
            n = md.row_group(g).num_rows
            if row + n > lo and row < hi:
                first_row = first_row if keep else row
                keep.append(g)
            row += n
        if not keep:
            return
        pos = first_row
        try:
            for rb in pf.iter_batches(
                batch_size=65536, row_groups=keep, columns=self._cols(pf, path)
            ):
                b_lo, b_hi = max(lo - pos, 0), min(hi - pos, rb.num_rows)
                pos += rb.num_rows
                if b_hi > b_lo:
                    yield rb.slice(b_lo, b_hi - b_lo)
                if pos >= hi:
                    break
        except (pa.ArrowInvalid, OSError) as e:
            raise DataError(
                f"corrupt Parquet data: {short_message(e)}",
                path,
                "re-write the file, or remove it from the input",
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
                yield concat_batches(buf)
                buf, have, done = [], 0, done + 1
    if have:
        yield concat_batches(buf)


def concat_batches(parts: list[pa.RecordBatch]) -> pa.Table:
    """One table of ``parts``; a DataError when the files disagree on types."""
    try:
        return pa.Table.from_batches(parts)
    except pa.ArrowInvalid:
        types = {str(p.schema.types) for p in parts}
        raise DataError(
            "input files disagree on the column types: " + " vs ".join(sorted(types)),
            "input files",
            "write every file of the input with the same column types",
        ) from None


def _runs(
    units: list[tuple[int, int, int]],
) -> Iterator[tuple[int, list[int], int]]:
    """Groups (file, row group, rows) units into runs read by one call.

    Consecutive row groups of one file form a run, so reading in stored
    order costs one ``iter_batches`` per file, as before shuffling existed.
    """
    run: list[int] = []
    file, rows = -1, 0
    for f, g, n in units:
        if run and f == file and g == run[-1] + 1:
            run.append(g)
            rows += n
            continue
        if run:
            yield file, run, rows
        file, run, rows = f, [g], n
    if run:
        yield file, run, rows


def short_message(e: BaseException) -> str:
    """The first line of an (Arrow) error message, at most 200 characters."""
    lines = str(e).strip().splitlines()
    return (lines[0] if lines else type(e).__name__)[:200].rstrip(": ")


def locate_row(files: list[str], file_rows: list[int], row: int) -> str:
    """``row index R of FILE`` for row ``row`` over ``files`` of ``file_rows`` rows."""
    offset = 0
    for path, n in zip(files, file_rows):
        if row < offset + n:
            return f"row index {row - offset} of {path}"
        offset += n
    return f"row index {row} of the input"
