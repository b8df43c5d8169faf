"""Dense optimizer step time, torch's default vs ``fused: true``; save hook cost.

Also the per-step cost of the event-time save hook when no trigger is set.

Run: ``python -m tzrec.benchmark.dense_optim_bench [--rounds 5] [--steps 200]``.
Parameters are shaped like the quickstart DeepFM's dense head (an MLP
672-256-128-64-1). Variants run interleaved, round by round, so a busy
machine slows each alike; CPU time (process_time) is printed beside wall time.
"""

from __future__ import annotations

import argparse
import time
from types import SimpleNamespace

import torch
from google.protobuf import text_format

from tzrec.optim.dense import dense_optimizer_factory
from tzrec.protos import optimizer_pb2
from tzrec.train.save_cadence import EventTimeSaveCadence, batch_event_time

_SHAPES = [(256, 672), (256,), (128, 256), (128,), (64, 128), (64,), (1, 64), (1,)]
_KINDS = {
    "adam": "adam_optimizer { lr: 0.001 }",
    "adamw": "adamw_optimizer { lr: 0.001 weight_decay: 0.01 }",
    "sgd_momentum": "sgd_optimizer { lr: 0.01 momentum: 0.9 }",
    "adagrad": "adagrad_optimizer { lr: 0.01 }",
}


def _optimizer(text: str, fused: bool) -> tuple[torch.optim.Optimizer, list]:
    cfg = text_format.Parse(text, optimizer_pb2.DenseOptimizer())
    kind = cfg.WhichOneof("optimizer")
    getattr(cfg, kind).fused = fused
    params = [torch.nn.Parameter(torch.randn(s) * 0.01) for s in _SHAPES]
    for p in params:
        p.grad = torch.randn_like(p) * 0.01
    return dense_optimizer_factory(cfg)(params), params


def _time_steps(opt: torch.optim.Optimizer, steps: int) -> tuple[float, float]:
    opt.step()  # state allocation outside the timing
    c0, w0 = time.process_time(), time.perf_counter()
    for _ in range(steps):
        opt.step()
    return (time.process_time() - c0) / steps, (time.perf_counter() - w0) / steps


def _hook_cost(calls: int) -> float:
    """Seconds per call of the loop's save_due path with no trigger configured."""
    cadence = EventTimeSaveCadence()
    batch = SimpleNamespace(extras={})
    t0 = time.perf_counter()
    for step in range(calls):
        cadence.due(step, batch_event_time(batch, ""))
    return (time.perf_counter() - t0) / calls


def main() -> None:
    """Prints per-step times of each optimizer, default vs fused."""
    ap = argparse.ArgumentParser()
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--steps", type=int, default=200)
    args = ap.parse_args()
    torch.manual_seed(0)
    cpu: dict[tuple[str, bool], list[float]] = {}
    wall: dict[tuple[str, bool], list[float]] = {}
    for _ in range(args.rounds):
        for name, text in _KINDS.items():
            for fused in (False, True):
                opt, _params = _optimizer(text, fused)
                c, w = _time_steps(opt, args.steps)
                cpu.setdefault((name, fused), []).append(c)
                wall.setdefault((name, fused), []).append(w)
    print(
        f"torch {torch.__version__}, {torch.get_num_threads()} threads, "
        f"{args.rounds} rounds x {args.steps} steps (median per step)"
    )
    print(
        f"{'optimizer':14} {'default cpu ms':>15} {'fused cpu ms':>13} "
        f"{'cpu ratio':>10} {'wall ratio':>11}"
    )
    for name in _KINDS:
        d, f = _median(cpu[(name, False)]), _median(cpu[(name, True)])
        dw, fw = _median(wall[(name, False)]), _median(wall[(name, True)])
        print(
            f"{name:14} {d * 1e3:15.3f} {f * 1e3:13.3f} {f / d:10.2f} {fw / dw:11.2f}"
        )
    print(
        f"save_due hook, no timestamp trigger: {_hook_cost(100_000) * 1e6:.2f} us/step"
    )


def _median(xs: list[float]) -> float:
    s = sorted(xs)
    return s[len(s) // 2]


if __name__ == "__main__":
    main()
