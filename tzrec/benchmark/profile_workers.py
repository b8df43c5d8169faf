"""Do DataLoader workers slow the training step itself? Variants side by side.

Each variant is a fresh process running the real train_eval session
(the Trainer, quickstart DeepFM, Parquet) for warm-up + N steps; repeats are
interleaved (ABC... CBA...) so machine load drifts over all variants alike.
Per variant it reports the median step time, the step's own forward+backward
and optimizer time (data wait excluded), the data wait, and CPU seconds per
step of the main process and of the workers.

    .venv/bin/python -m tzrec.benchmark.profile_workers \
        --data_dir data/benchmark/parquet \
        [--variants w0,w2,w2_t1,w2_pa1,w1,omp1] [--steps 40] [--repeats 3]

Variants: w<N> = num_workers N; _t1 = torch.set_num_threads(1) in the main
process; _pa1 = pyarrow.set_cpu_count(1) and set_io_thread_count(1) in each
worker (worker_init_fn); _mall = glibc mallopt keeping freed memory (see
keep_freed_memory); _passive = OMP_WAIT_POLICY=PASSIVE (no spinning
at OpenMP barriers; tzrec's default, set in tzrec/__init__); _spin =
libgomp's own default (spin, then sleep); omp1 = OMP_NUM_THREADS=1 for the
whole job (torch and pyarrow read it), 2 workers.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time

import tzrec  # noqa: F401 - before torch: its OpenMP default must apply

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
CONFIG = os.path.join(REPO, "experiments", "deepfm_synthetic.config")


def keep_freed_memory() -> None:
    """glibc: serve big tensors from the heap and keep freed memory (no munmap).

    By default a block over the (dynamic) mmap threshold is mmap'ed and given
    back on free, and the heap top is trimmed, so every step's large
    activations fault their pages in afresh.
    """
    import ctypes

    libc = ctypes.CDLL("libc.so.6")
    m_trim_threshold, m_mmap_threshold = -1, -3
    libc.mallopt(m_mmap_threshold, 32 * 2**20)  # the largest glibc allows
    libc.mallopt(m_trim_threshold, 2**30)


def _pyarrow_one_thread(_worker_id: int) -> None:
    import pyarrow as pa

    pa.set_cpu_count(1)
    pa.set_io_thread_count(1)


def child(
    variant: str, data_dir: str, steps: int, warmup: int, batch_size: int
) -> dict:
    """One variant's figures (the ``--child`` process)."""
    import resource

    import psutil
    import torch

    import tzrec.train.trainer as session_mod
    from tzrec import config as config_lib
    from tzrec.utils.dist import init_distributed

    workers = 2 if variant == "omp1" else int(variant.split("_")[0][1:])
    if "_mall" in variant:
        keep_freed_memory()
    if "_t1" in variant:
        torch.set_num_threads(1)
    if "_pa1" in variant:
        original = session_mod.loader_for

        def loader_for(ds, config):
            loader = original(ds, config)
            if loader.num_workers:
                loader.worker_init_fn = _pyarrow_one_thread
            return loader

        session_mod.loader_for = loader_for
    model_dir = tempfile.mkdtemp(prefix="tzrec_prof_")
    config = config_lib.load_pipeline_config(CONFIG)
    config_lib.apply_edit_config_json(
        config,
        {
            "train_config.num_steps": warmup + steps,
            "train_config.num_epochs": 0,
            "train_config.save_checkpoints_steps": 2**31,
            "train_config.log_step_count_steps": 100,
            "eval_config.num_steps": 1,
            "data_config.batch_size": batch_size,
            "data_config.num_workers": workers,
        },
    )
    config.model_dir = model_dir
    config.train_input_path = os.path.join(data_dir, "train")
    config.eval_input_path = os.path.join(data_dir, "eval")
    dist_info = init_distributed()
    session = session_mod.Trainer(config, dist_info, False)
    me = psutil.Process()
    rec: dict[str, list[float]] = {
        k: [] for k in ("t", "fb", "opt", "wait", "cpu", "wcpu", "flt")
    }
    on_step = session.monitor.on_step

    def workers_cpu() -> float:
        total = 0.0
        for c in me.children(recursive=True):
            try:
                t = c.cpu_times()
                total += t.user + t.system
            except psutil.NoSuchProcess:
                pass
        return total

    def timed(step, epoch, losses, lrs, metrics, timings, *a, **k):
        on_step(step, epoch, losses, lrs, metrics, timings, *a, **k)
        rec["t"].append(time.perf_counter())
        rec["cpu"].append(time.process_time())
        rec["wcpu"].append(workers_cpu())
        rec["flt"].append(resource.getrusage(resource.RUSAGE_SELF).ru_minflt)
        rec["fb"].append(timings.forward_backward)
        rec["opt"].append(timings.optimizer)
        rec["wait"].append(timings.data_wait)

    session.monitor.on_step = timed
    session.train()
    w = warmup
    n = len(rec["t"]) - 1 - w
    step_ms = [1e3 * (b - a) for a, b in zip(rec["t"][w:], rec["t"][w + 1 :])]
    return {
        "variant": variant,
        "torch_threads": torch.get_num_threads(),
        "samples_per_s": n * batch_size / (rec["t"][-1] - rec["t"][w]),
        "step_ms": statistics.median(step_ms),
        "fwd_bwd_ms": 1e3 * statistics.median(rec["fb"][w + 1 :]),
        "optimizer_ms": 1e3 * statistics.median(rec["opt"][w + 1 :]),
        "data_wait_ms": 1e3 * statistics.median(rec["wait"][w + 1 :]),
        "main_cpu_ms_per_step": 1e3 * (rec["cpu"][-1] - rec["cpu"][w]) / n,
        "worker_cpu_ms_per_step": 1e3 * (rec["wcpu"][-1] - rec["wcpu"][w]) / n,
        "page_faults_per_step": (rec["flt"][-1] - rec["flt"][w]) / n,
        "load": os.getloadavg()[0],
    }


