"""The ``DONE`` marker of a checkpoint or an export folder.

A folder counts as complete only with a parseable marker: JSON with an
integer ``step``, ``files`` (relative path -> bytes) and, since checksums were
added, ``checksum: "xxh3_64"`` and ``checksums`` (relative path -> hex
digest). The marker is written last, after every file it lists is durable.
"""

from __future__ import annotations

import json
import mmap
import os
from typing import Any

import xxhash

from tzrec.run_dir import names
from tzrec.run_dir.atomic import write_durable

CHECKSUM_ALGO = "xxh3_64"


def file_checksum(file: str) -> str:
    """The hex xxh3_64 digest of a file's bytes."""
    with open(file, "rb") as f:
        if os.fstat(f.fileno()).st_size == 0:
            return xxhash.xxh3_64().hexdigest()
        # mmap: no copies into Python buffers (3-4x faster than read()).
        with mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ) as data:
            return xxhash.xxh3_64(data).hexdigest()


def list_files(root: str) -> dict[str, int]:
    """Every file under ``root``: relative path -> bytes, sorted by path."""
    files = {}
    for dirpath, _, file_names in os.walk(root):
        for name in file_names:
            full = os.path.join(dirpath, name)
            files[os.path.relpath(full, root)] = os.path.getsize(full)
    return dict(sorted(files.items()))


def build_marker(root: str, **fields: Any) -> dict[str, Any]:
    """A marker for every file under ``root``: sizes and checksums.

    Args:
        root: the finished folder (the marker itself not yet written).
        **fields: ``step``, ``time`` and the like, stored first.

    """
    files = list_files(root)
    sums = {rel: file_checksum(os.path.join(root, rel)) for rel in files}
    return {**fields, "files": files, "checksum": CHECKSUM_ALGO, "checksums": sums}


def write_marker(root: str, **fields: Any) -> dict[str, Any]:
    """Builds the marker of ``root`` and writes it there, fsynced; returns it.

    The caller fsyncs the folders and renames ``root`` into place.
    """
    marker = build_marker(root, **fields)
    write_durable(json.dumps(marker).encode(), os.path.join(root, names.MARKER))
    return marker


def read_marker(path: str) -> dict[str, Any]:
    """The parsed marker of folder ``path``.

    Raises:
        OSError: no marker file.
        ValueError: not JSON, or without an integer ``step`` and a ``files`` dict.
        KeyError: a required field is missing.

    """
    with open(os.path.join(path, names.MARKER), encoding="utf-8") as f:
        marker = json.load(f)
    if not isinstance(marker["step"], int) or not isinstance(marker["files"], dict):
        raise ValueError("bad marker")
    return marker


def marker_or_none(path: str) -> dict[str, Any] | None:
    """The parsed marker of ``path``, or None when it is missing or unreadable."""
    try:
        return read_marker(path)
    except (OSError, ValueError, KeyError, TypeError):
        return None


def digest_of(marker: dict[str, Any]) -> str:
    """One checksum for a whole checkpoint or export: of its files' checksums."""
    sums = marker.get("checksums") or marker["files"]
    text = "\n".join(f"{rel} {sums[rel]}" for rel in sorted(sums))
    return xxhash.xxh3_64(text.encode()).hexdigest()


def first_changed_file(
    path: str, marker: dict[str, Any]
) -> tuple[str, str, str] | None:
    """The first listed file whose checksum differs from the marker's.

    Returns:
        ``(file, got, want)`` or None when all match (or the marker predates
        checksums).

    """
    sums = marker.get("checksums")
    if not isinstance(sums, dict):
        return None
    for rel in marker["files"]:
        file, want = os.path.join(path, rel), sums.get(rel)
        got = file_checksum(file)
        if got != want:
            return file, got, str(want)
    return None
