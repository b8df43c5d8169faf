"""Prints tzrec's file tree, one line per module: its docstring's first line.

    .venv/bin/python scripts/architecture_map.py [--packages]

``--packages`` prints packages and top-level modules only (CONTRIBUTING.md's
map). Generated protobuf modules are left out.
"""

from __future__ import annotations

import argparse
import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def first_line(path: Path) -> str:
    doc = ast.get_docstring(ast.parse(path.read_text(encoding="utf-8"))) or ""
    return doc.strip().splitlines()[0] if doc.strip() else ""


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--packages", action="store_true")
    args = p.parse_args()
    files = sorted((ROOT / "tzrec").rglob("*.py"))
    for path in files:
        rel = path.relative_to(ROOT)
        if rel.parts[1] == "protos" and path.name != "__init__.py":
            continue
        is_package = path.name == "__init__.py"
        if args.packages and not (is_package or len(rel.parts) == 2):
            continue
        name = f"{rel.parent}/" if is_package else str(rel)
        print(f"{name:42} {first_line(path)}")


if __name__ == "__main__":
    main()
