"""Text tables and number formats for the ``runs`` tool."""

from __future__ import annotations

import re
from collections.abc import Sequence

_NUMERIC = re.compile(r"^[-+]?[\d,]*\.?\d+(e[-+]?\d+)?( ?[a-zA-Z%/]+)?[*]?$")
_BLANK = ("", "-", "nan")


def fmt_value(value: float | None) -> str:
    """A metric value: 4 decimals, or 4 significant digits when tiny/huge."""
    if value is None:
        return "nan"
    a = abs(value)
    if a and (a < 1e-3 or a >= 1e4):
        return f"{value:.4g}"
    return f"{value:.4f}"


def fmt_delta(value: float | None) -> str:
    """A signed difference, e.g. ``+0.0123``; empty when unknown."""
    if value is None:
        return ""
    a = abs(value)
    if a and (a < 1e-3 or a >= 1e4):
        return f"{value:+.3g}"
    return f"{value:+.4f}"


def fmt_bytes(n: float) -> str:
    """``12.3 MB`` style (MiB based, as the checkpoint log lines)."""
    for unit, size in (("GB", 2**30), ("MB", 2**20), ("KB", 2**10)):
        if n >= size:
            return f"{n / size:.1f} {unit}"
    return f"{int(n)} B"


def fmt_secs(s: float) -> str:
    """``42.0 s``, ``3m 05s`` or ``2h 03m``."""
    if s < 60:
        return f"{s:.1f} s"
    m, sec = divmod(int(round(s)), 60)
    if m < 60:
        return f"{m}m {sec:02d}s"
    h, m = divmod(m, 60)
    return f"{h}h {m:02d}m"


def fmt_int(n: int | None) -> str:
    """An integer with thousands separators."""
    return "-" if n is None else f"{n:,}"


def table(
    headers: Sequence[str],
    rows: Sequence[Sequence[str]],
    indent: int = 2,
    align: str | None = None,
) -> list[str]:
    """Lines of a column-aligned table with a rule under the header.

    Args:
        headers: column titles.
        rows: cell strings, one list per row.
        indent: spaces before each line.
        align: ``l``/``r`` per column; by default a column whose cells all
            look numeric is right-aligned.
    """
    cols = len(headers)
    cells = [[str(c) for c in r] + [""] * (cols - len(r)) for r in rows]
    widths = [max([len(headers[i])] + [len(r[i]) for r in cells]) for i in range(cols)]
    if align is None:
        align = "".join(
            "r" if all(_NUMERIC.match(r[i]) or r[i] in _BLANK for r in cells) else "l"
            for i in range(cols)
        )
    pad = " " * indent

    def line(values: Sequence[str]) -> str:
        parts = [
            v.rjust(w) if a == "r" else v.ljust(w)
            for v, w, a in zip(values, widths, align)
        ]
        return (pad + "  ".join(parts)).rstrip()

    rule = pad + "  ".join("-" * w for w in widths)
    return [line(headers), rule] + [line(r) for r in cells]


def shorten(text: str, width: int = 40) -> str:
    """``text`` cut to ``width`` characters with an ellipsis."""
    return text if len(text) <= width else text[: width - 3] + "..."
