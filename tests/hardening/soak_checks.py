"""Invariants of a model_dir after any attempt: the soak test and scripts/soak.py."""

from __future__ import annotations

import json
import math
from pathlib import Path

from tzrec.checkpoint.best import best_step
from tzrec.checkpoint.files import list_complete, validate_checkpoint


def _records(model_dir: Path, allow_torn_last: bool) -> list[dict]:
    path = model_dir / "train_eval_result.jsonl"
    lines = path.read_text().splitlines() if path.exists() else []
    records = []
    for i, line in enumerate(lines):
        try:
            records.append(json.loads(line))
        except json.JSONDecodeError:
            assert allow_torn_last and i == len(lines) - 1, f"bad eval line {line!r}"
    return records


def _argmax(records: list[dict], steps: set[int]) -> tuple[int, float] | None:
    """Best finite auc among ``steps``; ties go to the earliest step."""
    best = None
    for rec in sorted(records, key=lambda r: r["global_step"]):
        value, step = rec.get("auc"), rec["global_step"]
        if step in steps and isinstance(value, float) and math.isfinite(value):
            if best is None or value > best[1]:
                best = (step, value)
    return best


def check_invariants(
    model_dir: Path, finished: bool, final_step: int = 30
) -> list[dict]:
    """The model_dir contract after any attempt; returns the eval records.

    Only complete checkpoints are visible (each verified against its
    checksums), the eval log is valid and strictly increasing, the best step
    is the argmax of the log among complete checkpoints and was never pruned;
    once ``finished``, ``final_step`` is checkpointed and evaluated and no
    temporary checkpoint is left.
    """
    complete = dict(list_complete(str(model_dir)))
    for path in model_dir.glob("model.ckpt-*"):
        validate_checkpoint(str(path))  # a visible checkpoint is complete
    records = _records(model_dir, allow_torn_last=not finished)
    steps = [r["global_step"] for r in records]
    assert steps == sorted(set(steps)), f"eval log not strictly increasing: {steps}"
    assert not steps or steps[-1] <= max(complete), "evaluated a missing checkpoint"
    log = str(model_dir / "train_eval_result.jsonl")
    if records:
        expected = _argmax(records, set(complete))
        assert best_step(log, "auc", True, set(complete)) == expected
        overall = _argmax(records, set(steps))
        assert overall is None or overall[0] in complete, "best checkpoint pruned"
    if finished:
        assert max(complete) == final_step and steps[-1] == final_step
        assert not list(model_dir.glob(".tmp-*")), "temporary checkpoint left"
    return records
