"""python -m tzrec.tools.runs: look at training runs without writing pandas.

    show D                       status, config, evaluations (best marked),
                                 checkpoints on disk, where the time went
    compare D1 D2 ...            best/last per metric with deltas vs D1,
                                 evaluations aligned by step and by samples,
                                 config differences as dotted paths
    plot D1 [D2 ...] --output curves.png
                                 loss, train/eval metric and throughput curves

Every subcommand takes ``--json`` for machine-readable output. A folder that
is not a run, or a run without evaluations yet, is a one-line error (exit 2).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from typing import Any

from tzrec.utils.cli import make_parser, run_main
from tzrec.utils.errors import ConfigError

PROG = "python -m tzrec.tools.runs"


COMMANDS = {
    "show": "one run: status, evaluations, checkpoints, timeline",
    "compare": "runs side by side; deltas against the first",
    "plot": "curves of one or more runs in a PNG",
}


def build_parser(command: str | None = None) -> argparse.ArgumentParser:
    """The flags of one subcommand; unknown flags are errors.

    Args:
        command: ``show``, ``compare`` or ``plot``; anything else gives the
            top-level parser, which only accepts a known command.
    """
    if command not in COMMANDS:
        parser = make_parser(PROG, __doc__.split("\n\n")[0])
        parser.add_argument("command", choices=sorted(COMMANDS), help="what to do")
        return parser
    parser = make_parser(f"{PROG} {command}", COMMANDS[command])
    parser.set_defaults(command=command)
    parser.add_argument("--json", action="store_true", help="print JSON, not tables")
    if command == "show":
        parser.add_argument("model_dir", help="the run's model_dir")
        parser.add_argument(
            "--max_rows",
            type=int,
            default=30,
            help="evaluation rows shown (latest and best); 0 = all",
        )
    elif command == "compare":
        parser.add_argument("model_dirs", nargs="+", help="two or more model_dirs")
        parser.add_argument(
            "--metrics",
            default="",
            help="comma-separated metrics for the aligned tables "
            "(default: the first run's best_exporter_metric)",
        )
    else:
        parser.add_argument("model_dirs", nargs="+", help="one or more model_dirs")
        parser.add_argument("--output", required=True, help="PNG file to write")
        parser.add_argument(
            "--x",
            choices=("step", "samples"),
            default="step",
            help="x axis: optimizer steps or training rows seen",
        )
    return parser


def _print(obj: Any, as_json: bool) -> None:
    text = json.dumps(obj, indent=2, default=str) if as_json else obj
    sys.stdout.write(f"{text}\n")
    sys.stdout.flush()


def _load(paths: list[str]) -> list[Any]:
    from tzrec.tools.runs.load import load_run

    return [load_run(p) for p in paths]


def main(args: argparse.Namespace) -> int:
    """Runs one subcommand; returns the exit status."""
    if args.command == "show":
        from tzrec.tools.runs.load import load_run
        from tzrec.tools.runs.show import show_data, show_text

        # A run killed before its first evaluation still shows its status.
        run = load_run(args.model_dir, require_evals=False)
        _print(
            show_data(run) if args.json else show_text(run, args.max_rows), args.json
        )
    elif args.command == "compare":
        from tzrec.tools.runs.compare import compare_data, compare_text

        if len(args.model_dirs) < 2:
            raise ConfigError(
                "compare needs at least two model_dirs",
                "command line",
                f"use {PROG} show for one run",
            )
        runs = _load(args.model_dirs)
        metrics = [m.strip() for m in args.metrics.split(",") if m.strip()]
        _check_metrics(runs, metrics)
        _print(
            compare_data(runs) if args.json else compare_text(runs, metrics), args.json
        )
    else:
        from tzrec.tools.runs.plot import plot_runs

        if not args.output.lower().endswith(".png"):
            raise ConfigError(
                "--output must be a .png file", args.output, "e.g. --output curves.png"
            )
        runs = _load(args.model_dirs)
        os.makedirs(os.path.dirname(os.path.abspath(args.output)), exist_ok=True)
        drawn = plot_runs(runs, args.output, args.x)
        _print(drawn if args.json else f"wrote {args.output}", args.json)
    return 0


def _check_metrics(runs: list[Any], metrics: list[str]) -> None:
    known = {m for r in runs for m in r.metric_names}
    bad = [m for m in metrics if m not in known]
    if bad:
        raise ConfigError(
            f"unknown metric(s) {', '.join(bad)}",
            "--metrics",
            "use any of " + ", ".join(sorted(known)),
        )


def cli(argv: list[str] | None = None) -> None:
    """Entry point: the first argument picks the subcommand's parser."""
    argv = list(sys.argv[1:] if argv is None else argv)
    command = argv[0] if argv and argv[0] in COMMANDS else None
    run_main(main, build_parser(command), argv[1:] if command else argv)
