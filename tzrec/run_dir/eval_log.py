"""The eval log, ``model_dir/train_eval_result.jsonl``: the record of evaluations.

One JSON object per evaluation: ``global_step`` first, then ``epoch``,
``wall_time`` (Unix seconds), ``samples`` when known, then the metrics;
NaN/inf are written as ``null``. It is the source of truth for the best
checkpoint and for early stopping on resume (a checkpoint is written before
its evaluation, so the checkpoint cannot know its own result).
"""

from __future__ import annotations

import logging
import os
from collections.abc import Mapping
from typing import Any, BinaryIO

from tzrec.run_dir import names
from tzrec.run_dir.atomic import atomic_write
from tzrec.run_dir.jsonl import append_json_line, json_safe, parse_line, read_lines

_logger = logging.getLogger("tzrec")
# How many of the last bytes read EvalLogTail checks for an in-place rewrite.
_TAIL_CHECK_BYTES = 256


def eval_log_path(model_dir: str) -> str:
    """Where the eval log of ``model_dir`` lives."""
    return os.path.join(model_dir, names.EVAL_RESULT_FILE)


def has_step(rec: Mapping[str, Any], path: str) -> bool:
    """Whether ``rec`` has an integer ``global_step``; warns when it has not."""
    step = rec.get("global_step")
    if isinstance(step, int) and not isinstance(step, bool):
        return True
    _logger.warning("skipping a record without an integer global_step in %s", path)
    return False


def read_records(path: str) -> list[dict[str, Any]]:
    """Reads eval-log records (objects with an integer ``global_step``).

    Torn and unreadable lines are skipped with a warning; a missing file has
    no records. ``null`` metric values (NaN/inf when written) come back as None.
    """
    return [rec for _, rec in read_lines(path) if has_step(rec, path)]


class EvalLog:
    """Writes and reads one eval log.

    Args:
        path: the file (see :func:`eval_log_path`).
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
        """Appends one evaluation, fsynced; returns the record as written."""
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

        Torn lines are dropped too. The file is replaced atomically, so a
        crash leaves the old or the new file. Returns the number of records
        dropped.
        """
        lines = read_lines(self.path)
        keep = [
            line
            for line, rec in lines
            if has_step(rec, self.path) and rec["global_step"] <= step
        ]
        raw = b""
        if os.path.exists(self.path):
            with open(self.path, "rb") as f:
                raw = f.read()
        data = "".join(keep).encode("utf-8")
        if data == raw:
            return 0
        atomic_write(self.path, data)
        return len(lines) - len(keep)


class EvalLogTail:
    """Reads only what was appended to an eval log since the previous read.

    A reader that keeps up with a growing log reads each byte once. Only
    whole lines are taken (a line still being written, or torn, waits). When
    the file was replaced or shrunk (:meth:`EvalLog.truncate_after`), or the
    last line read changed (rewritten in place), the next read starts over
    and says so.

    Args:
        path: the eval log.
    """

    def __init__(self, path: str) -> None:
        self.path = path
        self._offset = 0
        self._lineno = 0
        self._identity: tuple[int, int] | None = None
        # The last bytes read: if they change, the file was rewritten in place.
        self._seen_tail = b""

    def read_new(self) -> tuple[list[dict[str, Any]], bool]:
        """Records appended since the last call.

        Returns:
            ``(records, restarted)``: ``restarted`` is True when the file was
            replaced or shrunk, so ``records`` are the whole file again and
            what was read before no longer holds.

        """
        try:
            with open(self.path, "rb") as f:
                st = os.fstat(f.fileno())
                identity = (st.st_dev, st.st_ino)
                replaced = self._identity is not None and self._identity != identity
                restarted = replaced or not self._still_there(f, st.st_size)
                if restarted:
                    self._offset, self._lineno, self._seen_tail = 0, 0, b""
                self._identity = identity
                f.seek(self._offset)
                chunk = f.read(st.st_size - self._offset)
        except FileNotFoundError:
            restarted = self._offset > 0
            self._offset, self._lineno, self._identity = 0, 0, None
            self._seen_tail = b""
            return [], restarted
        end = chunk.rfind(b"\n") + 1  # whole lines only
        records = []
        for raw in chunk[:end].splitlines(keepends=True):
            self._lineno += 1
            line = raw.decode("utf-8", errors="replace")
            rec = parse_line(line, self._lineno, self.path)
            if rec is not None and has_step(rec, self.path):
                records.append(rec)
        self._offset += end
        self._seen_tail = (self._seen_tail + chunk[:end])[-_TAIL_CHECK_BYTES:]
        return records, restarted

    def _still_there(self, f: BinaryIO, size: int) -> bool:
        """Whether the bytes read last are still where they were."""
        if size < self._offset:
            return False
        n = len(self._seen_tail)
        f.seek(self._offset - n)
        return f.read(n) == self._seen_tail
