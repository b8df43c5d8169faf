"""The steps since the last log step: device loss sums and host timings.

Also the one read-back that turns them into numbers.
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Mapping

import psutil
import torch
import torch.distributed as dist
from torch import Tensor

from tzrec.metrics.base import dist_active
from tzrec.metrics.train_metric_wrapper import TrainMetricWrapper
from tzrec.monitor import keys
from tzrec.monitor.cadence import Clock


@dataclasses.dataclass
class StepTimings:
    """Seconds one step spent per phase, measured by the loop.

    On a GPU, forward_backward without a synchronise measures launch time;
    the loop decides whether to pay for a sync on log steps.
    """

    data_wait: float = 0.0
    forward_backward: float = 0.0
    optimizer: float = 0.0


class TrainWindow:
    """Accumulates the steps between two log steps.

    ``add`` costs one in-place device add per loss and three float adds; it
    never reads from the device.

    Args:
        clock: monotonic seconds.
        samples_per_step: rows per step over all ranks.
    """

    def __init__(self, clock: Clock, samples_per_step: int) -> None:
        self._clock = clock
        self.samples_per_step = samples_per_step
        self._loss_sums: dict[str, Tensor] = {}
        self._phase_sums = [0.0, 0.0, 0.0]
        self._has_timings = False
        self.steps = 0
        self.t0 = clock()
        self._process = psutil.Process(os.getpid())

    def add(self, losses: Mapping[str, Tensor], timings: StepTimings | None) -> None:
        """Adds one step."""
        self.steps += 1
        for name, loss in losses.items():
            acc = self._loss_sums.get(name)
            if acc is None:
                acc = torch.zeros_like(loss, dtype=torch.float32)
                self._loss_sums[name] = acc
            acc.add_(loss.detach())  # detach: never keep the step's graph alive
        if timings is not None:
            self._has_timings = True
            self._phase_sums[0] += timings.data_wait
            self._phase_sums[1] += timings.forward_backward
            self._phase_sums[2] += timings.optimizer

    def read(
        self, train_metrics: Mapping[str, TrainMetricWrapper], is_rank0: bool
    ) -> tuple[dict[str, float], dict[str, float]]:
        """Mean losses and train metric values, reduced over ranks.

        Collectives run on every rank (same order everywhere); only rank 0
        reads the numbers back, in one device-to-host transfer.
        """
        names = list(self._loss_sums)
        parts = [self._loss_sums[n].sum() / max(1, self.steps) for n in names]
        if parts and dist_active():
            means = torch.stack(parts)
            dist.all_reduce(means)
            parts = list(means / dist.get_world_size())
        # TrainMetricWrapper.compute is a collective when distributed.
        parts += [m.compute() for m in train_metrics.values()]
        if not is_rank0 or not parts:
            return {}, {}
        device = parts[0].device
        values = torch.stack([p.to(device, torch.float64) for p in parts]).tolist()
        return dict(zip(names, values)), dict(zip(train_metrics, values[len(names) :]))

    def rank_spread(self, now: float) -> dict[str, float]:
        """Min and max over ranks of the mean step time (ms); a collective.

        Every rank must call it on the same log steps. Busy time (forward,
        backward, optimizer, data wait) is used rather than wall time, which
        the collectives equalise across ranks.
        """
        if not dist_active() or not self.steps:
            return {}
        busy = sum(self._phase_sums) if self._has_timings else now - self.t0
        device = "cuda" if dist.get_backend() == "nccl" else "cpu"
        local = torch.tensor(
            [1000.0 * busy / self.steps], dtype=torch.float64, device=device
        )
        lo, hi = local.clone(), local.clone()
        dist.all_reduce(lo, op=dist.ReduceOp.MIN)
        dist.all_reduce(hi, op=dist.ReduceOp.MAX)
        return {
            keys.PERF_RANK_STEP_MS_MIN: float(lo),
            keys.PERF_RANK_STEP_MS_MAX: float(hi),
        }

    def perf(self, now: float) -> dict[str, float]:
        """Throughput, mean step time split (ms) and memory (MB)."""
        out: dict[str, float] = {}
        elapsed = now - self.t0
        if self.steps and elapsed > 0:
            out[keys.PERF_STEPS_PER_SEC] = self.steps / elapsed
            out[keys.PERF_SAMPLES_PER_SEC] = (
                self.steps * self.samples_per_step / elapsed
            )
            out[keys.step_time_tag("total")] = 1000.0 * elapsed / self.steps
        if self.steps and self._has_timings:
            for phase, total in zip(keys.STEP_PHASES, self._phase_sums):
                out[keys.step_time_tag(phase)] = 1000.0 * total / self.steps
        out[keys.PERF_RSS_MB] = self._process.memory_info().rss / 2**20
        if torch.cuda.is_available() and torch.cuda.is_initialized():
            out[keys.PERF_CUDA_MEM_MB] = torch.cuda.memory_allocated() / 2**20
            out[keys.PERF_CUDA_MAX_MEM_MB] = torch.cuda.max_memory_allocated() / 2**20
        return out

    def reset(self, now: float) -> None:
        """Starts a new window at ``now``."""
        for acc in self._loss_sums.values():
            acc.zero_()
        self.steps = 0
        self._phase_sums = [0.0, 0.0, 0.0]
        self.t0 = now

    def exclude(self, seconds: float) -> None:
        """Leaves ``seconds`` spent outside steps (eval, saving) out of rates.

        Never moves the window start past now (a caller's duration may cover
        time before the window began).
        """
        self.t0 = min(self.t0 + seconds, self._clock())
