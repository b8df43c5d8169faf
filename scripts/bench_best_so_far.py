"""What finding the best step costs per prune: whole eval log vs incremental.

Pruning runs after every checkpoint and needs the best step so far. Reading
the whole eval log each time (``tzrec.checkpoint.best.best_step``) costs O(N)
per prune and O(N^2) over a run; ``tzrec.run_dir.best.EvalLogBest`` reads
only the lines appended since the previous prune. This appends ``--evals``
records to a fresh eval log and, after each one, asks both for the best step
(interleaved, so machine noise hits both alike); it prints the CPU seconds of
each over the whole run and checks they agree.

    .venv/bin/python scripts/bench_best_so_far.py [--evals 2000 --metrics 12]
"""

from __future__ import annotations

import argparse
import logging
import os
import random
import tempfile
import time


def main() -> None:
    """Prints the figures."""
    from tzrec.checkpoint.best import best_step
    from tzrec.run_dir.best import EvalLogBest
    from tzrec.run_dir.eval_log import EvalLog

    p = argparse.ArgumentParser()
    p.add_argument("--evals", type=int, default=2000)
    p.add_argument("--metrics", type=int, default=12, help="metrics per record")
    args = p.parse_args()
    logging.getLogger("tzrec").setLevel(logging.ERROR)
    rng = random.Random(0)
    with tempfile.TemporaryDirectory() as d:
        log = EvalLog(os.path.join(d, "train_eval_result.jsonl"))
        tracked = EvalLogBest(log.path, "auc", True)
        whole = incremental = 0.0
        for i in range(1, args.evals + 1):
            metrics = {f"m{j}": rng.random() for j in range(args.metrics)}
            metrics["auc"] = rng.random()
            log.append(i * 100, metrics, epoch=0, wall_time=time.time())
            t0 = time.process_time()
            found = best_step(log.path, "auc", True)
            t1 = time.process_time()
            step = tracked.best_step()
            t2 = time.process_time()
            whole += t1 - t0
            incremental += t2 - t1
            assert found is not None and found[0] == step, (found, step)
        size = os.path.getsize(log.path)
    print(f"{args.evals} evaluations, {args.metrics + 1} metrics each, log {size} B")
    print(f"whole log per prune : {whole:8.3f} s CPU in total")
    print(f"incremental         : {incremental:8.3f} s CPU in total")
    print(f"ratio               : {whole / max(incremental, 1e-9):8.1f}x")


if __name__ == "__main__":
    main()
