"""How a failed run reports itself: once per job, one line, no bug traceback.

Two failures come from the environment rather than from tzrec and get one
line instead of a traceback: a write that fails for lack of space (disk full,
quota, file-size limit, read-only disk) and, under torchrun, losing a peer
rank (its own error line says why). Under torchrun every rank usually fails
alike; rank 0 reports at once and the others wait ``PEER_GRACE_S`` first, so
torchrun stops them before they print duplicates.
"""

from __future__ import annotations

import errno
import logging
import os
import re
import sys
import threading
import time

from tzrec.utils.errors import TzrecError

# Seconds a non-zero rank waits before reporting (see ``report``).
PEER_GRACE_S = 10.0
# errno values of a write that failed for lack of space or a read-only disk.
STORAGE_ERRNOS = frozenset({errno.ENOSPC, errno.EDQUOT, errno.EFBIG, errno.EROFS})
# What gloo and NCCL say when a peer process is gone.
_PEER_GONE = re.compile(
    r"closed by peer|reset by peer|Broken pipe|remote (worker|process)|"
    r"process group .* (aborted|terminated)",
    re.IGNORECASE,
)
# What torch's DataLoader says when a worker process is gone.
_WORKER_GONE = re.compile(
    r"DataLoader worker \(pids?\(?s?\)? ?[\d, ]+\) (exited unexpectedly|is killed by "
    r"signal: [\w ]+)"
)
_DEFAULT_THREAD_HOOK = threading.excepthook


def report(line: str) -> None:
    """Prints ``line`` to stderr once per job (rank 0 at once, others late).

    A non-zero rank still alive after ``PEER_GRACE_S`` failed alone (e.g. bad
    rows in its share of the data): its line is printed, tagged with the rank.
    """
    rank = int(os.environ.get("RANK", "0") or 0)
    if rank != 0 and int(os.environ.get("WORLD_SIZE", "1") or 1) > 1:
        logging.getLogger("tzrec").debug(line)  # into the rank's log file
        time.sleep(PEER_GRACE_S)
        line = re.sub(r"^(error: )?", rf"\g<1>[rank {rank}] ", line, count=1)
    print(line, file=sys.stderr, flush=True)


def _chain(exc: BaseException | None) -> list[BaseException]:
    """``exc`` and the exceptions it was raised from or while handling."""
    out: list[BaseException] = []
    while exc is not None and all(exc is not e for e in out):
        out.append(exc)
        exc = exc.__cause__ or exc.__context__
    return out


def storage_error(exc: BaseException | None) -> OSError | None:
    """The first write that failed for lack of space in ``exc``'s chain.

    A later failure (e.g. while closing logs) is raised while handling the
    first, which is found by following ``__context__``.

    Returns:
        The earliest such OSError (with the file name a wrapper of it added,
        if it has none), or None when there is none.
    """
    chain = [
        e for e in _chain(exc) if isinstance(e, OSError) and e.errno in STORAGE_ERRNOS
    ]
    if not chain:
        return None
    first = chain[-1]
    named = [
        e.filename for e in reversed(chain) if e.filename and e.errno == first.errno
    ]
    return OSError(first.errno, first.strerror, named[0] if named else None)


def storage_message(e: OSError) -> str:
    """``error: cannot write: ... (<file>): <fix>`` for a full disk."""
    where = e.filename or "a file in model_dir"
    return (
        "error: "
        + TzrecError(
            f"cannot write: {e.strerror or e}",
            str(where),
            "free disk space (or raise the quota or file-size limit) and run again; "
            "train_eval resumes from the last checkpoint with --continue_train",
        ).one_line()
    )


def peer_failure(exc: BaseException | None) -> str | None:
    """Why a collective failed when another rank is gone, or None.

    Only in a multi-rank job; the reason is the first line of the backend's
    message, e.g. gloo's ``Connection closed by peer``.
    """
    if int(os.environ.get("WORLD_SIZE", "1") or 1) <= 1:
        return None
    for e in _chain(exc):
        text = str(e)
        if isinstance(e, RuntimeError) and _PEER_GONE.search(text):
            first = text.strip().splitlines()[0]
            return re.sub(r"^\[[^\]]*\] ", "", first).split(". ")[0][:160]
    return None


def peer_message(reason: str) -> str:
    """The line a rank prints when it stops because a peer is gone."""
    rank = int(os.environ.get("RANK", "0") or 0)
    return (
        f"rank {rank} stopped: another rank exited ({reason}); its error line "
        "is above, or in model_dir/log/rank<N>.log"
    )


def worker_killed(exc: BaseException | None) -> str | None:
    """Torch's words when a DataLoader worker was killed from outside, or None.

    A worker that raised re-raises its own error instead; one that vanished
    was killed (OOM killer, a signal to the process group), not a tzrec bug.
    """
    for e in _chain(exc):
        found = _WORKER_GONE.search(str(e))
        if isinstance(e, RuntimeError) and found:
            return found.group(0)
    return None


def worker_killed_message(what: str) -> str:
    """The line for a DataLoader worker killed from outside."""
    from tzrec.utils import supervise

    return (
        f"error: {what}: it was killed from outside (a signal, or the "
        f"out-of-memory killer: check dmesg); {supervise.resume_hint()}"
    )


def quiet_thread_excepthook(args: threading.ExceptHookArgs) -> None:
    """``threading.excepthook`` that stays silent about a full disk.

    TensorBoard's writer thread dies on a full disk; the main thread raises
    the same error at its next write and reports it as one line. A forked
    DataLoader worker whose parent is gone stays silent too (see
    :func:`quiet_excepthook`).
    """
    if storage_error(args.exc_value) is not None or orphaned_child():
        return
    _DEFAULT_THREAD_HOOK(args)


# The CLI process that installed the hooks; forked DataLoader workers inherit
# the value, so in a worker it names the parent.
_HOOK_OWNER_PID: int | None = None


def install_excepthooks() -> None:
    """Installs :func:`quiet_thread_excepthook` and :func:`quiet_excepthook`."""
    global _HOOK_OWNER_PID
    _HOOK_OWNER_PID = os.getpid()
    threading.excepthook = quiet_thread_excepthook
    sys.excepthook = quiet_excepthook


def orphaned_child() -> bool:
    """True in a process forked from the CLI process after that one died."""
    owner = _HOOK_OWNER_PID
    return owner is not None and os.getpid() != owner and os.getppid() != owner


def quiet_excepthook(*exc_info: object) -> None:
    """``sys.excepthook`` that stays silent in an orphaned DataLoader worker.

    When a rank is killed, its forked workers outlive it for a moment; the
    thread that hands tensors to the parent (multiprocessing's resource
    sharer, which reports through ``sys.excepthook``) then fails on the dead
    connection and would print a traceback into the job's stderr, ahead of
    the surviving rank's one error line. The death is the surviving rank's to
    report.
    """
    if orphaned_child():
        return
    sys.__excepthook__(*exc_info)  # type: ignore[arg-type]
