"""Crash-injection points for the kill/resume tests.

``TZREC_FAILPOINT=<name>[:<step>]`` makes the process SIGKILL itself when it
reaches the named point (at that step, if given): the same abrupt death as an
OOM kill or a pre-empted machine, at a moment a test can choose. Unset (the
normal case) a failpoint costs one dict lookup.
"""

from __future__ import annotations

import os
import signal

_SPEC = os.environ.get("TZREC_FAILPOINT", "")


def failpoint(name: str, step: int | None = None) -> None:
    """Kills this process if ``TZREC_FAILPOINT`` names this point (and step)."""
    if not _SPEC:
        return
    want, _, want_step = _SPEC.partition(":")
    if want != name:
        return
    if want_step and (step is None or int(want_step) != step):
        return
    os.kill(os.getpid(), signal.SIGKILL)
