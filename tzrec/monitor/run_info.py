"""``model_dir/run.json`` and ``model_dir/version``: what ran, where, from what."""

from __future__ import annotations

import datetime
import json
import os
import platform
import socket
import subprocess
import sys
from typing import Any

import torch

import tzrec
from tzrec.run_dir import names
from tzrec.run_dir.atomic import atomic_write


def git_revision(path: str | None = None) -> str | None:
    """The commit of the git checkout holding ``path`` (tzrec's by default).

    Returns None when there is no repository or git is missing; a checkout
    with uncommitted changes gets a ``-dirty`` suffix.
    """
    where = path or os.path.dirname(os.path.abspath(tzrec.__file__))
    try:
        rev = subprocess.run(
            ["git", "rev-parse", "HEAD"],
            cwd=where,
            capture_output=True,
            text=True,
            timeout=5,
            check=True,
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "status", "--porcelain", "--untracked-files=no"],
            cwd=where,
            capture_output=True,
            text=True,
            timeout=5,
            check=True,
        ).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return None
    return f"{rev}-dirty" if dirty else rev or None


def collect_run_info(config_hash: str, world_size: int) -> dict[str, Any]:
    """The run's metadata as a JSON-ready dict."""
    try:
        import torchrec

        torchrec_version = getattr(torchrec, "__version__", "unknown")
    except ImportError:
        torchrec_version = None
    return {
        "tzrec_version": tzrec.__version__,
        "torch_version": torch.__version__,
        "torchrec_version": torchrec_version,
        "python_version": platform.python_version(),
        "git_revision": git_revision(),
        "host": socket.gethostname(),
        "world_size": world_size,
        "cuda": torch.version.cuda if torch.cuda.is_available() else None,
        "config_hash": config_hash,
        "start_time": datetime.datetime.now()
        .astimezone()
        .isoformat(timespec="seconds"),
        "argv": list(sys.argv),
    }


def write_run_info(model_dir: str, config_hash: str, world_size: int) -> dict[str, Any]:
    """Writes ``run.json`` and ``version`` into ``model_dir``; returns the info.

    Both are replaced atomically (temporary file + rename). A resumed run
    overwrites them with its own start.
    """
    os.makedirs(model_dir, exist_ok=True)
    info = collect_run_info(config_hash, world_size)
    atomic_write(
        os.path.join(model_dir, names.RUN_INFO_FILE), json.dumps(info, indent=2) + "\n"
    )
    atomic_write(os.path.join(model_dir, names.VERSION_FILE), f"{tzrec.__version__}\n")
    return info
