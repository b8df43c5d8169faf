"""Micro-benchmark: the monitor's cost per training step on this machine.

Times Monitor.on_step on steps that do not log (the common case: device adds
only) and on log steps (reduction, one host read, TensorBoard write, console
line), plus the per-batch cost of a decayed train AUC update. Prints a table
and one JSON line.

    .venv/bin/python -m tzrec.benchmark.bench_monitor [--batch_size 4096] [--device cpu]
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import logging
import statistics
import tempfile
import time

import torch

from tzrec.config.settings import MonitorSettings, monitor_settings
from tzrec.metrics.auc import AUC, DecayAUC
from tzrec.metrics.train_metric_wrapper import TrainMetricWrapper
from tzrec.monitor.monitor import Monitor, StepTimings
from tzrec.protos import pipeline_pb2


def _per_call_us(fn, calls: int, repeats: int = 5) -> float:
    """Median over repeats of the mean microseconds per call."""
    results = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        for _ in range(calls):
            fn()
        results.append((time.perf_counter() - t0) / calls * 1e6)
    return statistics.median(results)


def _settings(batch_size: int, log_every: int, log_secs: float) -> MonitorSettings:
    """The default monitor settings with this benchmark's cadence."""
    return dataclasses.replace(
        monitor_settings(pipeline_pb2.EasyRecConfig()),
        batch_size=batch_size,
        log_every_steps=log_every,
        log_every_secs=log_secs,
        best=None,
    )


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize()


def main() -> None:
    """Prints the per-call cost of each monitor path."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batch_size", type=int, default=4096)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--steps", type=int, default=2000)
    args = parser.parse_args()
    device = torch.device(args.device)
    logging.getLogger("tzrec").setLevel(logging.WARNING)  # keep the table readable
    torch.manual_seed(0)
    preds = torch.rand(args.batch_size, device=device)
    labels = (torch.rand(args.batch_size, device=device) < 0.3).long()
    losses = {
        "bce": torch.tensor(0.5, device=device),
        "l2": torch.tensor(0.1, device=device),
    }
    timings = StepTimings(0.001, 0.01, 0.002)
    metric = TrainMetricWrapper(DecayAUC(), decay_rate=0.9, decay_step=100)
    metric.update(preds, labels)

    with tempfile.TemporaryDirectory() as model_dir:
        big = 10**9  # log_every_steps so large that no step logs
        quiet = Monitor(model_dir, _settings(args.batch_size, big, 1.0), is_rank0=True)
        quiet.on_train_start()
        quiet.on_step(
            1, 0, losses, [0.1, 0.01], {"auc": metric}, timings
        )  # first step logs
        step = iter(range(2, 10**9))

        def no_log() -> None:
            quiet.on_step(next(step), 0, losses, [0.1, 0.01], {"auc": metric}, timings)

        no_log_us = _per_call_us(no_log, args.steps)
        _sync(device)
        quiet.close()

        loud = Monitor(model_dir, _settings(args.batch_size, 1, 0.0), is_rank0=True)
        loud.on_train_start()
        step2 = iter(range(1, 10**9))

        def log() -> None:
            loud.on_step(next(step2), 0, losses, [0.1, 0.01], {"auc": metric}, timings)

        logging.getLogger("tzrec").setLevel(
            logging.ERROR
        )  # time the formatting, not the terminal
        log_us = _per_call_us(log, max(50, args.steps // 20))
        loud.close()

    auc_update_us = _per_call_us(lambda: metric.update(preds, labels), 200)
    _sync(device)
    plain = AUC()
    eval_auc_us = _per_call_us(lambda: plain.update(preds, labels), 200)
    _sync(device)
    result = {
        "bench": "monitor_overhead",
        "device": str(device),
        "batch_size": args.batch_size,
        "on_step_no_log_us": round(no_log_us, 2),
        "on_step_log_us": round(log_us, 1),
        "amortised_per_step_us_log_every_100": round(no_log_us + log_us / 100, 2),
        "train_auc_update_us": round(auc_update_us, 1),
        "eval_auc_update_us": round(eval_auc_us, 1),
        "torch": torch.__version__,
        "threads": torch.get_num_threads(),
    }
    for key, value in result.items():
        print(f"{key:>38}: {value}")
    print(json.dumps(result))


if __name__ == "__main__":
    main()
