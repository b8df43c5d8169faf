"""Append-only JSON-lines files: the run's events and the eval log.

Each line goes to the file in one ``write`` and is fsynced, so a crash leaves
at most one torn last line; readers skip such a line with a warning, and the
next append starts on a fresh line.
"""

from __future__ import annotations

import contextlib
import datetime
import json
import logging
import math
import numbers
import os
from collections.abc import Mapping
from typing import Any

import torch

_logger = logging.getLogger("tzrec")


def json_safe(value: Any) -> Any:
    """A JSON-ready copy: NaN/inf -> None, tensors and numpy scalars -> numbers."""
    if isinstance(value, torch.Tensor):
        value = value.item() if value.numel() == 1 else value.tolist()
    if isinstance(value, Mapping):
        return {str(k): json_safe(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [json_safe(v) for v in value]
    if isinstance(value, bool | str) or value is None:
        return value
    if isinstance(value, numbers.Integral):
        return int(value)
    if isinstance(value, numbers.Real):
        value = float(value)
        return value if math.isfinite(value) else None
    return str(value)


def append_json_line(path: str, obj: Mapping[str, Any]) -> None:
    """Appends ``obj`` as one JSON line, whole, flushed and fsynced.

    If the file ends in a torn line (no newline), the new line starts on a
    line of its own so it stays parseable. A failed write (disk full) is
    undone: the file is cut back to its old size, so every earlier line stays
    intact, and the OSError raised names the file.
    """
    data = json.dumps(json_safe(obj), allow_nan=False) + "\n"
    try:
        fd = os.open(path, os.O_RDWR | os.O_APPEND | os.O_CREAT, 0o644)
    except OSError as e:
        raise OSError(e.errno, e.strerror, path) from e
    try:
        size = os.fstat(fd).st_size
        if size and os.pread(fd, 1, size - 1) != b"\n":
            data = "\n" + data
        buf = data.encode("utf-8")
        try:
            while buf:  # os.write may write less than asked (signals, huge lines)
                buf = buf[os.write(fd, buf) :]
            os.fsync(fd)
        except OSError as e:
            with contextlib.suppress(OSError):
                os.ftruncate(fd, size)  # shrinking a file needs no space
            raise OSError(e.errno, e.strerror, path) from e
    finally:
        os.close(fd)


def read_jsonl(path: str) -> list[dict[str, Any]]:
    """Reads a JSON-lines file; blank, torn or non-object lines are skipped.

    Each skipped non-blank line logs a warning with its line number. A
    missing file reads as no records.
    """
    return [rec for _, rec in _read_lines(path)]


def read_records(path: str) -> list[dict[str, Any]]:
    """Reads eval-log records (objects with an integer ``global_step``).

    ``null`` metric values (NaN/inf when written) come back as None.
    """
    return [rec for _, rec in _read_lines(path) if _has_step(rec, path)]


def _has_step(rec: dict[str, Any], path: str) -> bool:
    step = rec.get("global_step")
    if isinstance(step, int) and not isinstance(step, bool):
        return True
    _logger.warning("skipping a record without an integer global_step in %s", path)
    return False


def _read_lines(path: str) -> list[tuple[str, dict[str, Any]]]:
    if not os.path.exists(path):
        return []
    out = []
    with open(path, encoding="utf-8", errors="replace") as f:
        for lineno, line in enumerate(f, 1):
            if not line.strip():
                _logger.warning("skipping blank line %d in %s", lineno, path)
                continue
            try:
                rec = json.loads(line)
            except json.JSONDecodeError:
                rec = None
            if not isinstance(rec, dict):
                _logger.warning(
                    "skipping unreadable line %d of %s (torn write?)", lineno, path
                )
                continue
            out.append((line.rstrip("\n") + "\n", rec))
    return out


class EventLog:
    """The run's timeline, ``model_dir/events.jsonl``.

    Each line is ``{"time": <ISO local time>, "event": <name>, ...fields}``.

    Args:
        path: the file; appended to, never truncated.
    """

    def __init__(self, path: str) -> None:
        self.path = path

    def write(self, event: str, **fields: Any) -> dict[str, Any]:
        """Appends one event; returns the record written."""
        now = datetime.datetime.now().astimezone()
        record = {"time": now.isoformat(timespec="milliseconds"), "event": event}
        record.update(fields)
        append_json_line(self.path, record)
        return record


class JsonlEvalLog:
    """``train_eval_result.jsonl``: one object per evaluation.

    Keys in order: ``global_step``, ``epoch``, ``wall_time`` (Unix seconds),
    then the metrics. NaN/inf metrics are written as ``null``.

    Args:
        path: the file.
    """

    def __init__(self, path: str) -> None:
        self.path = path

    def append(
        self,
        global_step: int,
        metrics: Mapping[str, Any],
        epoch: int | None = None,
        wall_time: float | None = None,
        samples: int | None = None,
    ) -> dict[str, Any]:
        """Appends one evaluation; returns the record written."""
        record: dict[str, Any] = {"global_step": int(global_step)}
        if epoch is not None:
            record["epoch"] = int(epoch)
        if wall_time is not None:
            record["wall_time"] = round(float(wall_time), 3)
        if samples is not None:
            record["samples"] = int(samples)
        for k, v in metrics.items():
            if k not in record:
                record[k] = v
        append_json_line(self.path, record)
        return json_safe(record)

    def records(self) -> list[dict[str, Any]]:
        """All readable records, in file order."""
        return read_records(self.path)

    def truncate_after(self, step: int) -> int:
        """Drops records with ``global_step > step`` (resume from ``step``).

        Torn lines are dropped too. The file is rewritten through a temporary
        sibling and an atomic rename, so a crash leaves the old or the new
        file. Returns the number of records dropped.
        """
        lines = _read_lines(self.path)
        keep = [
            line
            for line, rec in lines
            if _has_step(rec, self.path) and rec["global_step"] <= step
        ]
        raw = b""
        if os.path.exists(self.path):
            with open(self.path, "rb") as f:
                raw = f.read()
        if "".join(keep).encode("utf-8") == raw:
            return 0
        tmp = f"{self.path}.tmp"
        with open(tmp, "w", encoding="utf-8") as f:
            f.write("".join(keep))
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, self.path)
        _fsync_dir(os.path.dirname(os.path.abspath(self.path)))
        return len(lines) - len(keep)


def _fsync_dir(path: str) -> None:
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)
