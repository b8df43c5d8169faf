"""Helpers for the runs tool tests: tiny data, CLI calls, the two runs' edits."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from tests.cli import QUICKSTART_CONFIG, run_cli

BASE_EDITS = {
    "train_config.num_epochs": 0,
    "train_config.num_steps": 16,
    "train_config.log_step_count_steps": 4,
    "data_config.num_workers": 0,
    # Tiny embedding tables: small checkpoints, fast saves.
    "feature_configs[id_feature.num_buckets>20].id_feature.num_buckets": 20,
}
# What differs between the runs; the config diff must list exactly these.
EDITS_A = {
    "data_config.batch_size": 128,
    "train_config.save_checkpoints_steps": 4,
    "train_config.keep_checkpoint_max": 2,
}
EDITS_B = {
    "data_config.batch_size": 64,
    "train_config.save_checkpoints_steps": 8,
    "train_config.keep_checkpoint_max": 3,
    "train_config.dense_optimizer.adam_optimizer.lr": 0.001,
}


def write_tiny_data(root: Path, seed: int = 3) -> Path:
    """Parquet with the quickstart columns and a learnable label."""
    rng = np.random.default_rng(seed)
    for split, rows in (("train", 2048), ("eval", 512)):
        cols = {f"int_{i}": rng.integers(0, 60, rows) for i in range(13)}
        cols.update({f"cat_{i}": rng.integers(0, 20, rows) for i in range(26)})
        cols.update(
            user_id=rng.integers(0, 100, rows), item_id=rng.integers(0, 100, rows)
        )
        cols["tags"] = np.array(["1\x1d2", "3", ""] * (rows // 3) + ["4"] * (rows % 3))
        logit = 0.9 * (cols["cat_0"] % 5 - 2) + 1.2 * (cols["int_0"] > 30) - 0.6
        cols["label"] = (rng.random(rows) < 1 / (1 + np.exp(-logit))).astype(np.int64)
        (root / split).mkdir(parents=True, exist_ok=True)
        pq.write_table(pa.table(cols), root / split / "part-0.parquet")
    return root


def runs_cli(*args: str) -> subprocess.CompletedProcess:
    """``python -m tzrec.tools.runs args``."""
    return run_cli("tzrec.tools.runs", *args, timeout=120)


def runs_inproc(capsys, *args: str) -> tuple[int, str, str]:
    """Runs the ``runs`` CLI in this process: ``(exit code, stdout, stderr)``.

    The same entry point as ``python -m tzrec.tools.runs`` without paying
    a fresh interpreter's torch import per call.
    """
    from tzrec.tools.runs import cli as runs_main

    capsys.readouterr()
    try:
        runs_main(list(args))
    except SystemExit as e:
        code = e.code if isinstance(e.code, int) else 1
    else:
        code = 0
    out, err = capsys.readouterr()
    return code, out, err


def fake_run(
    root: Path,
    evals: list[dict] = (),
    events: list[dict] = (),
    ckpt_steps: list[int] = (),
    edits: dict | None = None,
) -> Path:
    """A model_dir written by hand with the contract's files.

    Checkpoint folders hold only their ``DONE`` marker listing one file, which
    is all listing and best selection look at.
    """
    from tzrec import config as config_lib

    root.mkdir(parents=True, exist_ok=True)
    config = config_lib.load_pipeline_config(str(QUICKSTART_CONFIG), edits)
    config.model_dir = str(root)
    config_lib.save_pipeline_config(config, str(root / "pipeline.config"))
    with open(root / "train_eval_result.jsonl", "w") as f:
        f.writelines(json.dumps(e) + "\n" for e in evals)
    with open(root / "events.jsonl", "w") as f:
        f.writelines(json.dumps(e) + "\n" for e in events)
    for step in ckpt_steps:
        ckpt = root / f"model.ckpt-{step}"
        ckpt.mkdir()
        (ckpt / "train_state.pt").write_bytes(b"x" * 1000)
        marker = {"step": step, "time": 1.7e9 + step, "world_size": 1,
                  "files": {"train_state.pt": 1000}}  # fmt: skip
        (ckpt / "DONE").write_text(json.dumps(marker))
    return root


def event(t: float, name: str, **fields) -> dict:
    """An events.jsonl record at ``t`` seconds after a fixed start."""
    import datetime

    start = datetime.datetime(2026, 1, 2, 3, 4, 5, tzinfo=datetime.timezone.utc)
    when = start + datetime.timedelta(seconds=t)
    return {"time": when.isoformat(timespec="milliseconds"), "event": name, **fields}
