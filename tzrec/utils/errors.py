"""User-facing error types.

A user mistake raises one of these; the CLI prints ``error: <what> (<where>):
<how to fix>`` on one line and exits 2. Anything else is a bug and keeps its
traceback.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

# torch's DataLoader re-raises a worker's exception in the main process as
# ``type(message)``, the message holding the worker's whole traceback.
_WORKER_RERAISE = re.compile(r"Caught \w+ in DataLoader worker process \d+\.\n")


class TzrecError(Exception):
    """A user mistake that the CLI reports as one line.

    Args:
        what: what is wrong, e.g. ``unknown field "foo"``.
        where: the field path, file, column or flag it concerns.
        fix: how to fix it.

    Attributes:
        detail: for an error re-raised from a DataLoader worker, the worker's
            traceback (shown with ``--debug``); else empty.
    """

    kind = "error"

    def __init__(self, what: str, where: str = "", fix: str = "") -> None:
        self.detail = ""
        if not where and not fix and _WORKER_RERAISE.match(what):
            self.detail = what
            what = _original_message(what, type(self).__name__)
        self.what = what
        self.where = where
        self.fix = fix
        super().__init__(self.one_line())

    def one_line(self) -> str:
        """Returns ``<what> (<where>): <fix>`` without the ``error:`` prefix."""
        text = self.what
        if self.where:
            text += f" ({self.where})"
        if self.fix:
            text += f": {self.fix}"
        return text


class ConfigError(TzrecError):
    """A problem in the pipeline config or a CLI flag.

    ``problems`` holds every problem found when validation collected several;
    the message then lists them all, one per line after the first.
    """

    def __init__(
        self,
        what: str,
        where: str = "",
        fix: str = "",
        problems: Sequence[TzrecError] | None = None,
    ) -> None:
        self.problems: list[TzrecError] = list(problems or [])
        super().__init__(what, where, fix)

    def one_line(self) -> str:
        """Joins all collected problems; a single problem stays one line."""
        if not self.problems:
            return super().one_line()
        if len(self.problems) == 1:
            return self.problems[0].one_line()
        lines = [f"{len(self.problems)} problems in the config"]
        lines += [f"  - {p.one_line()}" for p in self.problems]
        return "\n".join(lines)


class DataError(TzrecError):
    """A problem in the input data: paths, files, columns, values.

    Args:
        what: what is wrong.
        where: the file and/or column.
        fix: how to fix it.
        row: the row within the batch being built, when known; the dataset
            turns it into a file and row number.
    """

    def __init__(
        self, what: str, where: str = "", fix: str = "", row: int | None = None
    ) -> None:
        self.row = row
        super().__init__(what, where, fix)


class CheckpointError(TzrecError):
    """A missing, corrupt or mismatched checkpoint."""


def _original_message(worker_text: str, type_name: str) -> str:
    """The original one-line message at the end of a worker's traceback text."""
    tail = worker_text.rstrip().rsplit(f"{type_name}: ", 1)
    return tail[-1].strip() if len(tail) == 2 else worker_text.splitlines()[-1]
