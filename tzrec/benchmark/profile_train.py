"""Where a tzrec train step spends its time: torch.profiler or cProfile.

Runs the real train_eval session (quickstart DeepFM on the benchmark's
Parquet data) and profiles the steps after the warm-up only, switched on and
off from ``Monitor.on_step``, so session build, final checkpoint and eval
stay out.

    .venv/bin/python -m tzrec.benchmark.profile_train [--mode torch|cprofile|none]
        [--steps 20] [--batch_size 4096] [--num_workers 2] [--torch_threads N]
        [--trace trace.json] [--config C]

``torch``: top ops by self CPU time, and the same time grouped (MLP matrix
multiplies, embedding lookup/backward + fused update, dense optimizer,
metrics, ...). ``cprofile``: top functions by cumulative time. ``none``: just
runs (attach ``py-spy record --pid`` or wrap it in ``py-spy record --``).
"""

from __future__ import annotations

import argparse
import cProfile
import io
import os
import pstats
import tempfile
import time

import torch

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
CONFIG = os.path.join(REPO, "experiments", "deepfm_synthetic.config")

# op-name fragment -> group, first match wins
GROUPS = [
    ("fbgemm", "embedding fwd/bwd + fused update (fbgemm)"),
    ("embedding", "embedding fwd/bwd + fused update (fbgemm)"),
    ("addmm", "MLP matmul (addmm/mm)"),
    ("aten::mm", "MLP matmul (addmm/mm)"),
    ("aten::bmm", "MLP matmul (addmm/mm)"),
    ("_foreach", "dense optimizer (foreach)"),
    ("adam", "dense optimizer (foreach)"),
    ("sort", "metrics (sort/bucketize/hist)"),
    ("bucketize", "metrics (sort/bucketize/hist)"),
    ("histc", "metrics (sort/bucketize/hist)"),
    ("bincount", "metrics (sort/bucketize/hist)"),
    ("relu", "activations"),
    ("threshold", "activations"),
    ("sigmoid", "activations"),
    ("binary_cross_entropy", "loss"),
    ("cat", "cat/stack/copies"),
    ("stack", "cat/stack/copies"),
    ("copy_", "cat/stack/copies"),
    ("to_padded", "cat/stack/copies"),
    ("split", "cat/stack/copies"),
]


def _group(name: str) -> str:
    low = name.lower()
    for frag, group in GROUPS:
        if frag in low:
            return group
    return "other"


def build_session(args: argparse.Namespace):
    """A training session on the benchmark data, shrunk by ``args``."""
    from tzrec import config as config_lib
    from tzrec.train.trainer import Trainer
    from tzrec.utils.dist import init_distributed

    config = config_lib.load_pipeline_config(args.config)
    config_lib.apply_edit_config_json(
        config,
        {
            "train_config.num_steps": args.warmup + args.steps,
            "train_config.num_epochs": 0,
            "train_config.save_checkpoints_steps": 2**31,
            "train_config.log_step_count_steps": 100,
            "eval_config.num_steps": 1,
            "data_config.batch_size": args.batch_size,
            "data_config.num_workers": args.num_workers,
        },
    )
    config.model_dir = tempfile.mkdtemp(prefix="tzrec_prof_")
    config.train_input_path = os.path.join(args.data_dir, "train")
    config.eval_input_path = os.path.join(args.data_dir, "eval")
    return Trainer(config, init_distributed(), False)


def print_torch(prof: torch.profiler.profile, top: int, wall: float) -> None:
    """The top ops by self CPU time, and their share of ``wall``, grouped."""
    events = [e for e in prof.key_averages() if e.self_cpu_time_total > 0]
    total = sum(e.self_cpu_time_total for e in events)
    print(f"profiled window: {wall:.2f}s wall, {total / 1e6:.2f}s self CPU in ops")
    print(f"{'op':60} {'self ms':>10} {'%':>6} {'calls':>7}")
    for e in sorted(events, key=lambda e: -e.self_cpu_time_total)[:top]:
        pct = 100 * e.self_cpu_time_total / total
        ms = e.self_cpu_time_total / 1e3
        print(f"{e.key[:60]:60} {ms:10.1f} {pct:6.1f} {e.count:7d}")
    groups: dict[str, float] = {}
    for e in events:
        groups[_group(e.key)] = groups.get(_group(e.key), 0.0) + e.self_cpu_time_total
    print("\ngrouped (self CPU time of ops):")
    for g, t in sorted(groups.items(), key=lambda kv: -kv[1]):
        print(f"  {g:48} {t / 1e3:10.1f} ms {100 * t / total:6.1f}%")


def main() -> None:
    """Profiles the steps after the warm-up; prints the rate and the profile."""
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--mode", choices=("torch", "cprofile", "none"), default="torch")
    p.add_argument("--config", default=CONFIG, help="the pipeline config to run")
    p.add_argument("--data_dir", default=os.path.join(REPO, "data/benchmark/parquet"))
    p.add_argument("--steps", type=int, default=20)
    p.add_argument("--warmup", type=int, default=5)
    p.add_argument("--batch_size", type=int, default=4096)
    p.add_argument("--num_workers", type=int, default=2)
    p.add_argument("--torch_threads", type=int, default=0)
    p.add_argument("--top", type=int, default=25)
    p.add_argument("--trace", default=None, help="write a chrome trace here")
    args = p.parse_args()
    if args.torch_threads:
        torch.set_num_threads(args.torch_threads)
    session = build_session(args)
    torch_prof = cprof = None
    if args.mode == "torch":
        torch_prof = torch.profiler.profile(
            activities=[torch.profiler.ProfilerActivity.CPU]
        )
    elif args.mode == "cprofile":
        cprof = cProfile.Profile()
    span = {}
    on_step = session.monitor.on_step

    def hooked(step, *a, **k):
        on_step(step, *a, **k)
        if step == args.warmup:
            span["t0"] = time.perf_counter()
            if torch_prof is not None:
                torch_prof.__enter__()
            if cprof is not None:
                cprof.enable()
        if step == args.warmup + args.steps:
            span["t1"] = time.perf_counter()
            if torch_prof is not None:
                torch_prof.__exit__(None, None, None)
            if cprof is not None:
                cprof.disable()

    session.monitor.on_step = hooked
    session.train()
    wall = span["t1"] - span["t0"]
    rate = args.steps * args.batch_size / wall
    print(f"{args.steps} steps, batch {args.batch_size}, workers {args.num_workers}, "
          f"threads {torch.get_num_threads()}: {rate:,.0f} samples/s")  # fmt: skip
    if torch_prof is not None:
        print_torch(torch_prof, args.top, wall)
        if args.trace:
            torch_prof.export_chrome_trace(args.trace)
    elif cprof is not None:
        out = io.StringIO()
        pstats.Stats(cprof, stream=out).sort_stats("cumulative").print_stats(args.top)
        print(out.getvalue())


if __name__ == "__main__":
    main()
