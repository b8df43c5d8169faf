"""python -m tzrec.benchmark: tzrec's training speed against a hand-written loop.

On generated Criteo-like data (1M train rows, 100k eval rows; generated once
into ``--data_dir`` and reused) it measures, interleaved in one run so that
machine drift weighs on every case alike:

(a) ``train``: the real ``train_eval`` session (the Trainer,
    DataLoader workers, Monitor with TensorBoard and the configured train
    metrics, logging every 100 steps), samples/s over the steps after the
    warm-up; the final checkpoint and evaluation stay out of the window;
(b) ``lean``: a plain forward/loss/backward/step loop on the same model,
    optimizers and batches, the batches held in memory;
(c) ``data``: data loading alone, Parquet and CSV, with the configured
    workers and with none, rows/s;
(d) ``eval``: the train run's final evaluation with the real eval metrics;
(e) monitoring overhead: (a) against (a) with TensorBoard and train metrics
    off, ``(t_default - t_off) / t_off`` per step;
(f) ``reference``: the independent reference of :mod:`tzrec.benchmark.reference`
    (the same architecture written directly on torchrec) on the same rows,
    as many steps, evaluated on the same eval rows. ``train_vs_reference``
    (train samples/s over reference samples/s, per repeat) is the headline;
    ``eval_auc`` gives both AUCs so a faster tzrec cannot be another model.

``--model deepfm|dlrm|dcn_v2|wide_and_deep`` benchmarks the bundled
Criteo-shaped config of that model (tzrec/benchmark/configs/) on data whose
count columns have Criteo-like ranges (``data/benchmark_criteo``).

Each case runs ``--repeats`` times; the table and the JSON line give medians,
min/max and spread, and ratios taken per repeat. Stdout holds the table and,
last, one JSON line; progress goes to stderr.

Usage::

    python -m tzrec.benchmark                        # the quickstart DeepFM
    python -m tzrec.benchmark --model deepfm         # issue 13's Criteo DeepFM
    python -m tzrec.benchmark --batch_sizes 1024,4096,16384
    python -m tzrec.benchmark --pipeline_config_path my.config --repeats 5
    python -m tzrec.benchmark --tiny                 # seconds; what the tests run
    python -m tzrec.benchmark --skip data,overhead --torch_threads 1

With a CUDA device the same cases run on it (the lean loop's batches are
moved there up front; windows end with a synchronise).
"""

from __future__ import annotations

import argparse
import dataclasses
import shutil
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING

from tzrec.utils.cli import make_parser, run_main
from tzrec.utils.errors import ConfigError

if TYPE_CHECKING:
    from tzrec.benchmark.workload import Sizes

_DEFAULT_CONFIG = (
    Path(__file__).resolve().parents[2] / "experiments" / "deepfm_synthetic.config"
)
_DEFAULT_DATA_DIR = "data/benchmark"
_CRITEO_DATA_DIR = "data/benchmark_criteo"
_CONFIG_DIR = Path(__file__).resolve().parent / "configs"
_TINY_BATCH_SIZE = 512


def build_parser() -> argparse.ArgumentParser:
    """The benchmark's flags (no heavy imports: a bad flag answers at once)."""
    p = make_parser(
        "python -m tzrec.benchmark", __doc__.splitlines()[0].split(": ", 1)[1]
    )
    p.add_argument(
        "--pipeline_config_path",
        default=str(_DEFAULT_CONFIG),
        help="the model to benchmark",
    )
    p.add_argument(
        "--model",
        default=None,
        help="a bundled Criteo-shaped config instead: deepfm, dlrm, dcn_v2 or "
        "wide_and_deep",
    )
    p.add_argument(
        "--data_dir",
        default=None,
        help=f"synthetic data cache (default {_DEFAULT_DATA_DIR}; --tiny: temporary)",
    )
    p.add_argument(
        "--batch_sizes",
        default=None,
        help="comma-separated sweep for train and lean (default: the config's)",
    )
    p.add_argument(
        "--repeats", type=int, default=None, help="runs per case (default 3; --tiny: 1)"
    )
    p.add_argument(
        "--num_rows",
        type=int,
        default=None,
        help="train rows to generate (default 1000000)",
    )
    p.add_argument(
        "--window_rows",
        type=int,
        default=None,
        help="rows per timed train window (default 409600)",
    )
    p.add_argument(
        "--warmup_steps",
        type=int,
        default=None,
        help="untimed steps first (default 10)",
    )
    p.add_argument(
        "--num_workers",
        type=int,
        default=None,
        help="DataLoader workers (default: the config's)",
    )
    p.add_argument(
        "--torch_threads",
        type=int,
        default=0,
        help="torch.set_num_threads in this process (0: torch's default)",
    )
    p.add_argument(
        "--skip",
        default="",
        help="comma-separated cases to leave out: reference, lean, overhead, data, "
        "eval",
    )
    p.add_argument(
        "--tiny",
        action="store_true",
        help="20k rows, batch 512, a few steps, one repeat: checks that it runs",
    )
    p.add_argument(
        "--output_json", default=None, help="also write the JSON line to this file"
    )
    return p


