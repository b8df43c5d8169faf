"""tzrec's model path against the independent reference, op by op.

Both train on the same pre-built batches of the benchmark's Criteo-shaped
data (``python -m tzrec.benchmark --model M`` writes it): tzrec's model in a
bare forward/loss/backward/step loop (the benchmark's lean loop) and the
torchrec-only reference. Prints samples/s of each, interleaved over repeats,
then torch.profiler's top ops by self CPU time for ``--profile_steps`` steps
of each.

    .venv/bin/python -m tzrec.benchmark.profile_model_path [--model deepfm]
        [--batch_size 4096] [--steps 30] [--repeats 2] [--profile_steps 10]
"""

from __future__ import annotations

import argparse
import os
import statistics
import time
from typing import cast

import torch

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def _tzrec_runner(workload, dist_info, batch_size: int, count: int):
    from tzrec.benchmark.lean_loop import lean_optimizer, prebuilt_batches
    from tzrec.train.setup import build_model_parts

    config = workload.config(batch_size)
    parts = build_model_parts(config, dist_info)
    opt = lean_optimizer(parts.dmp, config.train_config.dense_optimizer)
    batches = prebuilt_batches(workload, parts, dist_info, batch_size, count)

    def step(i: int) -> None:
        batch = batches[i % len(batches)]
        preds = parts.dmp(batch)
        loss = cast(torch.Tensor, sum(parts.model.loss(preds, batch).values()))
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()

    parts.dmp.train()
    return step


def _reference_runner(workload, dist_info, batch_size: int, count: int):
    import torch.nn.functional as F

    from tzrec.benchmark import reference as ref
    from tzrec.benchmark.reference_bench import BatchAdapter, build_reference
    from tzrec.optim.build import dense_optimizer_factory

    config = workload.config(batch_size)
    adapter = BatchAdapter(workload)
    batches = adapter.batches(workload, dist_info, batch_size, "train", count)
    torch.manual_seed(config.train_config.seed)
    model = build_reference(config, adapter.features, adapter.num_dense)
    trainer = ref.shard(
        model,
        dist_info.device,
        sparse_lr=config.train_config.sparse_optimizer.adagrad_optimizer.lr,
        dense_optimizer=dense_optimizer_factory(config.train_config.dense_optimizer),
    )

    def step(i: int) -> None:
        b = batches[i % len(batches)]
        logits = trainer.dmp(b.sparse, b.dense)
        loss = F.binary_cross_entropy_with_logits(logits.squeeze(1), b.labels)
        trainer.optimizer.zero_grad(set_to_none=True)
        loss.backward()
        trainer.optimizer.step()

    trainer.dmp.train()
    return step


def _rate(step, steps: int, batch_size: int) -> float:
    for i in range(3):
        step(i)
    t0 = time.perf_counter()
    for i in range(steps):
        step(i)
    return steps * batch_size / (time.perf_counter() - t0)


def _profile(name: str, step, steps: int, top: int) -> None:
    from torch.profiler import ProfilerActivity, profile

    with profile(activities=[ProfilerActivity.CPU]) as prof:
        for i in range(steps):
            step(i)
    print(f"\n== {name}: top ops by self CPU over {steps} steps")
    print(prof.key_averages().table(sort_by="self_cpu_time_total", row_limit=top))


def main() -> None:
    """Parses flags, measures both, profiles both."""
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--model", default="deepfm")
    p.add_argument("--batch_size", type=int, default=4096)
    p.add_argument("--steps", type=int, default=30)
    p.add_argument("--repeats", type=int, default=2)
    p.add_argument("--profile_steps", type=int, default=10)
    p.add_argument("--top", type=int, default=25)
    p.add_argument("--data_dir", default=os.path.join(REPO, "data/benchmark_criteo"))
    args = p.parse_args()

    from tzrec.benchmark.workload import Sizes, Workload
    from tzrec.utils.dist import init_distributed

    dist_info = init_distributed()
    config = os.path.join(REPO, f"tzrec/benchmark/configs/criteo_{args.model}.config")
    workload = Workload(config, args.data_dir, Sizes(), int_ranges="criteo")
    count = args.steps + 3
    runners = {
        "tzrec": _tzrec_runner(workload, dist_info, args.batch_size, count),
        "reference": _reference_runner(workload, dist_info, args.batch_size, count),
    }
    rates: dict[str, list[float]] = {k: [] for k in runners}
    for r in range(args.repeats):
        order = list(runners) if r % 2 == 0 else list(runners)[::-1]
        for name in order:
            rates[name].append(_rate(runners[name], args.steps, args.batch_size))
    ratios = [a / b for a, b in zip(rates["tzrec"], rates["reference"])]
    for name, values in rates.items():
        print(f"{name}: {[round(v) for v in values]} samples/s")
    ratio = statistics.median(ratios)
    print(f"tzrec / reference (median of paired repeats): {ratio:.3f}")
    if args.profile_steps:
        for name, step in runners.items():
            _profile(name, step, args.profile_steps, args.top)


if __name__ == "__main__":
    main()