def main() -> None:
    """Runs each variant in a child process, interleaved; prints the medians."""
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--data_dir", default=os.path.join(REPO, "data/benchmark/parquet"))
    p.add_argument("--variants", default="w0,w2,w2_t1,w2_pa1,w1,omp1")
    p.add_argument("--steps", type=int, default=40)
    p.add_argument("--warmup", type=int, default=5)
    p.add_argument("--batch_size", type=int, default=4096)
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--child", default=None)
    args = p.parse_args()
    if args.child:
        result = child(
            args.child, args.data_dir, args.steps, args.warmup, args.batch_size
        )
        print("RESULT " + json.dumps(result), flush=True)
        return
    variants = args.variants.split(",")
    results: dict[str, list[dict]] = {v: [] for v in variants}
    for r in range(args.repeats):
        for v in variants if r % 2 == 0 else variants[::-1]:
            env = dict(os.environ, LOG_LEVEL="WARNING")
            if v == "omp1":
                env["OMP_NUM_THREADS"] = "1"
            if "_passive" in v:
                env["OMP_WAIT_POLICY"] = "PASSIVE"
            if "_spin" in v:  # set but empty: libgomp's own default (spin, then sleep)
                env["OMP_WAIT_POLICY"] = ""
            cmd = [sys.executable, "-m", "tzrec.benchmark.profile_workers",
                   "--child", v, "--data_dir", args.data_dir,
                   "--steps", str(args.steps), "--warmup", str(args.warmup),
                   "--batch_size", str(args.batch_size)]  # fmt: skip
            out = subprocess.run(cmd, capture_output=True, text=True, env=env, cwd=REPO)
            line = [x for x in out.stdout.splitlines() if x.startswith("RESULT ")]
            if not line:
                sys.exit(out.stderr[-3000:])
            res = json.loads(line[0][7:])
            results[v].append(res)
            print(json.dumps(res), file=sys.stderr, flush=True)
    keys = ["samples_per_s", "step_ms", "fwd_bwd_ms", "optimizer_ms", "data_wait_ms",
            "main_cpu_ms_per_step", "worker_cpu_ms_per_step", "page_faults_per_step",
            "load"]  # fmt: skip
    print(f"{'variant':12} {'thr':>3} " + " ".join(f"{k[:14]:>14}" for k in keys))
    for v, rs in results.items():
        med = {k: statistics.median(x[k] for x in rs) for k in keys}
        print(
            f"{v:12} {rs[0]['torch_threads']:>3} "
            + " ".join(f"{med[k]:14.1f}" for k in keys)
        )
    print(json.dumps({v: rs for v, rs in results.items()}))


if __name__ == "__main__":
    main()
