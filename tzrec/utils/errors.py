"""User-facing error types.

A user mistake raises one of these; the CLI prints ``error: <what> (<where>):
<how to fix>`` on one line and exits 2. Anything else is a bug and keeps its
traceback.
"""

from __future__ import annotations


class TzrecError(Exception):
    """A user mistake that the CLI reports as one line.

    Args:
        what: what is wrong, e.g. ``unknown field "foo"``.
        where: the field path, file, column or flag it concerns.
        fix: how to fix it.
    """

    kind = "error"

    def __init__(self, what: str, where: str = "", fix: str = "") -> None:
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
        problems: list[TzrecError] | None = None,
    ) -> None:
        self.problems = problems or []
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
    """A problem in the input data: paths, files, columns, values."""


class CheckpointError(TzrecError):
    """A missing, corrupt or mismatched checkpoint."""
