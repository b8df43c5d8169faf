"""Helpers of the bad-input catalogue: running the CLI, the checks.

Every catalogue test runs the real CLI (in-process through ``run_main`` where
no kill, failpoint, rlimit or torchrun is involved; a subprocess otherwise, and
for one case per CLI) against a copy of an interrupted run (``protected_run``:
checkpoint 10 and its evaluation, killed at step 15) and checks three things:
exit status 2 with exactly one ``error: <what> (<where>)[: <fix>]`` line, no
traceback, and nothing in the run's directory changed (``assert_intact``).
"""

from __future__ import annotations

import dataclasses
import json
import os
import re
import subprocess
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from tests.cli import TINY_CONFIG, run_in_process, train_args

# The columns the tiny config reads.
COLUMNS = ["label", "int_0", "cat_4", "cat_5", "cat_13"]
ERROR_LINE = re.compile(r"error: .+ \(.+\)(: .+)?")
# Files a run only ever appends to (a failed attempt may add its own lines).
_APPEND_ONLY = re.compile(
    r"(^|/)(events\.jsonl|rank\d+\.log|events\.out\.tfevents\..*)$"
)
# New files a failed attempt may leave: its logs and TensorBoard files.
_MAY_APPEAR = re.compile(r"^(log/rank\d+\.log|(eval_val/)?events\.out\.tfevents\..*)$")
_IGNORED = {".tzrec.lock"}


def train_flags(
    data: Path | str,
    model_dir: Path,
    *extra: str,
    config: Path | str = TINY_CONFIG,
    train: Path | str | None = None,
    eval_: Path | str | None = None,
) -> list[str]:
    """train_eval flags for ``config`` (default: the tiny one) as written."""
    return train_args(
        data,
        model_dir,
        *extra,
        config=config,
        base_edits=None,
        train=train,
        eval_=eval_,
    )


def assert_one_error(proc: subprocess.CompletedProcess, *needles: str) -> str:
    """Exit 2, one ``error:`` line holding every needle, no traceback."""
    tail = proc.stderr[-3000:]
    assert proc.returncode == 2, f"exit {proc.returncode}:\n{tail}"
    lines = [x for x in proc.stderr.splitlines() if x.startswith("error:")]
    assert len(lines) == 1, f"want one error line, got {lines}\n{tail}"
    assert "Traceback" not in proc.stderr, tail
    line = lines[0]
    assert ERROR_LINE.fullmatch(line), f"not 'error: what (where): fix': {line}"
    for needle in needles:
        assert needle in line, f"{needle!r} not in {line!r}"
    record_line(line)
    return line


def record_line(line: str) -> None:
    """Appends the error line to ``$TZREC_CATALOGUE_OUT`` (docs/ERRORS.md's source)."""
    if os.environ.get("TZREC_CATALOGUE_OUT"):
        with open(os.environ["TZREC_CATALOGUE_OUT"], "a") as f:
            test = os.environ.get("PYTEST_CURRENT_TEST", "").split(" ")[0]
            f.write(json.dumps({"test": test, "line": line}) + "\n")


@dataclasses.dataclass(frozen=True)
class FileState:
    size: int
    mtime_ns: int
    data: bytes


def check_edited_config(
    old: str, new: str, needles: list[str], data: Path, run_copy, tmp_path: Path
) -> None:
    """Resumes ``run_copy`` with ``old`` replaced by ``new`` in the tiny config.

    Asserts one clear error containing ``needles`` and an untouched model_dir.
    """
    text = TINY_CONFIG.read_text()
    assert old in text
    config = tmp_path / "c.config"
    config.write_text(text.replace(old, new, 1))
    model_dir, before = run_copy
    flags = train_flags(data, model_dir, "--continue_train", config=config)
    proc = run_in_process("tzrec.train_eval", *flags)
    assert_one_error(proc, *needles)
    assert_intact(before, model_dir)


def snapshot(model_dir: Path) -> dict[str, FileState]:
    """Every file under model_dir: size, mtime and content."""
    files = {}
    for path in sorted(model_dir.rglob("*")):
        if path.is_file():
            st = path.stat()
            rel = path.relative_to(model_dir).as_posix()
            files[rel] = FileState(st.st_size, st.st_mtime_ns, path.read_bytes())
    return files


def assert_intact(
    before: dict[str, FileState], model_dir: Path, rewritten: tuple[str, ...] = ()
) -> None:
    """Nothing that was in model_dir changed, except by appending to logs.

    Args:
        before: ``snapshot`` taken before the failed command.
        model_dir: the directory.
        rewritten: files a run that got as far as training may replace
            (``run.json`` and ``version`` describe the latest attempt).
    """
    after = snapshot(model_dir)
    for rel, old in before.items():
        if rel in _IGNORED:
            continue
        assert rel in after, f"{rel} was removed"
        new = after[rel]
        if _APPEND_ONLY.search(rel):
            assert new.data.startswith(old.data), f"{rel} was changed, not appended"
        elif rel not in rewritten:
            assert new == old, f"{rel} was changed"
    for rel in set(after) - set(before) - _IGNORED:
        assert _MAY_APPEAR.match(rel), f"unexpected new file {rel}"


def eval_steps(model_dir: Path) -> list[int]:
    """The steps of the eval log, in file order."""
    path = model_dir / "train_eval_result.jsonl"
    lines = path.read_text().splitlines() if path.exists() else []
    return [json.loads(x)["global_step"] for x in lines]


def write_parquet(table: pa.Table, folder: Path, name: str = "part-0.parquet") -> Path:
    """Writes ``table`` as ``folder/name``; returns the folder."""
    folder.mkdir(parents=True, exist_ok=True)
    pq.write_table(table, folder / name)
    return folder
