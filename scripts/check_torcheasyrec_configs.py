"""Runs a folder of TorchEasyRec pipeline configs on tzrec, changing only the data.

Usage::

    python scripts/check_torcheasyrec_configs.py PATH [--steps 30]
        [--work_dir D] [--max_buckets N] [--only NAME ...] [--timeout S]

For every ``*.config`` in PATH (for example the ``examples/`` of a
TorchEasyRec checkout) it

1. parses the file as it is;
2. writes data for it with ``make_synthetic_data --from_config`` (``steps``
   training batches, so the config's ``num_epochs: 1`` trains ``steps``
   steps, and two eval batches);
3. validates it with only the data source changed, as a user would:
   ``--train_input_path``, ``--eval_input_path``, ``--model_dir`` and
   ``data_config.dataset_type: ParquetDataset`` (``--edit_config_json``);
4. trains and evaluates it with ``python -m tzrec.train_eval`` and those
   flags, and reads the eval AUC of every task from the eval log.

It prints one table row per config. ``--max_buckets N`` also caps every
``num_buckets`` / ``hash_bucket_size`` above N (through the same
``--edit_config_json``; the row's notes say so): TorchEasyRec's Criteo
examples hold 40M-row tables, about 2.5 GiB each plus optimizer state, which
a small machine cannot allocate. Not run in CI (minutes per config).
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from tzrec import config as config_lib  # noqa: E402
from tzrec.datasets.synthetic_from_config import generate_from_config  # noqa: E402
from tzrec.utils.errors import TzrecError  # noqa: E402


@dataclasses.dataclass
class Row:
    """One config's outcome."""

    name: str
    model: str = "?"
    parsed: str = "-"
    validated: str = "-"
    trained: str = "-"
    auc: str = "-"
    notes: list[str] = dataclasses.field(default_factory=list)
    seconds: float = 0.0


def bucket_caps(config, max_buckets: int) -> dict[str, int]:
    """``--edit_config_json`` entries capping bucket counts above ``max_buckets``."""
    edits: dict[str, int] = {}
    for i, fc in enumerate(config.feature_configs):
        kind = fc.WhichOneof("feature")
        subs = [(f"feature_configs[{i}].{kind}", getattr(fc, kind))] if kind else []
        if kind == "sequence_feature":
            subs = [
                (
                    f"feature_configs[{i}].sequence_feature.features[{j}]."
                    f"{sub.WhichOneof('feature')}",
                    getattr(sub, sub.WhichOneof("feature")),
                )
                for j, sub in enumerate(fc.sequence_feature.features)
            ]
        for path, cfg in subs:
            for field in ("num_buckets", "hash_bucket_size"):
                if getattr(cfg, field, 0) > max_buckets:
                    edits[f"{path}.{field}"] = max_buckets
    return edits


def one_line(e: Exception) -> str:
    """A user error's one line, or the exception's."""
    return e.one_line() if isinstance(e, TzrecError) else f"{type(e).__name__}: {e}"


def check(path: Path, work: Path, args: argparse.Namespace) -> Row:
    """Parses, writes data for, validates and trains one config."""
    row = Row(path.stem)
    start = time.perf_counter()
    try:
        config = config_lib.load_pipeline_config(str(path))
    except TzrecError as e:
        row.parsed = "no: " + one_line(e)
        return row
    row.parsed = "yes"
    row.model = config.model_config.WhichOneof("model") or "?"
    data = work / path.stem / "data"
    batch = config.data_config.batch_size
    eval_batch = config.data_config.eval_batch_size or batch
    try:
        generate_from_config(
            config, str(data), batch * args.steps, eval_batch * 2, seed=args.seed
        )
    except (TzrecError, ValueError, KeyError) as e:
        row.validated = "no data: " + one_line(e)
        return row
    edits: dict = {"data_config.dataset_type": "ParquetDataset"}
    if args.max_buckets:
        caps = bucket_caps(config, args.max_buckets)
        edits.update(caps)
        if caps:
            row.notes.append(f"{len(caps)} bucket counts capped at {args.max_buckets}")
    model_dir = work / path.stem / "model_dir"
    flags = [
        "--pipeline_config_path", str(path),
        "--train_input_path", str(data / "train"),
        "--eval_input_path", str(data / "eval"),
        "--model_dir", str(model_dir),
        "--edit_config_json", json.dumps(edits),
    ]  # fmt: skip
    try:
        edited = config_lib.load_pipeline_config(str(path), json.dumps(edits))
        edited.train_input_path = str(data / "train")
        edited.eval_input_path = str(data / "eval")
        edited.model_dir = str(model_dir)
        config_lib.validate(edited)
    except TzrecError as e:
        row.validated = "no: " + one_line(e)
        return row
    row.validated = "yes"
    row.trained, row.auc = train(flags, model_dir, args.timeout)
    row.seconds = time.perf_counter() - start
    return row


