"""Checkpoint directory layout: names, listing, markers, durable writes.

Shared by the manager and the CLIs. ``model.ckpt-STEP`` counts only with a
parseable ``DONE`` marker; every file the marker lists must be present at its
recorded size.
"""

from __future__ import annotations

import json
import os
import pickle
import re
import shutil
from typing import Any

import torch

from tzrec.utils.errors import CheckpointError

MARKER = "DONE"
TRAIN_STATE = "train_state.pt"
EXTRA_STATE = "extra_state.pt"
PLAN = "plan.txt"
MODEL_SUBDIR = "model"
OPTIM_SUBDIR = "optimizer"
CKPT_RE = re.compile(r"^model\.ckpt-(\d+)$")
TMP_RE = re.compile(r"^\.(tmp|del)-model\.ckpt-(\d+)-(\d+)$")


def list_complete(model_dir: str) -> list[tuple[int, str]]:
    """Returns ``(step, path)`` of every complete checkpoint in model_dir."""
    if not os.path.isdir(model_dir):
        return []
    found = []
    for name in os.listdir(model_dir):
        match = CKPT_RE.match(name)
        path = os.path.join(model_dir, name)
        if match and marker_or_none(path) is not None:
            found.append((int(match.group(1)), path))
    return sorted(found)


def resolve_checkpoint_path(model_dir_or_ckpt: str) -> tuple[int, str]:
    """Resolves a ``model.ckpt-N`` directory or a model_dir (its latest).

    Args:
        model_dir_or_ckpt: what the user passed to ``--checkpoint_path`` or
            ``fine_tune_checkpoint``.

    Returns:
        ``(step, path)`` of a complete checkpoint.

    Raises:
        CheckpointError: the path is missing, incomplete or holds none.

    """
    path = os.path.normpath(model_dir_or_ckpt)
    match = CKPT_RE.match(os.path.basename(path))
    if match:
        validate_checkpoint(path)
        return int(match.group(1)), path
    if not os.path.isdir(path):
        raise CheckpointError(
            "checkpoint path does not exist", path, "pass a model_dir or model.ckpt-N"
        )
    found = list_complete(path)
    if not found:
        raise CheckpointError(
            "no complete checkpoint", path, "train first or pass a model.ckpt-N path"
        )
    return found[-1]


def validate_checkpoint(path: str) -> dict[str, Any]:
    """Checks the marker and that every file it lists is there, full size.

    Returns:
        The parsed marker.

    Raises:
        CheckpointError: naming the missing marker or the missing/short file.

    """
    marker = marker_or_none(path)
    if marker is None:
        raise CheckpointError(
            "checkpoint is incomplete (no valid DONE marker)",
            os.path.join(path, MARKER),
            "it was interrupted while being written; use an earlier checkpoint",
        )
    for rel, size in marker["files"].items():
        file = os.path.join(path, rel)
        if not os.path.isfile(file):
            raise CheckpointError("checkpoint file is missing", file)
        actual = os.path.getsize(file)
        if actual != size:
            raise CheckpointError(
                f"checkpoint file has {actual} bytes, the marker says {size}",
                file,
                "the file is truncated or was changed; use another checkpoint",
            )
    return marker


def marker_or_none(path: str) -> dict[str, Any] | None:
    try:
        return read_marker(path)
    except (OSError, ValueError, KeyError, TypeError):
        return None


def read_marker(path: str) -> dict[str, Any]:
    with open(os.path.join(path, MARKER), encoding="utf-8") as f:
        marker = json.load(f)
    if not isinstance(marker["step"], int) or not isinstance(marker["files"], dict):
        raise ValueError("bad marker")
    return marker


def load_weights_only(file: str, missing_ok: bool = False) -> Any:
    """``torch.load(weights_only=True)``; any failure names the file."""
    if missing_ok and not os.path.exists(file):
        return None
    try:
        return torch.load(file, map_location="cpu", weights_only=True)
    except Exception as e:  # noqa: BLE001 -- any unpickling failure is corruption
        if isinstance(e, pickle.UnpicklingError):
            # torch's own text suggests weights_only=False: never for a user.
            why = "holds objects a weights-only load refuses, or is corrupt"
        else:
            why = (
                str(e).strip().splitlines()[0].split(". ")[0] if str(e).strip() else ""
            )
        raise CheckpointError(
            f"cannot load checkpoint file ({type(e).__name__}: {why})",
            file,
            "the file is corrupt or not a tzrec checkpoint; use another checkpoint",
        ) from e


def fresh_dir(path: str) -> None:
    """Creates ``path`` empty (removing what a dead writer left there)."""
    shutil.rmtree(path, ignore_errors=True)
    os.makedirs(path)


def save_durable(obj: Any, file: str) -> None:
    """torch.save + fsync; creates the parent directory."""
    os.makedirs(os.path.dirname(file), exist_ok=True)
    with open(file, "wb") as f:
        torch.save(obj, f)
        f.flush()
        os.fsync(f.fileno())


def write_durable(data: bytes, file: str) -> None:
    with open(file, "wb") as f:
        f.write(data)
        f.flush()
        os.fsync(f.fileno())


def fsync_dir(path: str) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def list_files(root: str) -> dict[str, int]:
    files = {}
    for dirpath, _, names in os.walk(root):
        for name in names:
            full = os.path.join(dirpath, name)
            files[os.path.relpath(full, root)] = os.path.getsize(full)
    return dict(sorted(files.items()))


def pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True
