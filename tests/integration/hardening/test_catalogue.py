"""docs/ERRORS.md and the catalogue tests agree: every row names a real test."""

from __future__ import annotations

import re
from pathlib import Path

from tests.cli import REPO

HERE = Path(__file__).resolve().parent
ROW = re.compile(r"^\| (\d+) \| [^|]+ \| .+ \| `(error: .+)` \| [^|]+ \| `([^`]+)` \|$")
NOT_CATALOGUE = (
    "test_catalogue.py",
    "test_soak.py",
    "test_failure_plumbing.py",
    "test_stop_agreement.py",
)
TEST = re.compile(r"^(test_\w+\.py)::(test_\w+)(?:\[(\w+)\])?$")


def _rows() -> list[tuple[int, str, str]]:
    text = (REPO / "docs" / "ERRORS.md").read_text()
    lines = [x for x in text.splitlines() if re.match(r"^\| \d+ \|", x)]
    rows = []
    for line in lines:
        m = ROW.match(line)
        assert m, f"malformed catalogue row: {line}"
        rows.append((int(m.group(1)), m.group(2), m.group(3)))
    return rows


def test_every_row_names_a_test_that_exists():
    rows = _rows()
    assert [n for n, _, _ in rows] == list(range(1, len(rows) + 1))
    assert len(rows) >= 50
    for _, message, ref in rows:
        m = TEST.match(ref)
        assert m, f"bad test reference {ref}"
        source = (HERE / m.group(1)).read_text()
        assert f"def {m.group(2)}(" in source, ref
        if m.group(3):
            assert f'"{m.group(3)}"' in source, ref
        assert re.fullmatch(r"error: .+ \(.+\)(: .+)?", message), message


def test_every_catalogue_test_has_a_row():
    documented = {ref.split("[")[0] for _, _, ref in _rows()}
    for path in HERE.glob("test_*.py"):
        if path.name in NOT_CATALOGUE:
            continue
        for name in re.findall(r"^def (test_\w+)\(", path.read_text(), re.M):
            if name != "test_debug_shows_the_traceback":
                assert f"{path.name}::{name}" in documented, f"{path.name}::{name}"
