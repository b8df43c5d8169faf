"""The run's timeline, ``model_dir/events.jsonl``.

The JSON-lines reading and writing (and the eval log) live in
:mod:`tzrec.run_dir`; their names are kept here for the monitor's callers.
"""

from __future__ import annotations

import datetime
from typing import Any

from tzrec.run_dir.eval_log import EvalLog, read_records
from tzrec.run_dir.jsonl import append_json_line, json_safe, read_jsonl

# The eval log's writer under its former name.
JsonlEvalLog = EvalLog

__all__ = [
    "EventLog",
    "JsonlEvalLog",
    "append_json_line",
    "json_safe",
    "read_jsonl",
    "read_records",
]


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
