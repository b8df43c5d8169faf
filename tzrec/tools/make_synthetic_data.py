"""Writes the bundled synthetic CTR data set (see tzrec/datasets/synthetic.py).

Usage::

    python -m tzrec.tools.make_synthetic_data --output_dir D --num_rows N \
        [--num_eval_rows M] [--seed S] [--num_files K] [--format parquet|csv] \
        [--int_ranges small|criteo]
    python -m tzrec.tools.make_synthetic_data --from_config P --output_dir D \
        --num_rows N [--num_eval_rows M] [--seed S]

``--from_config`` writes the columns a pipeline config's features and labels
read instead (see tzrec/datasets/synthetic_from_config.py).

A second run with the same arguments finds the data in place and returns at
once.
"""

from __future__ import annotations

import argparse
import sys
import time

from tzrec.datasets import synthetic
from tzrec.utils.errors import TzrecError


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="python -m tzrec.tools.make_synthetic_data",
        description="Write synthetic Criteo-like train/eval files and meta.json.",
    )
    p.add_argument("--output_dir", required=True, help="folder to write into")
    p.add_argument("--num_rows", type=int, required=True, help="train rows")
    p.add_argument(
        "--num_eval_rows", type=int, default=None, help="eval rows (num_rows / 10)"
    )
    p.add_argument("--seed", type=int, default=2026, help="seeds truth and rows")
    p.add_argument("--num_files", type=int, default=4, help="train files")
    p.add_argument("--format", choices=synthetic.FORMATS, default="parquet")
    p.add_argument(
        "--int_ranges",
        choices=synthetic.INT_RANGES,
        default="small",
        help="count columns: small, or criteo (long tails to tens of millions)",
    )
    p.add_argument(
        "--from_config",
        default=None,
        help="pipeline config whose features and labels the data must serve",
    )
    p.add_argument("--debug", action="store_true", help="show tracebacks")
    return p


def main(argv: list[str] | None = None) -> int:
    """Runs the tool; returns the exit code (2 for a user mistake)."""
    args = _parser().parse_args(argv)
    num_eval_rows = args.num_eval_rows
    if num_eval_rows is None:
        num_eval_rows = max(1, args.num_rows // 10)
    kwargs = dict(
        num_rows=args.num_rows,
        num_eval_rows=num_eval_rows,
        seed=args.seed,
        num_files=args.num_files,
        fmt=args.format,
        int_ranges=args.int_ranges,
    )
    start = time.perf_counter()
    if args.from_config:
        return _from_config(args, num_eval_rows, start)
    try:
        if synthetic.existing_meta(args.output_dir, **kwargs) is not None:
            print(f"{args.output_dir} already holds this data; not regenerating")
            return 0
        meta = synthetic.generate(args.output_dir, **kwargs)
    except TzrecError as e:
        if args.debug:
            raise
        print(f"error: {e.one_line()}", file=sys.stderr)
        return 2
    print(
        f"wrote {meta['num_rows']} train rows ({meta['num_files']} files) and "
        f"{meta['num_eval_rows']} eval rows to {args.output_dir} in "
        f"{time.perf_counter() - start:.1f}s: positive rate "
        f"{meta['positive_rate']:.3f}, oracle AUC {meta['oracle_auc']}"
    )
    return 0


def _from_config(args: argparse.Namespace, num_eval_rows: int, start: float) -> int:
    from tzrec import config as config_lib
    from tzrec.datasets.synthetic_from_config import generate_from_config

    try:
        config = config_lib.load_pipeline_config(args.from_config)
        meta = generate_from_config(
            config, args.output_dir, args.num_rows, num_eval_rows, args.seed
        )
    except TzrecError as e:
        if args.debug:
            raise
        print(f"error: {e.one_line()}", file=sys.stderr)
        return 2
    labels = ", ".join(
        f"{k} rate {v['positive_rate']:.3f} oracle AUC {v['oracle_auc']:.3f}"
        for k, v in meta["eval"]["labels"].items()
    )
    skipped = meta["skipped_feature_types"]
    print(
        f"wrote {args.num_rows} train and {num_eval_rows} eval rows "
        f"({len(meta['columns'])} columns) for {args.from_config} to "
        f"{args.output_dir} in {time.perf_counter() - start:.1f}s"
        + (f": {labels}" if labels else "")
        + (f"; skipped feature types: {', '.join(skipped)}" if skipped else "")
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
