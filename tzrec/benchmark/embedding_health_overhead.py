"""Embedding-health overhead on the quickstart config at batch 4096.

Runs short real trainings (the Trainer, the quickstart data) alternating
health on and off, and prints (a) the time of EmbeddingHealth.compute per log
step against the mean step time of the same run (the direct share) and (b)
the steady-state step time with health on vs off (A/B, interleaved, noisy on
a shared machine).

Usage: python -m tzrec.benchmark.embedding_health_overhead [--steps 100] [--repeats 2]
(needs data/synthetic from scripts/quickstart.sh or make_synthetic_data).
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
import time
from typing import Any

from tzrec import config as config_lib
from tzrec.monitor import embedding_health
from tzrec.train.trainer import Trainer
from tzrec.utils.dist import init_distributed

EDITS = {
    "train_config.num_epochs": 0,
    "train_config.save_checkpoints_steps": 100000,
    "eval_config.num_steps": 1,
    "data_config.batch_size": 4096,
}


def one_run(steps: int, health: bool, dist_info, timings: list[float]) -> float:
    """Mean steady-state step time (ms) of one training run."""
    edits: dict[str, Any] = {**EDITS, "train_config.num_steps": steps}
    if not health:
        edits["train_config.tensorboard_summaries"] = ["no_embedding_health"]
    config = config_lib.load_pipeline_config(
        "experiments/deepfm_synthetic.config", json.dumps(edits)
    )
    with tempfile.TemporaryDirectory() as d:
        config.model_dir = d
        config_lib.validate(config)
        session = Trainer(config, dist_info, False)
        session.train()
        from tzrec.tools.runs.tb import read_scalars

        total = read_scalars(d)["perf/step_time_ms/total"]
    # steady state: skip the first two log windows (warm-up)
    return statistics.mean(v for _, v in total[2:])


def main() -> None:
    """Prints the step time with and without the health statistics."""
    p = argparse.ArgumentParser()
    p.add_argument("--steps", type=int, default=100)
    p.add_argument("--repeats", type=int, default=2)
    args = p.parse_args()
    dist_info = init_distributed()
    compute_ms: list[float] = []
    original = embedding_health.EmbeddingHealth.compute

    def timed(self, sparse):
        t0 = time.perf_counter()
        out = original(self, sparse)
        compute_ms.append(1000 * (time.perf_counter() - t0))
        return out

    embedding_health.EmbeddingHealth.compute = timed
    on, off = [], []
    for _ in range(args.repeats):
        on.append(one_run(args.steps, True, dist_info, compute_ms))
        off.append(one_run(args.steps, False, dist_info, compute_ms))
    log_every = 20  # the quickstart's log_step_count_steps
    step_ms = statistics.mean(on)
    direct = statistics.mean(compute_ms) / (log_every * step_ms)
    print(
        json.dumps(
            {
                "step_ms_health_on": on,
                "step_ms_health_off": off,
                "compute_ms_per_log_step": [round(x, 2) for x in compute_ms],
                "direct_share": round(direct, 5),
                "ab_ratio_on_over_off": round(
                    statistics.mean(on) / statistics.mean(off), 4
                ),
            }
        )
    )


if __name__ == "__main__":
    main()
