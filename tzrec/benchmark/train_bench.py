"""Cases (a), (d), (e): the real train_eval session, its steps timed.

A case builds :class:`tzrec.train.trainer.Trainer` from the edited config
and runs it: the real loop (:meth:`tzrec.train.trainer.Trainer.train`), DataLoader,
Monitor, train metrics and final checkpoint + evaluation. Only the window of
steps after the warm-up is timed, by timestamps taken right after each
``Monitor.on_step`` (the last thing a step does), so the checkpoint written
and the evaluation run at the end stay out of the train rate. The final
evaluation is the eval case: its seconds come from the session's own call to
``Monitor.on_eval``.
"""

from __future__ import annotations

import gc
import logging
import shutil
import tempfile
import time
from typing import Any

import psutil
import torch
import torch.distributed as dist

from tzrec.benchmark.rss import PeakRss
from tzrec.benchmark.workload import Workload
from tzrec.train.trainer import Trainer
from tzrec.utils.dist import DistInfo
from tzrec.utils.logging import setup_logging

_logger = logging.getLogger("tzrec.benchmark")


def cpu_seconds() -> float:
    """CPU seconds used so far by this process and its live children (workers).

    Less sensitive to other processes on the machine than wall time: it
    counts the work done (including any spin-waiting), not the waiting.
    """
    total = time.process_time()
    for child in psutil.Process().children(recursive=True):
        try:
            t = child.cpu_times()
            total += t.user + t.system
        except psutil.NoSuchProcess:
            pass
    return total


def sync(device: torch.device) -> None:
    """Waits for queued device work (a no-op on CPU)."""
    if device.type == "cuda":
        torch.cuda.synchronize(device)


class StepClock:
    """Timestamps the steps of one run through the Monitor's calls.

    Args:
        first: the last warm-up step; the window starts after it.
        last: the run's final step; the window ends with it.
        device: synchronised at both ends of the window.
    """

    def __init__(self, first: int, last: int, device: torch.device) -> None:
        self.first, self.last, self.device = first, last, device
        self.t0: float | None = None
        self.t1: float | None = None
        self.cpu0 = self.cpu1 = 0.0
        self.phases = [0.0, 0.0, 0.0]  # data wait, forward+backward, optimizer
        self.eval_seconds: float | None = None
        self.eval_metrics: dict = {}
        self.eval_steps = 0

    def wrap(self, monitor: Any) -> None:
        """Routes ``monitor``'s step and eval calls through this clock."""
        on_step, on_eval = monitor.on_step, monitor.on_eval
        on_progress = monitor.on_eval_progress

        def timed_step(step: int, *args: Any, **kwargs: Any) -> None:
            on_step(step, *args, **kwargs)
            # Monitor.on_step(step, epoch, losses, lrs, train_metrics, timings, ...)
            timings = args[4] if len(args) > 4 else kwargs.get("timings")
            self._stamp(step, timings)

        def timed_eval(
            step: int, epoch: Any, metrics: Any, seconds: Any = None, *rest: Any
        ) -> Any:
            self.eval_seconds = seconds
            self.eval_metrics = dict(metrics or {})
            return on_eval(step, epoch, metrics, seconds, *rest)

        def progress(eval_step: int) -> None:
            self.eval_steps = eval_step
            on_progress(eval_step)

        monitor.on_step, monitor.on_eval = timed_step, timed_eval
        monitor.on_eval_progress = progress

    def _stamp(self, step: int, timings: Any) -> None:
        if step == self.first:
            sync(self.device)
            self.t0 = time.perf_counter()
            self.cpu0 = cpu_seconds()
        elif self.first < step <= self.last and timings is not None:
            self.phases[0] += timings.data_wait
            self.phases[1] += timings.forward_backward
            self.phases[2] += timings.optimizer
        if step == self.last:
            sync(self.device)
            self.t1 = time.perf_counter()
            self.cpu1 = cpu_seconds()

    def seconds(self) -> float:
        """Wall seconds of the timed window."""
        if self.t0 is None or self.t1 is None:
            raise RuntimeError("the run ended before the timed window did")
        return self.t1 - self.t0


def run_train(
    workload: Workload,
    dist_info: DistInfo,
    batch_size: int,
    monitoring: bool = True,
    measure_eval: bool = False,
) -> dict[str, float]:
    """One train_eval run; returns its train (and eval) throughput.

    Args:
        workload: data and config.
        dist_info: this process's rank and device.
        batch_size: rows per step.
        monitoring: the config's monitoring, or TensorBoard and train metrics off.
        measure_eval: evaluate the whole eval set at the end and time it
            (otherwise one eval batch, to keep the run short).

    Returns:
        ``samples_per_s``, ``cpu_us_per_sample`` (this process and its
        DataLoader workers) and the window's phase shares in percent
        (``data_wait_pct``, ``fwd_bwd_pct``, ``optimizer_pct``; the rest is
        the loop, metrics and monitor), ``peak_rss_mb`` (the whole run, with
        its DataLoader workers), plus ``eval_samples_per_s`` and ``eval_auc``
        when measured.
    """
    sizes = workload.sizes
    steps = sizes.steps(batch_size)
    model_dir = _shared_temp_dir(dist_info)
    try:
        config = workload.train_config(
            batch_size, model_dir, monitoring, 0 if measure_eval else 1
        )
        setup_logging(model_dir, dist_info.rank)  # as train_eval does
        session = Trainer(config, dist_info, continue_train=False)
        clock = StepClock(
            sizes.warmup_steps, sizes.warmup_steps + steps, dist_info.device
        )
        clock.wrap(session.monitor)
        with PeakRss() as rss:
            session.train()
        seconds = clock.seconds()
        result = {"samples_per_s": steps * batch_size * dist_info.world_size / seconds}
        result["peak_rss_mb"] = rss.peak_mb
        samples = steps * batch_size
        result["cpu_us_per_sample"] = 1e6 * (clock.cpu1 - clock.cpu0) / samples
        for name, value in zip(("data_wait", "fwd_bwd", "optimizer"), clock.phases):
            result[f"{name}_pct"] = 100.0 * value / seconds
        if measure_eval and clock.eval_seconds:
            rows = session.eval_ds.total_rows
            result["eval_samples_per_s"] = rows / clock.eval_seconds
            auc = _auc_of(clock.eval_metrics)
            if auc is not None:
                result["eval_auc"] = auc
        del session
        return result
    finally:
        setup_logging(None, dist_info.rank)  # closes the run's log file
        gc.collect()
        if dist_info.world_size > 1:
            dist.barrier()  # every rank is done with the folder
        if dist_info.is_rank0:
            shutil.rmtree(model_dir, ignore_errors=True)


def _shared_temp_dir(dist_info: DistInfo) -> str:
    """A fresh temporary model_dir, the same folder on every rank (rank 0 makes it)."""
    path = [tempfile.mkdtemp(prefix="tzrec_bench_") if dist_info.is_rank0 else ""]
    if dist_info.world_size > 1:
        dist.broadcast_object_list(path, src=0)
    return path[0]


def _auc_of(metrics: dict) -> float | None:
    """The eval AUC among the session's eval metrics (``auc`` or ``<task>/auc``)."""
    for key, value in metrics.items():
        if str(key).split("/")[-1] == "auc":
            return float(value)
    return None