def train(flags: list[str], model_dir: Path, timeout: float) -> tuple[str, str]:
    """Runs train_eval; returns (trained, eval AUCs)."""
    cmd = [sys.executable, "-m", "tzrec.train_eval", *flags]
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    try:
        done = subprocess.run(
            cmd, capture_output=True, text=True, timeout=timeout, env=env, cwd=REPO
        )
    except subprocess.TimeoutExpired:
        return f"no: timed out after {timeout:.0f}s", "-"
    if done.returncode != 0:
        errors = [x for x in done.stderr.splitlines() if x.startswith("error:")]
        tail = errors[-1] if errors else (done.stderr.strip().splitlines() or ["?"])[-1]
        return f"no (exit {done.returncode}): {tail[:300]}", "-"
    log = model_dir / "train_eval_result.jsonl"
    if not log.exists():
        return "yes", "no eval log"
    last = json.loads(log.read_text().splitlines()[-1])
    aucs = [
        f"{k}={v:.3f}" if isinstance(v, float) else f"{k}={v}"
        for k, v in last.items()
        if k.startswith("auc")
    ]
    return f"yes ({last.get('global_step')} steps)", ", ".join(aucs) or "no auc"


def table(rows: list[Row]) -> str:
    """The markdown table of every row."""
    lines = [
        "| config | model | parsed | validated | trained | eval AUC | notes |",
        "|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        notes = "; ".join(r.notes + ([f"{r.seconds:.0f}s"] if r.seconds else []))
        cells = [r.name, r.model, r.parsed, r.validated, r.trained, r.auc, notes]
        lines.append("| " + " | ".join(c.replace("|", "/") for c in cells) + " |")
    ok = sum(r.trained.startswith("yes") for r in rows)
    parsed = sum(r.parsed == "yes" for r in rows)
    valid = sum(r.validated == "yes" for r in rows)
    lines.append("")
    lines.append(
        f"{len(rows)} configs: {parsed} parsed, {valid} validated, {ok} trained"
    )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    """Checks every config of the folder; exit 0 when all trained, else 1."""
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("path", help="folder of TorchEasyRec *.config files")
    p.add_argument("--steps", type=int, default=30, help="training batches of data")
    p.add_argument("--work_dir", default=None, help="data and model dirs (a temp dir)")
    p.add_argument("--max_buckets", type=int, default=0, help="cap bucket counts")
    p.add_argument("--only", nargs="*", default=None, help="config names to run")
    p.add_argument("--timeout", type=float, default=1200, help="seconds per config")
    p.add_argument("--seed", type=int, default=2026)
    args = p.parse_args(argv)
    folder = Path(args.path)
    paths = sorted(folder.glob("*.config"))
    if args.only:
        paths = [x for x in paths if x.stem in set(args.only)]
    if not paths:
        print(f"error: no *.config files ({folder}): pass a folder of configs")
        return 2
    work = Path(args.work_dir or tempfile.mkdtemp(prefix="tzrec_check_"))
    rows = []
    for path in paths:
        row = check(path, work, args)
        print(f"{row.name}: parsed {row.parsed[:80]} / validated {row.validated[:80]}"
              f" / trained {row.trained[:80]} / {row.auc}", flush=True)  # fmt: skip
        rows.append(row)
    print(table(rows))
    return 0 if all(r.trained.startswith("yes") for r in rows) else 1


if __name__ == "__main__":
    sys.exit(main())
