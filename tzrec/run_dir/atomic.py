"""Durable and atomic file writes: the one place that fsyncs.

``atomic_write`` replaces a file so that a crash (or an exception) at any
point leaves either the old file or the new one, never a mix: the bytes go to
a hidden temporary sibling, which is fsynced, renamed over the target, and the
folder is fsynced so the rename itself survives a power loss. Writers that
stream (Parquet, CSV) write to :func:`temp_sibling` themselves and finish with
:func:`replace_durably`.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from typing import IO, Any


def temp_sibling(path: str) -> str:
    """A hidden temporary name next to ``path``, unique to this process.

    ``dir/name`` -> ``dir/.name.tmp-PID``: hidden from listings and globs of
    the final names, in the same folder so the rename is atomic.
    """
    folder, name = os.path.split(os.fspath(path))
    return os.path.join(folder, f".{name}.tmp-{os.getpid()}")


def fsync_dir(path: str) -> None:
    """Makes the entries of folder ``path`` (a rename, a new file) durable.

    Raises:
        OSError: the folder cannot be opened or synced.

    """
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def fsync_dir_quietly(path: str) -> None:
    """:func:`fsync_dir` where the platform may not allow it; errors ignored."""
    with contextlib.suppress(OSError):
        fsync_dir(path)


def fsync_file(path: str) -> None:
    """Flushes a closed file's bytes to disk."""
    with open(path, "rb") as f:
        os.fsync(f.fileno())


def replace_durably(tmp: str, path: str) -> None:
    """Fsyncs the finished file ``tmp`` and renames it over ``path``, durably."""
    fsync_file(tmp)
    os.replace(tmp, path)
    fsync_dir_quietly(os.path.dirname(os.path.abspath(path)))


@contextlib.contextmanager
def atomic_open(path: str, mode: str = "wb", **kwargs: Any) -> Iterator[IO[Any]]:
    """Opens a temporary sibling of ``path``; on a clean exit it replaces ``path``.

    On an exception the temporary file is removed and ``path`` is untouched.
    The folder is created if missing.

    Args:
        path: the file to replace.
        mode: a write mode (``"wb"``, ``"w"``).
        **kwargs: passed to :func:`open` (``encoding=``).

    Yields:
        The open temporary file.

    """
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    tmp = temp_sibling(path)
    try:
        with open(tmp, mode, **kwargs) as f:
            yield f
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    finally:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
    fsync_dir_quietly(os.path.dirname(os.path.abspath(path)))


def atomic_write(path: str, data: bytes | str) -> None:
    """Replaces ``path`` with ``data`` atomically and durably.

    Args:
        path: the file; its folder is created if missing.
        data: bytes, or text written as UTF-8.

    Raises:
        OSError: the write failed; ``path`` still holds its old content.

    """
    raw = data.encode("utf-8") if isinstance(data, str) else data
    with atomic_open(path, "wb") as f:
        f.write(raw)


def write_durable(data: bytes, path: str) -> None:
    """Writes ``data`` to ``path`` in place and fsyncs it.

    Not atomic: for files inside a folder that is itself renamed into place
    once complete (a checkpoint or an export being written).
    """
    with open(path, "wb") as f:
        f.write(data)
        f.flush()
        os.fsync(f.fileno())


def save_durable(obj: Any, path: str) -> None:
    """``torch.save`` to ``path`` in place, then fsync; creates the folder.

    Not atomic, as :func:`write_durable`.
    """
    import torch

    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "wb") as f:
        torch.save(obj, f)
        f.flush()
        os.fsync(f.fileno())
