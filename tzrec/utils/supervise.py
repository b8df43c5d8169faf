"""Ranks that stop when their launcher or a peer rank is gone.

torchrun starts each rank in a session of its own, so a launcher killed with
SIGKILL leaves its ranks running (training on, or blocked in a collective for
gloo's 30-minute timeout) while rank 0 holds the model_dir lock. A daemon
thread in every rank checks twice a second that its launcher is still its
parent and that the peer ranks on its host are alive (their pids and start
times are exchanged once at start-up). When one is gone the rank prints one
line naming it and the step ``--continue_train`` resumes from, kills its own
child processes (DataLoader workers, which share the lock's file descriptor)
and exits at once, releasing the lock.

A rank that exits because of its own error first leaves a note (a file named
by its pid in the temp directory), so its peers stop quietly instead of
reporting it as dead: its own line says why.
"""

from __future__ import annotations

import contextlib
import dataclasses
import logging
import os
import signal
import socket
import sys
import tempfile
import threading
import time
from collections.abc import Callable

import psutil

_logger = logging.getLogger("tzrec")
POLL_S = 0.5
EXIT_GONE = 1


@dataclasses.dataclass(frozen=True)
class Peer:
    """Another rank of the job, on this host."""

    rank: int
    pid: int
    started: float


@dataclasses.dataclass
class _Watch:
    rank: int
    model_dir: str
    launcher: int | None
    peers: list[Peer]
    on_exit: Callable[[], None] | None
    stopped: threading.Event = dataclasses.field(default_factory=threading.Event)


_WATCH: _Watch | None = None
_STOPPING = threading.Lock()
_MODEL_DIR = ""


def _started(pid: int) -> float:
    return psutil.Process(pid).create_time()


def watch_launcher(
    model_dir: str, rank: int, on_exit: Callable[[], None] | None = None
) -> None:
    """Starts watching the torchrun launcher alone, before the process group.

    Imports and the process group's rendezvous take seconds, and a launcher
    killed meanwhile takes its rendezvous store with it: without this watch
    the ranks would block there. :func:`start` adds the peers later.
    """
    global _WATCH, _MODEL_DIR
    _MODEL_DIR = model_dir
    if _WATCH is not None or "TORCHELASTIC_RUN_ID" not in os.environ:
        return
    _WATCH = _Watch(rank, model_dir, os.getppid(), [], on_exit)
    threading.Thread(target=_watch, args=(_WATCH,), daemon=True).start()


def start(
    model_dir: str,
    rank: int,
    world_size: int,
    on_exit: Callable[[], None] | None = None,
) -> None:
    """Starts watching the launcher and the peers (every rank calls it).

    Collective when ``world_size > 1``: the ranks exchange host, pid and start
    time through the initialised process group.

    Args:
        model_dir: the run's directory (for the resume step in the message).
        rank: this rank.
        world_size: ranks in the job.
        on_exit: called before the process exits for a lost launcher or
            peer, e.g. to release the model_dir lock.

    """
    global _WATCH, _MODEL_DIR
    _MODEL_DIR = model_dir
    if _WATCH is not None and _WATCH.peers:
        return
    launcher = os.getppid() if "TORCHELASTIC_RUN_ID" in os.environ else None
    peers: list[Peer] = []
    if world_size > 1:
        import torch.distributed as dist

        me = (socket.gethostname(), os.getpid(), _started(os.getpid()))
        everyone: list = [None] * world_size
        dist.all_gather_object(everyone, me)
        peers = [
            Peer(r, pid, started)
            for r, (host, pid, started) in enumerate(everyone)
            if r != rank and host == me[0]
        ]
    if _WATCH is not None:  # the launcher is watched already: add the peers
        _WATCH.on_exit = on_exit
        _WATCH.peers = peers
        return
    if launcher is None and not peers:
        return
    _WATCH = _Watch(rank, model_dir, launcher, peers, on_exit)
    threading.Thread(target=_watch, args=(_WATCH,), daemon=True).start()


def stop() -> None:
    """Stops watching: called before an orderly exit (ranks leave one by one)."""
    global _WATCH
    if _WATCH is not None:
        _WATCH.stopped.set()
        _WATCH = None


