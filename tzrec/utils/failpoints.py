"""Crash-injection points for the kill/resume and disk-full tests.

``TZREC_FAILPOINT=<name>[:<step>[:<action>]]`` acts when the process reaches
the named point (at that step, if given). The action is ``kill`` (default):
SIGKILL itself, the same abrupt death as an OOM kill or a pre-empted machine;
or ``stop``: SIGSTOP itself, so a test can change the process from outside
(e.g. lower its file-size limit) at a known moment and then SIGCONT it; or
``term`` / ``int``: SIGTERM / SIGINT itself, as a scheduler or Ctrl-C would,
at a known moment (start-up, mid-checkpoint-write, mid-evaluation). Unset
(the normal case) a failpoint costs one dict lookup.
"""

from __future__ import annotations

import os
import signal

_SPEC = os.environ.get("TZREC_FAILPOINT", "")
_ACTIONS = {
    "kill": signal.SIGKILL,
    "stop": signal.SIGSTOP,
    "term": signal.SIGTERM,
    "int": signal.SIGINT,
}


def failpoint(name: str, step: int | None = None) -> None:
    """Kills or stops this process if ``TZREC_FAILPOINT`` names this point."""
    if not _SPEC:
        return
    want, _, rest = _SPEC.partition(":")
    if want != name:
        return
    want_step, _, action = rest.partition(":")
    if want_step and (step is None or int(want_step) != step):
        return
    os.kill(os.getpid(), _ACTIONS[action or "kill"])
