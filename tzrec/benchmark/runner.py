"""The run: which cases, in which order, how often; then the report.

Every case runs once per repeat. Repeats alternate the order of the cases
(forward, then backward, ...), so each pair of cases being compared runs
A B ... B A: a machine load that drifts during the run weighs on both
alike, and ratios are taken per repeat (see :mod:`tzrec.benchmark.report`).
"""

from __future__ import annotations

import dataclasses
import functools
import logging
import os
import platform
import time
from collections.abc import Callable
from typing import Any

import pyarrow as pa
import torch

from tzrec.benchmark import report
from tzrec.benchmark.data_bench import run_data
from tzrec.benchmark.lean_loop import run_lean
from tzrec.benchmark.reference_bench import run_reference
from tzrec.benchmark.train_bench import run_train
from tzrec.benchmark.workload import Workload
from tzrec.utils.dist import DistInfo

_logger = logging.getLogger("tzrec.benchmark")


@dataclasses.dataclass
class Case:
    """One measurement: a key such as ``train/4096`` and what runs it."""

    key: str
    run: Callable[[], dict[str, float]]


def primary_batch_size(workload: Workload, batch_sizes: list[int]) -> int:
    """The config's batch size when swept, else the first swept size."""
    return workload.batch_size if workload.batch_size in batch_sizes else batch_sizes[0]


def build_cases(
    workload: Workload, dist_info: DistInfo, batch_sizes: list[int], skip: set[str]
) -> list[Case]:
    """The cases of one repeat, in their forward order."""
    primary = primary_batch_size(workload, batch_sizes)
    cases = []
    for bs in batch_sizes:
        measure_eval = bs == primary and "eval" not in skip
        cases.append(
            Case(
                f"train/{bs}",
                functools.partial(
                    run_train, workload, dist_info, bs, True, measure_eval
                ),
            )
        )
        if bs == primary and "overhead" not in skip:
            cases.append(
                Case(
                    f"train_off/{bs}",
                    functools.partial(run_train, workload, dist_info, bs, False),
                )
            )
        if "reference" not in skip:
            run = functools.partial(
                run_reference, workload, dist_info, bs, measure_eval
            )
            cases.append(Case(f"reference/{bs}", run))
        if "lean" not in skip:
            cases.append(
                Case(f"lean/{bs}", functools.partial(run_lean, workload, dist_info, bs))
            )
    if "data" not in skip:
        parts = workload.data_parts()
        for fmt in ("parquet", "csv"):
            for workers in dict.fromkeys([workload.num_workers, 0]):
                run = functools.partial(
                    run_data, workload, parts, dist_info, fmt, workers
                )
                cases.append(Case(f"data/{fmt}_w{workers}", run))
    return cases


def run_all(cases: list[Case], repeats: int) -> report.Runs:
    """Runs every case ``repeats`` times, reversing the order on odd repeats."""
    runs: report.Runs = {c.key: [] for c in cases}
    for r in range(repeats):
        order = cases if r % 2 == 0 else cases[::-1]
        for case in order:
            t0 = time.perf_counter()
            result = case.run()
            runs[case.key].append(result)
            rate = result.get("samples_per_s", result.get("rows_per_s", 0.0))
            _logger.info(
                "[bench] repeat %d/%d %s: %.0f/s (%.1fs)",
                r + 1,
                repeats,
                case.key,
                rate,
                time.perf_counter() - t0,
            )
    return runs


def context(
    workload: Workload, dist_info: DistInfo, batch_sizes: list[int], args: Any
) -> dict:
    """What the numbers depend on: sizes, threads, versions, the machine."""
    sizes = workload.sizes
    return {
        "bench": "tzrec.benchmark",
        "tiny": bool(args.tiny),
        "device": str(dist_info.device),
        "world_size": dist_info.world_size,
        "config": str(workload.config_path),
        "int_ranges": workload.int_ranges,
        "model": workload.base.model_config.WhichOneof("model"),
        "rows": sizes.num_rows,
        "eval_rows": sizes.num_eval_rows,
        "batch_size": primary_batch_size(workload, batch_sizes),
        "batch_sizes": batch_sizes,
        "steps": {str(b): sizes.steps(b) for b in batch_sizes},
        "warmup_steps": sizes.warmup_steps,
        "log_every_steps": sizes.log_every_steps,
        "num_workers": workload.num_workers,
        "repeats": args.repeats,
        "torch_threads": torch.get_num_threads(),
        "cpu_count": os.cpu_count(),
        "omp_num_threads": os.environ.get("OMP_NUM_THREADS"),
        "omp_wait_policy": os.environ.get("OMP_WAIT_POLICY"),
        "malloc_env": {k: v for k, v in os.environ.items() if k.startswith("MALLOC_")},
        "pyarrow_cpu_count": pa.cpu_count(),
        "torch": torch.__version__,
        "python": platform.python_version(),
    }


def benchmark(
    workload: Workload, dist_info: DistInfo, batch_sizes: list[int], args: Any
) -> dict:
    """Runs the benchmark and returns its result (see :func:`report.build_result`)."""
    skip = set(args.skip)
    load_before = list(os.getloadavg())
    t0 = time.perf_counter()
    cases = build_cases(workload, dist_info, batch_sizes, skip)
    runs = run_all(cases, args.repeats)
    meta = context(workload, dist_info, batch_sizes, args)
    meta.update(
        load_before=load_before,
        load_after=list(os.getloadavg()),
        wall_s=time.perf_counter() - t0,
    )
    primary = primary_batch_size(workload, batch_sizes)
    return report.build_result(runs, meta, primary, workload.num_workers)
