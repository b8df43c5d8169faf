"""Generates tzrec/protos/*_pb2.py and their .pyi stubs from protos/*.proto.

Skips when up to date. The stubs let mypy see each message's fields.
"""

import os
import pathlib
import sys

from grpc_tools import protoc

ROOT = pathlib.Path(__file__).resolve().parent.parent


def main() -> int:
    """Runs protoc when any .proto is newer than its generated module or stub."""
    sources = sorted((ROOT / "protos").glob("*.proto"))
    out_dir = ROOT / "tzrec" / "protos"
    stale = [
        s
        for s in sources
        for out in (out_dir / f"{s.stem}_pb2.py", out_dir / f"{s.stem}_pb2.pyi")
        if not out.exists() or out.stat().st_mtime < s.stat().st_mtime
    ]
    if not stale:
        return 0
    args = [
        "protoc",
        "-Itzrec/protos=protos",
        f"-I{pathlib.Path(protoc.__file__).parent / '_proto'}",
        "--python_out=.",
        "--pyi_out=.",
        *[f"tzrec/protos/{s.name}" for s in sources],
    ]
    os.chdir(ROOT)
    rc = protoc.main(args)
    if rc != 0:
        print("[install] error: protoc failed", file=sys.stderr)
        return rc
    print(f"[install] generated {len(sources)} proto modules")
    return 0


if __name__ == "__main__":
    sys.exit(main())