def _watch(watch: _Watch) -> None:
    while not watch.stopped.wait(POLL_S):
        gone = _gone(watch)
        if gone is not None and not watch.stopped.is_set():
            stop_for(gone, watch)


def lost() -> str | None:
    """What is gone (launcher or peer) right now, or None; for error paths."""
    watch = _WATCH
    return _gone(watch) if watch is not None else None


def lost_after(exc: BaseException, wait_s: float = 2.0) -> str | None:
    """What is gone, waiting up to ``wait_s`` for a death to become visible.

    Called when a rank fails: a collective or a DataLoader worker often fails
    a moment before the dead peer is reaped or the launcher's signal lands.
    """
    del exc  # any failure of a watched rank may be a peer's death
    watch = _WATCH
    if watch is None:
        return None
    deadline = time.monotonic() + wait_s
    while True:
        gone = _gone(watch)
        if gone is not None or time.monotonic() >= deadline:
            return gone
        time.sleep(POLL_S / 5)


def _gone(watch: _Watch) -> str | None:
    if watch.launcher is not None and os.getppid() != watch.launcher:
        return f"the launcher died (pid {watch.launcher})"
    for peer in watch.peers:
        if not _alive(peer):
            if _take_note(peer):
                return f"another rank exited (rank {peer.rank} reported why)"
            return f"rank {peer.rank} died without an error line (pid {peer.pid})"
    return None


def _alive(peer: Peer) -> bool:
    try:
        proc = psutil.Process(peer.pid)
        if abs(proc.create_time() - peer.started) > 0.01:
            return False  # the pid was reused
        return proc.status() != psutil.STATUS_ZOMBIE
    except psutil.Error:
        return False


def _note_path(pid: int, started: float) -> str:
    return os.path.join(tempfile.gettempdir(), f"tzrec-exit-{pid}-{started:.3f}")


def note_exit() -> None:
    """Marks this rank's exit as reported by itself (see the module doc)."""
    if _WATCH is None or not _WATCH.peers:
        return
    with contextlib.suppress(OSError, psutil.Error):
        with open(_note_path(os.getpid(), _started(os.getpid())), "w"):
            pass


def _take_note(peer: Peer) -> bool:
    # Left in place: every surviving peer reads it (a few bytes per failed run).
    return os.path.exists(_note_path(peer.pid, peer.started))


def resume_hint(model_dir: str | None = None) -> str:
    """``--continue_train resumes from step N`` for the newest checkpoint."""
    from tzrec.checkpoint.files import list_complete

    model_dir = _MODEL_DIR if model_dir is None else model_dir
    found = list_complete(model_dir) if model_dir else []
    if not found:
        return "no checkpoint yet: run again to start over"
    return f"--continue_train resumes from step {found[-1][0]}"


def stop_for(gone: str, watch: _Watch | None = None) -> None:
    """Prints one line for ``gone``, stops the children and exits (once)."""
    watch = watch or _WATCH
    if watch is None or not _STOPPING.acquire(blocking=False):
        return
    watch.stopped.set()
    if gone.startswith("another rank exited"):
        line = f"rank {watch.rank} stopped: {gone}"
    else:
        line = (
            f"error: {gone}: rank {watch.rank} stopped; {resume_hint(watch.model_dir)}"
        )
    if _reporter(watch, gone):
        print(line, file=sys.stderr, flush=True)
    _logger.debug(line)  # the rank log; the console line is printed above
    for handler in logging.getLogger("tzrec").handlers:
        with contextlib.suppress(Exception):
            handler.flush()
    _kill_children()
    if watch.on_exit is not None:
        with contextlib.suppress(Exception):
            watch.on_exit()
    os._exit(EXIT_GONE)


def _reporter(watch: _Watch, gone: str) -> bool:
    """The lowest surviving rank on this host prints; the others only log."""
    if gone.startswith("the launcher"):
        alive = [p.rank for p in watch.peers]
    else:
        alive = [p.rank for p in watch.peers if _alive(p)]
    return all(watch.rank < r for r in alive)


def _kill_children() -> None:
    with contextlib.suppress(psutil.Error):
        for child in psutil.Process().children(recursive=True):
            with contextlib.suppress(psutil.Error, OSError):
                child.send_signal(signal.SIGKILL)
