"""A forked worker outliving its CLI process prints no traceback.

When one rank is killed, its DataLoader workers (forked) live on a moment and
multiprocessing's resource sharer thread in them reports the dead connection
through ``sys.excepthook``; that traceback used to land in the job's stderr
ahead of the surviving rank's one error line.
"""

from __future__ import annotations

import subprocess
import sys
import textwrap

from tests.cli import REPO, child_env

# A parent that installs the CLI's hooks and forks a child; the parent exits
# at once when told to, then the child reports an error both ways a thread
# can (sys.excepthook, as the resource sharer does, and an uncaught thread
# exception) and writes DONE.
_SCRIPT = textwrap.dedent(
    """
    import os, sys, threading, time
    from tzrec.utils import failures

    failures.install_excepthooks()
    orphan = sys.argv[1] == "orphan"
    parent = os.getpid()
    r, w = os.pipe()
    pid = os.fork()
    if pid == 0:
        os.close(w)
        os.read(r, 1)  # the parent is about to exit (or to wait)
        if orphan:
            while os.getppid() == parent:
                time.sleep(0.01)
        try:
            raise ConnectionResetError("peer gone")
        except ConnectionResetError:
            sys.excepthook(*sys.exc_info())

        def boom():
            raise EOFError("peer gone")

        t = threading.Thread(target=boom)
        t.start()
        t.join()
        print("DONE", file=sys.stderr, flush=True)
        os._exit(0)
    os.write(w, b"x")
    if orphan:
        os._exit(0)
    os.waitpid(pid, 0)
    """
)


def _child_stderr(mode: str) -> str:
    proc = subprocess.Popen(
        [sys.executable, "-c", _SCRIPT, mode],
        cwd=REPO,
        env=child_env(),
        stderr=subprocess.PIPE,
        text=True,
    )
    # The orphan keeps the pipe open after the parent exits: read to its end.
    return proc.communicate(timeout=120)[1]


def test_orphaned_worker_reports_nothing():
    stderr = _child_stderr("orphan")
    assert "DONE" in stderr, stderr
    assert "Traceback" not in stderr, stderr


def test_worker_with_live_parent_still_reports():
    stderr = _child_stderr("alive")
    assert "DONE" in stderr, stderr
    assert stderr.count("Traceback") == 2, stderr
    assert "ConnectionResetError: peer gone" in stderr
    assert "EOFError: peer gone" in stderr
