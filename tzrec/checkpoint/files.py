"""Complete checkpoints of a model_dir: listed, resolved, validated, loaded.

Shared by the manager and the CLIs; the names are :mod:`tzrec.run_dir.names`'s,
the marker :mod:`tzrec.run_dir.marker`'s. ``model.ckpt-STEP`` counts only with a
parseable ``DONE`` marker; every file the marker lists must be present at its
recorded size and, when used (restore, eval, export, fine-tune, predict), hash
to its recorded xxh3_64 checksum. Export directories carry the same marker.
"""

from __future__ import annotations

import os
import pickle
import shutil
from typing import Any

import torch

from tzrec.run_dir import names
from tzrec.run_dir.marker import CHECKSUM_ALGO, first_changed_file, marker_or_none
from tzrec.utils.errors import CheckpointError

# Checkpoints already verified by this process: path -> marker (mtime, size).
_VERIFIED: dict[str, tuple[int, int]] = {}


def list_complete(model_dir: str) -> list[tuple[int, str]]:
    """Returns ``(step, path)`` of every complete checkpoint in model_dir."""
    if not os.path.isdir(model_dir):
        return []
    found = []
    for name in os.listdir(model_dir):
        match = names.CKPT_RE.match(name)
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
    match = names.CKPT_RE.match(os.path.basename(path))
    if match and os.path.isdir(path):
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
    validate_checkpoint(found[-1][1])
    return found[-1]


def validate_checkpoint(path: str, verify: bool = True) -> dict[str, Any]:
    """Checks the marker, and every file it lists: present, size, checksum.

    Args:
        path: a ``model.ckpt-N`` (or export) directory.
        verify: also hash every file against the marker's checksums (once per
            process and marker; markers written before checksums have none).

    Returns:
        The parsed marker.

    Raises:
        CheckpointError: naming the missing marker or the missing, short or
            changed file, and offering the previous complete checkpoint.

    """
    marker = marker_or_none(path)
    if marker is None:
        raise CheckpointError(
            "checkpoint is incomplete (no valid DONE marker)",
            os.path.join(path, names.MARKER),
            "it was interrupted while being written; use an earlier checkpoint",
        )
    for rel, size in marker["files"].items():
        file = os.path.join(path, rel)
        if not os.path.isfile(file):
            raise CheckpointError(
                "checkpoint file is missing", file, _changed_fix(path)
            )
        actual = os.path.getsize(file)
        if actual != size:
            raise CheckpointError(
                f"checkpoint file has {actual} bytes, the marker says {size}",
                file,
                "the file is truncated or was changed; use another checkpoint",
            )
    if verify:
        verify_checksums(path, marker)
    return marker


def verify_checksums(path: str, marker: dict[str, Any]) -> None:
    """Hashes every file the marker lists and compares with its checksum.

    Raises:
        CheckpointError: naming the first file whose bytes changed.

    """
    if not isinstance(marker.get("checksums"), dict):
        return
    stat = os.stat(os.path.join(path, names.MARKER))
    key = os.path.abspath(path)
    if _VERIFIED.get(key) == (stat.st_mtime_ns, stat.st_size):
        return
    changed = first_changed_file(path, marker)
    if changed is not None:
        file, got, want = changed
        kind = "checkpoint" if names.CKPT_RE.match(os.path.basename(key)) else "export"
        raise CheckpointError(
            f"{kind} file is corrupt ({CHECKSUM_ALGO} {got}, its DONE marker "
            f"says {want})",
            file,
            _changed_fix(path),
        )
    _VERIFIED[key] = (stat.st_mtime_ns, stat.st_size)


def _changed_fix(path: str) -> str:
    """How to go on when ``path``'s files changed: its previous checkpoint."""
    match = names.CKPT_RE.match(os.path.basename(os.path.normpath(path)))
    if not match:
        return "it was changed after it was written; export the checkpoint again"
    step = int(match.group(1))
    model_dir = os.path.dirname(os.path.normpath(path))
    earlier = [p for s, p in list_complete(model_dir) if s < step]
    name = os.path.basename(os.path.normpath(path))
    if not earlier:
        return (
            f"no earlier complete checkpoint: remove {name} and train again "
            "without --continue_train"
        )
    return (
        f"use the previous complete checkpoint {earlier[-1]} (--checkpoint_path); "
        f"to resume from it, move {name} out of model_dir and run --continue_train"
    )


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


def pid_alive(pid: int) -> bool:
    """Whether process ``pid`` exists (on this host)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True