def _sizes(args: argparse.Namespace) -> Sizes:
    from tzrec.benchmark.workload import TINY, Sizes

    sizes = TINY if args.tiny else Sizes()
    edits = {
        "num_rows": args.num_rows,
        "window_rows": args.window_rows,
        "warmup_steps": args.warmup_steps,
    }
    sizes = dataclasses.replace(
        sizes, **{k: v for k, v in edits.items() if v is not None}
    )
    if args.num_rows is not None:
        sizes = dataclasses.replace(sizes, num_eval_rows=max(1, args.num_rows // 10))
    return sizes


def _parse_lists(args: argparse.Namespace) -> None:
    from tzrec.benchmark import SKIPPABLE

    args.skip = [s.strip() for s in args.skip.split(",") if s.strip()]
    bad = [s for s in args.skip if s not in SKIPPABLE]
    if bad:
        raise ConfigError(
            f"unknown case {bad[0]!r}", "--skip", f"use {', '.join(SKIPPABLE)}"
        )
    try:
        args.batch_sizes = (
            [int(b) for b in args.batch_sizes.split(",")] if args.batch_sizes else None
        )
    except ValueError:
        raise ConfigError(
            "not a list of integers", "--batch_sizes", "e.g. --batch_sizes 1024,4096"
        ) from None
    if args.model is not None:
        from tzrec.benchmark import CRITEO_MODELS

        if args.model not in CRITEO_MODELS:
            raise ConfigError(
                f"unknown model {args.model!r}",
                "--model",
                f"use one of {', '.join(CRITEO_MODELS)}",
            )
        args.pipeline_config_path = str(_CONFIG_DIR / f"criteo_{args.model}.config")
    if args.repeats is None:
        args.repeats = 1 if args.tiny else 3
    if args.repeats < 1:
        raise ConfigError("repeats must be at least 1", "--repeats", "e.g. --repeats 3")


def main(args: argparse.Namespace) -> int:
    """Runs the benchmark; prints the table and one JSON line."""
    _parse_lists(args)
    import torch

    if args.torch_threads:
        torch.set_num_threads(args.torch_threads)
    from tzrec.benchmark import report
    from tzrec.benchmark.runner import benchmark
    from tzrec.benchmark.workload import Workload
    from tzrec.utils.dist import init_distributed
    from tzrec.utils.logging import setup_logging

    dist_info = init_distributed()
    setup_logging(None, dist_info.rank)
    default_dir = _CRITEO_DATA_DIR if args.model else _DEFAULT_DATA_DIR
    data_dir = args.data_dir or (
        tempfile.mkdtemp(prefix="tzrec_bench_data_") if args.tiny else default_dir
    )
    try:
        workload = Workload(
            args.pipeline_config_path,
            data_dir,
            _sizes(args),
            args.num_workers,
            int_ranges="criteo" if args.model else "small",
        )
        default = [_TINY_BATCH_SIZE] if args.tiny else [workload.batch_size]
        result = benchmark(workload, dist_info, args.batch_sizes or default, args)
    finally:
        if args.tiny and not args.data_dir:
            shutil.rmtree(data_dir, ignore_errors=True)
    if dist_info.is_rank0:
        line = report.json_line(result)
        print(report.table(result))
        print(line, flush=True)
        if args.output_json:
            with open(args.output_json, "w") as f:
                f.write(line + "\n")
    return 0


if __name__ == "__main__":
    run_main(main, build_parser())
