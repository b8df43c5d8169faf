"""Host reads and CPU time of the metric path in real training steps.

Trains the quickstart config (experiments/deepfm_synthetic.config) in-process
on small synthetic data and counts the tensor-to-host reads (``item``,
``tolist``, ``bool``, ``float``, ``int``, ``numpy``, ``cpu``) made while the
train metrics are fed each step, and while evaluation feeds its metrics. On
a GPU each such read is a device sync; on CPU the count is the same code
path. Prints one JSON line.

Run it on two trees, interleaved, to compare (A = before, B = after)::

    for i in 1 2 3; do
      PYTHONPATH=/path/to/before \
        .venv/bin/python -m tzrec.benchmark.bench_metric_host_reads
      .venv/bin/python -m tzrec.benchmark.bench_metric_host_reads
    done
"""

from __future__ import annotations

import argparse
import contextlib
import functools
import importlib
import json
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

import torch

READS = ("item", "tolist", "__bool__", "__float__", "__int__", "numpy", "cpu")


class ReadCounter:
    """Counts host reads made while ``active`` is set."""

    def __init__(self) -> None:
        self.active = ""
        self.reads: dict[str, int] = {}
        self.cpu_s: dict[str, float] = {}
        self.calls: dict[str, int] = {}

    def install(self) -> None:
        for name in READS:
            original = getattr(torch.Tensor, name)
            setattr(torch.Tensor, name, self._counting(original))

    def _counting(self, original: Callable) -> Callable:
        @functools.wraps(original)
        def read(*args: Any, **kwargs: Any) -> Any:
            if self.active:
                self.reads[self.active] = self.reads.get(self.active, 0) + 1
            return original(*args, **kwargs)

        return read

    @contextlib.contextmanager
    def phase(self, name: str) -> Iterator[None]:
        outer, self.active = self.active, self.active or name
        t0 = time.process_time()
        try:
            yield
        finally:
            self.active = outer
            self.cpu_s[name] = self.cpu_s.get(name, 0.0) + time.process_time() - t0
            self.calls[name] = self.calls.get(name, 0) + 1

    def wrap(self, module: Any, attr: str, name: str) -> None:
        original = getattr(module, attr)

        @functools.wraps(original)
        def wrapped(*args: Any, **kwargs: Any) -> Any:
            with self.phase(name):
                return original(*args, **kwargs)

        setattr(module, attr, wrapped)


def _feed_module() -> ModuleType:
    try:
        return importlib.import_module("tzrec.metrics.feed")
    except ImportError:  # before metrics moved under tzrec/metrics
        return importlib.import_module("tzrec.train.eval_metrics_feed")


def main() -> None:
    """Runs the before/after host-read count and prints one line per case."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=300)
    parser.add_argument("--batch_size", type=int, default=512)
    args = parser.parse_args()

    import tzrec
    from tzrec import config as config_lib
    from tzrec.datasets.synthetic import generate
    from tzrec.utils.dist import init_distributed

    repo = Path(tzrec.__file__).resolve().parent.parent
    counter = ReadCounter()
    feed = _feed_module()
    counter.wrap(feed, "update_train_metrics", "train_metrics_update")
    counter.wrap(feed, "update_eval_metrics", "eval_metrics_update")
    from tzrec.monitor.train_window import TrainWindow

    counter.wrap(TrainWindow, "read", "log_step_read")
    counter.install()

    torch.set_num_threads(1)
    with tempfile.TemporaryDirectory() as tmp:
        data = Path(tmp) / "data"
        rows = args.steps * args.batch_size
        generate(str(data), num_rows=rows, num_eval_rows=4 * args.batch_size, seed=1)
        edits = {
            "train_config.num_epochs": 0,
            "train_config.num_steps": args.steps,
            "train_config.save_checkpoints_steps": args.steps,
            "train_config.log_step_count_steps": 50,
            "data_config.batch_size": args.batch_size,
            "data_config.num_workers": 0,
        }
        config = config_lib.load_pipeline_config(
            str(repo / "experiments" / "deepfm_synthetic.config"), json.dumps(edits)
        )
        config.train_input_path = str(data / "train")
        config.eval_input_path = str(data / "eval")
        config.model_dir = str(Path(tmp) / "run")
        config_lib.validate(config)
        # the session imports the feed functions by name: wrap before importing
        from tzrec.train.trainer import Trainer

        t0, c0 = time.perf_counter(), time.process_time()
        Trainer(config, init_distributed(), False).train()
        wall, cpu = time.perf_counter() - t0, time.process_time() - c0
    steps = counter.calls.get("train_metrics_update", 0)
    print(
        json.dumps(
            {
                "tree": str(repo),
                "steps": steps,
                "train_metric_reads_per_step": counter.reads.get(
                    "train_metrics_update", 0
                )
                / max(1, steps),
                "train_metric_cpu_us_per_step": 1e6
                * counter.cpu_s.get("train_metrics_update", 0.0)
                / max(1, steps),
                "log_steps": counter.calls.get("log_step_read", 0),
                "reads_per_log_step": counter.reads.get("log_step_read", 0)
                / max(1, counter.calls.get("log_step_read", 0)),
                "log_read_cpu_us": 1e6
                * counter.cpu_s.get("log_step_read", 0.0)
                / max(1, counter.calls.get("log_step_read", 0)),
                "eval_batches": counter.calls.get("eval_metrics_update", 0),
                "eval_metric_reads": counter.reads.get("eval_metrics_update", 0),
                "run_wall_s": round(wall, 2),
                "run_cpu_s": round(cpu, 2),
            }
        )
    )


if __name__ == "__main__":
    main()
