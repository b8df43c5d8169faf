"""Where train_eval loses to the lean loop: the lean loop fed three ways.

In one process, interleaved over repeats: the lean loop on pre-built batches
(as ``python -m tzrec.benchmark``), the lean loop reading the live
DataLoader with the configured workers, the same with 0 workers, and the
real train_eval session (the benchmark's case (a)). The difference between
the first two is the data path's cost to the step; between the second and
the session, the loop + monitor + metrics.

    OMP_WAIT_POLICY=PASSIVE .venv/bin/python -m tzrec.benchmark.profile_gap \
        [--batch_size 4096] [--repeats 3] [--steps 60] [--keep_freed_memory]
"""

from __future__ import annotations

import argparse
import itertools
import os
import statistics
import sys
import time
from collections.abc import Iterable
from typing import TYPE_CHECKING, cast

if TYPE_CHECKING:  # torch is imported after the allocator choice in main
    import torch

    from tzrec.datasets.batch import Batch

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def lean_live(workload, dist_info, batch_size: int, workers: int | None) -> float:
    """Lean loop samples/s; ``workers`` None: pre-built batches."""
    from tzrec.benchmark.lean_loop import lean_optimizer, prebuilt_batches
    from tzrec.train.setup import build_dataset, build_model_parts, loader_for

    sizes = workload.sizes
    n = sizes.warmup_steps + sizes.steps(batch_size)
    config = workload.config(batch_size)
    parts = build_model_parts(config, dist_info)
    opt = lean_optimizer(parts.dmp, config.train_config.dense_optimizer)
    batches: Iterable[Batch]
    if workers is None:
        batches = prebuilt_batches(workload, parts, dist_info, batch_size, n)
    else:
        config.data_config.num_workers = workers
        ds = build_dataset(config, parts, config.train_input_path, dist_info, False)
        batches = itertools.islice(loader_for(ds, config), n)
    t0 = 0.0
    for i, batch in enumerate(batches):
        if i == sizes.warmup_steps:
            t0 = time.perf_counter()
        preds = parts.dmp(batch)
        loss = cast("torch.Tensor", sum(parts.model.loss(preds, batch).values()))
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
    return (n - sizes.warmup_steps) * batch_size / (time.perf_counter() - t0)


def main() -> None:
    """Prints samples/s of each variant, interleaved over repeats."""
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--data_dir", default=os.path.join(REPO, "data/benchmark"))
    p.add_argument("--batch_size", type=int, default=4096)
    p.add_argument("--steps", type=int, default=60)
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--keep_freed_memory", action="store_true")
    args = p.parse_args()
    if args.keep_freed_memory:
        from tzrec.benchmark.profile_workers import keep_freed_memory

        keep_freed_memory()
    from tzrec.benchmark.train_bench import run_train
    from tzrec.benchmark.workload import Sizes, Workload
    from tzrec.utils.dist import init_distributed
    from tzrec.utils.logging import setup_logging

    dist_info = init_distributed()
    setup_logging(None, 0)
    sizes = Sizes(warmup_steps=5, window_rows=args.steps * args.batch_size)
    workload = Workload(os.path.join(REPO, "experiments/deepfm_synthetic.config"),
                        args.data_dir, sizes)  # fmt: skip
    bs, w = args.batch_size, workload.num_workers
    cases = {
        "lean_prebuilt": lambda: lean_live(workload, dist_info, bs, None),
        f"lean_live_w{w}": lambda: lean_live(workload, dist_info, bs, w),
        "lean_live_w0": lambda: lean_live(workload, dist_info, bs, 0),
        f"train_eval_w{w}": lambda: run_train(workload, dist_info, bs)["samples_per_s"],
    }
    results: dict[str, list[float]] = {k: [] for k in cases}
    for r in range(args.repeats):
        for name in list(cases) if r % 2 == 0 else list(cases)[::-1]:
            results[name].append(cases[name]())
            print(f"{name}: {results[name][-1]:,.0f}", file=sys.stderr, flush=True)
    base = statistics.median(results["lean_prebuilt"])
    print(f"batch {bs}, load {os.getloadavg()[0]:.1f}, OMP_WAIT_POLICY="
          f"{os.environ.get('OMP_WAIT_POLICY')}, keep_freed_memory="
          f"{args.keep_freed_memory}")  # fmt: skip
    for name, vals in results.items():
        med = statistics.median(vals)
        print(f"{name:18} {med:10,.0f} samples/s  x{med / base:.2f}  "
              f"(min {min(vals):,.0f} max {max(vals):,.0f})")  # fmt: skip


if __name__ == "__main__":
    main()
