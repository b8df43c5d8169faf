"""Append-only JSON-lines files (the eval log, the events log).

Each line goes to the file in one ``write`` and is fsynced, so a crash leaves
at most one torn last line; readers skip such a line with a warning, and the
next append starts on a fresh line.
"""

from __future__ import annotations

import contextlib
import json
import logging
import math
import numbers
import os
import sys
from collections.abc import Mapping
from typing import Any

_logger = logging.getLogger("tzrec")


def json_safe(value: Any) -> Any:
    """A JSON-ready copy: NaN/inf -> None, tensors and numpy scalars -> numbers."""
    # No tensor can exist before torch is imported: don't import it for one.
    torch = sys.modules.get("torch")
    if torch is not None and isinstance(value, torch.Tensor):
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
    return [rec for _, rec in read_lines(path)]


def read_lines(path: str) -> list[tuple[str, dict[str, Any]]]:
    """``(line, object)`` of every readable line, each line ending in a newline."""
    if not os.path.exists(path):
        return []
    out = []
    with open(path, encoding="utf-8", errors="replace") as f:
        for lineno, line in enumerate(f, 1):
            rec = parse_line(line, lineno, path)
            if rec is not None:
                out.append((line.rstrip("\n") + "\n", rec))
    return out


def parse_line(line: str, lineno: int, path: str) -> dict[str, Any] | None:
    """The JSON object on one line, or None (with a warning) when there is none."""
    if not line.strip():
        _logger.warning("skipping blank line %d in %s", lineno, path)
        return None
    try:
        rec = json.loads(line)
    except json.JSONDecodeError:
        rec = None
    if not isinstance(rec, dict):
        _logger.warning("skipping unreadable line %d of %s (torn write?)", lineno, path)
        return None
    return rec
