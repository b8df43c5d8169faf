"""python -m tzrec.benchmark.quality: eval AUC of tzrec against other trainers.

On the same rows, with the same batch size and epochs, it trains:

- ``tzrec``: ``python -m tzrec.train_eval`` on the dataset's shipped config;
- ``reference``: the independent hand-written torchrec DeepFM
  (tzrec.benchmark.reference), same architecture and optimizers as the config;
- ``fuxictr``: FuxiCTR 2.3.10's DeepFM with its documented defaults, installed
  on first use into its own virtualenv (``--fuxictr_venv``).

Datasets: ``movielens`` (MovieLens-100k from the recbole wheel, time split,
``experiments/deepfm_movielens.config``) and ``synthetic`` (the bundled
Criteo-like generator, whose oracle AUC is known,
``experiments/deepfm_synthetic.config``). Each system runs once per seed; the
table gives per system and dataset the mean and standard deviation over the
seeds of the best eval AUC (evaluated once per epoch; the best is what an
export picks) and of the eval logloss at that evaluation. Rows go to
``--output`` as JSON lines, one per run, as they finish.

Usage::

    python -m tzrec.benchmark.quality --dataset movielens --seeds 1,2,3
    python -m tzrec.benchmark.quality --dataset synthetic --systems tzrec,fuxictr
    python -m tzrec.benchmark.quality --dataset movielens --edit_config_json '{...}'

Not part of CI: a MovieLens round of three systems and three seeds takes a few
minutes on two cores, the synthetic one longer.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
from pathlib import Path

from tzrec.utils.cli import make_parser, run_main
from tzrec.utils.errors import ConfigError

_EXPERIMENTS = Path(__file__).resolve().parents[3] / "experiments"
CONFIGS = {
    "movielens": _EXPERIMENTS / "deepfm_movielens.config",
    "synthetic": _EXPERIMENTS / "deepfm_synthetic.config",
}
SYSTEMS = ("tzrec", "reference", "fuxictr")


def build_parser() -> argparse.ArgumentParser:
    """The benchmark's flags."""
    p = make_parser(
        "python -m tzrec.benchmark.quality", __doc__.splitlines()[0].split(": ", 1)[1]
    )
    p.add_argument(
        "--dataset", default="movielens", help="movielens, synthetic or both"
    )
    p.add_argument("--systems", default=",".join(SYSTEMS), help="comma-separated")
    p.add_argument("--seeds", default="1,2,3", help="comma-separated seeds")
    p.add_argument("--work_dir", default="data/quality", help="data, runs and logs")
    p.add_argument(
        "--output", default=None, help="JSON lines (default WORK_DIR/results.jsonl)"
    )
    p.add_argument(
        "--num_rows", type=int, default=1_000_000, help="synthetic train rows"
    )
    p.add_argument("--num_epochs", type=int, default=None, help="override the config's")
    p.add_argument("--threads", type=int, default=1, help="torch threads per run")
    p.add_argument("--fuxictr_venv", default="data/fuxictr-venv")
    p.add_argument(
        "--edit_config_json",
        default=None,
        help="edits to the tzrec config (as train_eval's flag), for A/B of defaults",
    )
    p.add_argument("--tag", default="", help="a label for this variant in the rows")
    return p


