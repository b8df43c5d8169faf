"""The DataLoader of Batches: files sharded by rank and worker, prefetched.

Each (rank, worker) pair owns a contiguous share of the epoch's rows. The
DataLoader returns worker batches round-robin in worker order, dropping workers
that have finished, so the batches of an epoch have one fixed order; a resumed
run skips exactly the batches it already consumed (see :func:`worker_skips`).
A new DataLoader always asks worker 0 first, so after a stop at a step that is
not a multiple of the worker count, worker ids are rotated to put the share
whose turn it is first (see :func:`share_of_worker`).

With ``shuffle``, each epoch reads the row groups (Parquet) or files (CSV) in
an order drawn from (seed, epoch), and each share permutes its rows within
windows of ``shuffle_buffer_size`` batches, seeded by (seed, epoch, share,
window). A window's content depends on nothing read before it, so a resume
reads only the window it stops in; memory is one window.
"""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
import pyarrow as pa
import torch
from torch.utils.data import DataLoader, IterableDataset, get_worker_info

from tzrec.datasets.batch import Batch, BatchBuilder
from tzrec.datasets.csv_reader import CsvReader
from tzrec.datasets.reader import (
    ParquetReader,
    Share,
    batches_per_share,
    check_share_rows,
    concat_batches,
    list_files,
    rebatch,
    share_range,
)
from tzrec.protos import data_pb2
from tzrec.utils.errors import ConfigError, DataError

_ARROW_TYPES = {
    data_pb2.INT32: pa.int32(),
    data_pb2.INT64: pa.int64(),
    data_pb2.STRING: pa.string(),
    data_pb2.FLOAT: pa.float32(),
    data_pb2.DOUBLE: pa.float64(),
}


def worker_skips(batches_per_worker: list[int], consumed: int) -> list[int]:
    """Batches each worker had delivered after ``consumed`` loader batches.

    The loader yields round k of every worker still having a k-th batch, in
    worker order. Returns per-worker counts.
    """
    skips = [0] * len(batches_per_worker)
    remaining = consumed
    k = 0
    while remaining > 0:
        active = [w for w, n in enumerate(batches_per_worker) if n > k]
        if not active:
            break
        for w in active[:remaining]:
            skips[w] += 1
        remaining -= min(remaining, len(active))
        k += 1
    return skips


def share_of_worker(worker: int, num_workers: int, consumed: int) -> int:
    """Which of the rank's worker shares DataLoader worker ``worker`` reads.

    After ``consumed`` batches, round-robin continues with share
    ``consumed % num_workers``; the new loader starts at worker 0, so worker
    ``w`` takes share ``(w + consumed) % num_workers``. All shares hold the
    same batch count, so this rotation keeps the uninterrupted order to the end.
    """
    return (worker + consumed) % max(num_workers, 1)


def unit_order(num_units: int, seed: int, epoch: int) -> list[int]:
    """The epoch's reading order of row groups / files (the same on all ranks)."""
    rng = np.random.default_rng([seed, epoch, 0x5EED])
    return rng.permutation(num_units).tolist()


