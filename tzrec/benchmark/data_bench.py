"""Case (c): data loading alone, through the real dataset and DataLoader.

Rows per second of a pass over the train split (Parquet or the CSV copy),
with a given number of DataLoader workers, batches built exactly as training
builds them and then dropped: no model, no training. The pass includes the
workers' start, as every training epoch does; ``first_batch_s`` says how much
of it that was.
"""

from __future__ import annotations

import time

from tzrec.benchmark.workload import Workload
from tzrec.datasets.dataset import TzrecDataset
from tzrec.train.setup import ModelParts, build_dataset, loader_for
from tzrec.utils.dist import DistInfo


def run_data(
    workload: Workload,
    parts: ModelParts,
    dist_info: DistInfo,
    fmt: str,
    num_workers: int,
) -> dict[str, float]:
    """One pass of the train split; returns ``rows_per_s`` and ``first_batch_s``.

    Args:
        workload: data and config.
        parts: features and model (the meta-device model of
            :meth:`Workload.data_parts` suffices).
        dist_info: this process's rank.
        fmt: ``parquet`` or ``csv``.
        num_workers: DataLoader workers (0: read in this process).
    """
    config = workload.config(workload.batch_size, fmt)
    config.data_config.num_workers = num_workers
    dataset = build_dataset(config, parts, config.train_input_path, dist_info, False)
    limit = _batch_limit(dataset, workload.sizes.data_rows)
    _ = dataset.total_rows  # a CSV is counted once, at startup: not timed
    rows, first = 0, None
    t0 = time.perf_counter()
    for i, batch in enumerate(loader_for(dataset, config)):
        rows += batch.batch_size
        if first is None:
            first = time.perf_counter() - t0
        if limit and i + 1 >= limit:
            break
    seconds = time.perf_counter() - t0
    return {"rows_per_s": rows / seconds, "first_batch_s": first or 0.0}


def _batch_limit(dataset: TzrecDataset, rows: int) -> int:
    """Batches to read for ``rows`` rows (0: the whole split)."""
    return -(-rows // dataset.batch_size) if rows else 0