def _prepare(dataset: str, args: argparse.Namespace):
    """The dataset's config with its data paths set (data prepared once)."""
    from tzrec import config as config_lib

    work = Path(args.work_dir)
    config = config_lib.load_pipeline_config(str(CONFIGS[dataset]))
    if dataset == "movielens":
        from tzrec.benchmark import movielens

        out = work / "movielens"
        movielens.ensure(out, work / "wheels")
        config.train_input_path = str(out / "train.parquet")
        config.eval_input_path = str(out / "eval.parquet")
        oracle = None
    else:
        from tzrec.datasets import synthetic

        out = work / f"synthetic_{args.num_rows}"
        kwargs = dict(
            num_rows=args.num_rows,
            num_eval_rows=max(1, args.num_rows // 10),
            seed=2026,
            num_files=4,
            fmt="parquet",
        )
        meta = synthetic.existing_meta(str(out), **kwargs) or synthetic.generate(
            str(out), **kwargs
        )
        config.train_input_path = str(out / "train")
        config.eval_input_path = str(out / "eval")
        oracle = meta["oracle_auc"]
    if args.num_epochs:
        config.train_config.num_epochs = args.num_epochs
    return config, oracle


def _run(system: str, dataset: str, seed: int, config, ctx: dict, args) -> dict:
    from tzrec.benchmark.quality import systems

    work = Path(args.work_dir) / "runs" / f"{dataset}{args.tag and '-' + args.tag}"
    work.mkdir(parents=True, exist_ok=True)
    epochs = config.train_config.num_epochs or 1
    if system == "tzrec":
        model_dir = work / f"tzrec_seed{seed}"
        if model_dir.exists():
            import shutil

            shutil.rmtree(model_dir)
        edits = {
            "train_input_path": config.train_input_path,
            "eval_input_path": config.eval_input_path,
            "train_config.num_epochs": epochs,
            **json.loads(args.edit_config_json or "{}"),
        }
        evals, seconds = systems.run_tzrec(
            str(CONFIGS[dataset]),
            str(model_dir),
            seed,
            edits,
            args.threads,
            str(work / f"tzrec_seed{seed}.log"),
        )
    elif system == "fuxictr":
        evals, seconds = systems.run_fuxictr(
            ctx["fuxictr_python"],
            ctx["npz"],
            ctx["fields"],
            seed,
            config.data_config.batch_size,
            epochs,
            str(work),
            args.threads,
        )
    else:
        from tzrec.benchmark.quality import reference_driver

        evals, seconds = reference_driver.run(config, ctx["rows"], seed, args.threads)
    result = systems.Result(dataset, system, seed, evals, seconds)
    return {
        **result.row(),
        "tag": args.tag,
        "curve": [round(e["auc"], 5) for e in evals],
    }


def _summary(rows: list[dict], oracle: dict) -> str:
    lines = [
        f"{'dataset':<10} {'system':<10} {'tag':<14} {'seeds':>5} "
        f"{'best AUC mean':>13} {'sd':>7} {'logloss':>8} {'sd':>7} {'oracle gap':>10}"
    ]
    groups: dict[tuple, list[dict]] = {}
    for r in rows:
        groups.setdefault((r["dataset"], r["system"], r["tag"]), []).append(r)
    for (ds, system, tag), rs in groups.items():
        aucs = [r["best_auc"] for r in rs]
        lls = [r["best_logloss"] for r in rs]
        sd = statistics.stdev(aucs) if len(aucs) > 1 else 0.0
        sdl = statistics.stdev(lls) if len(lls) > 1 else 0.0
        gap = f"{oracle[ds] - statistics.mean(aucs):.4f}" if oracle.get(ds) else "-"
        lines.append(
            f"{ds:<10} {system:<10} {tag:<14} {len(rs):>5} "
            f"{statistics.mean(aucs):>13.4f} {sd:>7.4f} "
            f"{statistics.mean(lls):>8.4f} {sdl:>7.4f} {gap:>10}"
        )
    return "\n".join(lines)


def main(args: argparse.Namespace) -> int:
    """Runs every (dataset, system, seed); prints the table."""
    datasets = ["movielens", "synthetic"] if args.dataset == "both" else [args.dataset]
    chosen = [s.strip() for s in args.systems.split(",") if s.strip()]
    for name, allowed in ((datasets, CONFIGS), (chosen, SYSTEMS)):
        bad = [n for n in name if n not in allowed]
        if bad:
            raise ConfigError(
                f"unknown {bad[0]!r}",
                "--dataset/--systems",
                f"use {', '.join(allowed)}",
            )
    seeds = [int(s) for s in args.seeds.split(",") if s.strip()]
    output = args.output or os.path.join(args.work_dir, "results.jsonl")
    os.makedirs(args.work_dir, exist_ok=True)
    rows, oracle = [], {}
    from tzrec.benchmark.quality import fields, systems

    for dataset in datasets:
        config, oracle[dataset] = _prepare(dataset, args)
        ctx: dict = {}
        if "reference" in chosen or "fuxictr" in chosen:
            train = fields.load_rows(config, "train")
            evaluation = fields.load_rows(config, "eval")
            ctx["rows"] = (train, evaluation)
            ctx["npz"] = os.path.join(args.work_dir, f"{dataset}_fields.npz")
            ctx["fields"] = systems.write_fields(train, evaluation, ctx["npz"])
        if "fuxictr" in chosen:
            ctx["fuxictr_python"] = systems.fuxictr_python(args.fuxictr_venv)
        for seed in seeds:
            for system in chosen:
                row = _run(system, dataset, seed, config, ctx, args)
                rows.append(row)
                print(json.dumps(row), file=sys.stderr, flush=True)
                with open(output, "a") as f:
                    f.write(json.dumps(row) + "\n")
    print(_summary(rows, oracle))
    return 0


if __name__ == "__main__":
    run_main(main, build_parser())
