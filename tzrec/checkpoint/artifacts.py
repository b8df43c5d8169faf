"""``model_dir/artifacts.json``: the run's checkpoints and exports, one list.

Each entry: ``path`` (relative to model_dir for checkpoints, absolute for
exports), ``kind`` (``checkpoint`` or ``export``), ``bytes``, ``checksum`` (an
xxh3_64 digest of the artifact's per-file checksums in its ``DONE`` marker),
``step`` and ``created`` (ISO time). Checkpoint entries are rebuilt from the
complete checkpoints on disk at every update, so the list never names a pruned
or half-written one; export entries are kept once added. The file is replaced
atomically (temp file, fsync, rename) under an ``flock`` of model_dir, so a
save during training and an export at the same time both land.
"""

from __future__ import annotations

import contextlib
import datetime
import fcntl
import json
import logging
import os
from collections.abc import Iterator
from typing import Any

from tzrec.checkpoint.files import list_complete
from tzrec.run_dir import names
from tzrec.run_dir.atomic import atomic_write
from tzrec.run_dir.marker import digest_of, marker_or_none

MANIFEST = names.ARTIFACTS_FILE
_logger = logging.getLogger("tzrec")


def _iso(seconds: float | None) -> str | None:
    if seconds is None:
        return None
    stamp = datetime.datetime.fromtimestamp(seconds).astimezone()
    return stamp.isoformat(timespec="seconds")


def entry(path: str, kind: str, marker: dict[str, Any]) -> dict[str, Any]:
    """The manifest entry of one checkpoint or export from its marker."""
    return {
        "path": path,
        "kind": kind,
        "bytes": sum(marker["files"].values()),
        "checksum": digest_of(marker),
        "step": marker.get("step"),
        "created": _iso(marker.get("time")),
    }


def read(model_dir: str) -> list[dict[str, Any]]:
    """The manifest's entries; empty when there is none (or it is unreadable)."""
    try:
        with open(os.path.join(model_dir, MANIFEST), encoding="utf-8") as f:
            data = json.load(f)
        return [e for e in data["artifacts"] if isinstance(e, dict)]
    except (OSError, ValueError, KeyError, TypeError):
        return []


def refresh(model_dir: str, export: dict[str, Any] | None = None) -> None:
    """Rewrites the manifest: complete checkpoints on disk, exports kept.

    Never fails the caller: the manifest is a listing, the markers are the
    truth; a failed write is logged.

    Args:
        model_dir: the run's directory.
        export: an export entry to add (replacing one of the same path).

    """
    try:
        with _locked(model_dir):
            exports = [e for e in read(model_dir) if e.get("kind") == "export"]
            if export is not None:
                exports = [e for e in exports if e["path"] != export["path"]]
                exports.append(export)
            entries = []
            for _, path in list_complete(model_dir):
                marker = marker_or_none(path)
                if marker is not None:
                    entries.append(entry(os.path.basename(path), "checkpoint", marker))
            _write(model_dir, entries + exports)
    except OSError as e:
        _logger.warning("could not update %s: %s", MANIFEST, e)


@contextlib.contextmanager
def _locked(model_dir: str) -> Iterator[None]:
    fd = os.open(model_dir, os.O_RDONLY)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)


def _write(model_dir: str, entries: list[dict[str, Any]]) -> None:
    data = json.dumps({"artifacts": entries}, indent=1).encode() + b"\n"
    atomic_write(os.path.join(model_dir, MANIFEST), data)
