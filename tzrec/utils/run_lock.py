"""One writer per model_dir: an advisory lock held for the life of a run.

The lock is ``fcntl.flock`` on ``model_dir/.tzrec.lock``; the kernel releases it
when the holder dies, so a lock left by a killed run (SIGKILL, OOM, a lost
machine) never blocks the next one: it is simply taken over. The file keeps
the holder's pid and host for the error message.
"""

from __future__ import annotations

import fcntl
import json
import logging
import os
import socket
import time

from tzrec.run_dir.names import LOCK_FILE
from tzrec.utils.errors import ConfigError

__all__ = ["LOCK_FILE", "RunLock"]
_logger = logging.getLogger("tzrec")


class RunLock:
    """Exclusive lock on a model_dir; use as a context manager.

    Args:
        model_dir: the run's directory (created if missing).
    """

    def __init__(self, model_dir: str) -> None:
        self.path = os.path.join(model_dir, LOCK_FILE)
        self._fd: int | None = None

    def acquire(self) -> None:
        """Takes the lock, or raises ConfigError naming the run that holds it."""
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = _read_holder(fd)
            os.close(fd)
            raise ConfigError(
                f"another run is writing this model_dir ({holder})",
                os.path.dirname(self.path),
                "wait for it to finish, stop it, or choose another --model_dir",
            ) from None
        previous = _read_holder(fd)
        if previous != "unknown holder":
            _logger.debug(
                "taking over the lock of a finished or killed run: %s", previous
            )
        info = {"pid": os.getpid(), "host": socket.gethostname(), "since": time.time()}
        os.ftruncate(fd, 0)
        os.pwrite(fd, json.dumps(info).encode(), 0)
        self._fd = fd

    def release(self) -> None:
        """Releases the lock (idempotent); the file stays, unlocked."""
        if self._fd is None:
            return
        try:
            os.ftruncate(self._fd, 0)
            fcntl.flock(self._fd, fcntl.LOCK_UN)
        finally:
            os.close(self._fd)
            self._fd = None

    def __enter__(self) -> RunLock:
        self.acquire()
        return self

    def __exit__(self, *exc: object) -> None:
        self.release()


def _read_holder(fd: int) -> str:
    try:
        info = json.loads(os.pread(fd, 4096, 0) or b"{}")
        return f"pid {info['pid']} on {info['host']}"
    except (ValueError, KeyError, OSError):
        return "unknown holder"
