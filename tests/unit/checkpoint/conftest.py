"""Fixtures for checkpoint tests: a one-process gloo group for torchrec."""

from __future__ import annotations

import pytest

from tzrec.utils.dist import init_distributed


@pytest.fixture(scope="session")
def process_group():
    """Initialises (once per session) the process group DMP needs.

    tzrec.utils.dist picks 127.0.0.1 and a free port when MASTER_ADDR is unset.
    The group is left up: other test files may share it.
    """
    return init_distributed()