class TzrecDataset(IterableDataset):
    """Streams Batches for one rank.

    Args:
        input_path: files, directories or globs (comma-separated).
        data_config: the pipeline's DataConfig.
        builder: turns record batches into Batches.
        batch_size: rows per batch.
        rank: this process's rank.
        world_size: number of ranks.
        num_workers: DataLoader workers (0: read in the main process).
        shuffle: new row-group order and row mixing every epoch.
        shuffle_buffer_size: batches mixed together when shuffling (0: rows
            keep their order; only row groups / files are reordered).
        seed: the run seed; with the epoch it fixes the shuffled order.

    """

    def __init__(
        self,
        input_path: str,
        data_config: data_pb2.DataConfig,
        builder: BatchBuilder,
        batch_size: int,
        rank: int = 0,
        world_size: int = 1,
        num_workers: int = 0,
        shuffle: bool = False,
        shuffle_buffer_size: int = 32,
        seed: int = 0,
    ) -> None:
        super().__init__()
        self.builder = builder
        self.batch_size = batch_size
        self.rank = rank
        self.world_size = world_size
        self.num_workers = num_workers
        self.skip_batches = 0
        self.epoch = 0
        self.shuffle = shuffle
        self.seed = seed
        self.shuffle_buffer_size = shuffle_buffer_size
        kind = data_config.dataset_type
        self.reader: ParquetReader | CsvReader
        if kind == data_pb2.ParquetDataset:
            self.reader = ParquetReader(
                list_files(input_path, (".parquet",)), builder.columns
            )
        elif kind == data_pb2.CsvDataset:
            names = [f.input_name for f in data_config.input_fields] or None
            types = {
                f.input_name: _ARROW_TYPES[f.input_type]
                for f in data_config.input_fields
                if f.input_type in _ARROW_TYPES
            }
            self.reader = CsvReader(
                list_files(input_path, (".csv", ".txt")),
                builder.columns,
                data_config.delimiter,
                data_config.with_header,
                names,
                types,
            )
        else:
            raise ConfigError(
                f"dataset_type {data_pb2.DatasetType.Name(kind)} is not supported",
                "data_config.dataset_type",
                "use ParquetDataset or CsvDataset",
            )
        self._check_rows(input_path)

    def _check_rows(self, input_path: str) -> None:
        """Every (rank, worker) share must get rows; fails before any step."""
        check_share_rows(self.total_rows, self.world_size, self.num_workers, input_path)

    @property
    def total_rows(self) -> int:
        """Rows across all ranks (a CSV is counted once, by a streaming pass)."""
        return self.reader.total_rows

    def _shares(self) -> int:
        return self.world_size * max(self.num_workers, 1)

    def batches_per_worker(self) -> list[int]:
        """Batch count of each of this rank's workers (all equal)."""
        per_share = batches_per_share(self.total_rows, self._shares(), self.batch_size)
        return [per_share] * max(self.num_workers, 1)

    def num_batches(self) -> int:
        """Batches this rank yields per epoch; the same on every rank."""
        return sum(self.batches_per_worker())

    def layout(self) -> dict[str, int | bool]:
        """What fixes the epoch's batch order; a resume needs the same."""
        return {
            "rows": self.total_rows,
            "batch_size": self.batch_size,
            "world_size": self.world_size,
            "num_workers": max(self.num_workers, 1),
            "shuffle": self.shuffle,
            "shuffle_buffer_size": self.shuffle_buffer_size if self.shuffle else 0,
            "seed": self.seed if self.shuffle else 0,
        }

    def rows_read(self, consumed: int) -> int:
        """Rows all ranks have read after each consumed ``consumed`` batches.

        Arithmetic on the share sizes (no communication): every rank consumes
        the same number of batches per step, and a share's last batch holds
        whatever rows its earlier batches left.
        """
        counts = self.batches_per_worker()
        taken = worker_skips(counts, min(consumed, sum(counts)))
        w = len(counts)
        rows = 0
        for rank in range(self.world_size):
            for worker, k in enumerate(taken):
                start, end = share_range(
                    self.total_rows, Share(rank * w + worker, self._shares())
                )
                rows += end - start if k >= counts[worker] else k * self.batch_size
        return rows

    def __iter__(self) -> Iterator[Batch]:
        info = get_worker_info()
        w = max(self.num_workers, 1)
        loader_worker = info.id if info is not None else 0
        worker = share_of_worker(loader_worker, w, self.skip_batches)
        share = Share(self.rank * w + worker, self._shares())
        counts = self.batches_per_worker()
        skip = (
            worker_skips(counts, self.skip_batches)[worker] if self.skip_batches else 0
        )
        order = (
            unit_order(len(self.reader.units), self.seed, self.epoch)
            if self.shuffle
            else None
        )
        start, end = share_range(self.total_rows, share)
        # rows: the batch's row positions (shuffled) or its first position.
        tables: Iterator[tuple[pa.Table, np.ndarray | int]]
        if self.shuffle and self.shuffle_buffer_size > 0:
            tables = self._mixed(share, start, end, skip, counts[worker], order)
        else:
            first = start + skip * self.batch_size
            chunks = self.reader.iter_range(first, end, order)
            tables = (
                (t, first + i * self.batch_size)
                for i, t in enumerate(
                    rebatch(chunks, self.batch_size, counts[worker] - skip)
                )
            )
        for table, rows in tables:
            try:
                batch = self.builder.build(table)
            except DataError as e:
                if e.row is None:
                    raise
                row = rows + e.row if isinstance(rows, int) else int(rows[e.row])
                where = f"{e.where}, {self.reader.locate(row, order)}".lstrip(", ")
                raise DataError(e.what, where, e.fix) from None
            yield batch

    def _mixed(
        self,
        share: Share,
        start: int,
        end: int,
        skip: int,
        num_batches: int,
        order: list[int] | None,
    ) -> Iterator[tuple[pa.Table, np.ndarray]]:
        """The share's batches with rows permuted within each window.

        Yields (table, the rows' positions in the epoch's row sequence), from
        batch ``skip`` on; the last batch takes the share's leftover rows.
        """
        bs, per = self.batch_size, self.shuffle_buffer_size
        window = skip // per
        done = skip
        while done < num_batches:
            w_start = start + window * per * bs
            w_end = end if (window + 1) * per >= num_batches else w_start + per * bs
            table = concat_batches(list(self.reader.iter_range(w_start, w_end, order)))
            rng = np.random.default_rng([self.seed, self.epoch, share.index, window])
            perm = rng.permutation(w_end - w_start)
            table = table.take(perm)
            b = done - window * per
            while done < num_batches and b < per:
                lo = b * bs
                hi = w_end - w_start if done == num_batches - 1 else lo + bs
                yield table.slice(lo, hi - lo), w_start + perm[lo:hi]
                b, done = b + 1, done + 1
            window += 1


def create_dataloader(dataset: TzrecDataset, pin_memory: bool = False) -> DataLoader:
    """A DataLoader over ``dataset`` with its workers and prefetching."""
    workers = dataset.num_workers
    return DataLoader(
        dataset,
        batch_size=None,
        num_workers=workers,
        pin_memory=pin_memory and torch.cuda.is_available(),
        prefetch_factor=4 if workers else None,
        persistent_workers=False,
        multiprocessing_context="fork" if workers else None,
        # Its own generator: creating a loader would otherwise draw from the
        # global torch RNG, so a resumed run (one loader more) would drift.
        generator=torch.Generator(),
    )
