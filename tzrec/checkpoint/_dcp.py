"""torch.distributed.checkpoint without unrestricted unpickling.

DCP stores tensors (loaded with ``weights_only=True``) but reads its
``.metadata`` with plain ``pickle.load`` and non-tensor values with
``torch.load(weights_only=False)``. Here only tensors go through DCP (other
leaves are returned to the caller, who stores them weights_only-safe), the
metadata is read with an allow-listed unpickler, and the load planner refuses
pickled byte values: a tampered checkpoint is an error, never code run.
"""

from __future__ import annotations

import os
import pickle
from collections.abc import Iterable, Mapping
from typing import Any

import torch
import torch.distributed as dist
import torch.distributed.checkpoint as dcp
from torch.distributed.checkpoint.api import CheckpointException
from torch.distributed.checkpoint.default_planner import DefaultLoadPlanner
from torch.distributed.checkpoint.metadata import (
    Metadata,
    StorageMeta,
    TensorStorageMetadata,
)

from tzrec.utils.errors import CheckpointError

_ALLOWED = {
    "torch.distributed.checkpoint.metadata": {
        "Metadata",
        "MetadataIndex",
        "StorageMeta",
        "TensorProperties",
        "TensorStorageMetadata",
        "ChunkStorageMetadata",
        "BytesStorageMetadata",
        "_MEM_FORMAT_ENCODING",
    },
    "torch.distributed.checkpoint.filesystem": {"_StorageInfo"},
    "torch.serialization": {"_get_layout"},
    "torch": {"Size"},
    "pathlib": {"Path", "PosixPath", "WindowsPath", "PurePosixPath"},
    "collections": {"OrderedDict"},
}
_MAX_LISTED = 20


class _MetadataUnpickler(pickle.Unpickler):
    """Unpickles DCP metadata; any class outside the allow-list is refused."""

    def find_class(self, module: str, name: str) -> Any:
        if module == "torch" and isinstance(getattr(torch, name, None), torch.dtype):
            return getattr(torch, name)
        if name in _ALLOWED.get(module, ()):
            return super().find_class(module, name)
        raise pickle.UnpicklingError(f"global {module}.{name} is not allowed")


class _SafeReader(dcp.FileSystemReader):
    """FileSystemReader whose metadata is read with the allow-listed unpickler."""

    def read_metadata(self, *args: Any, **kwargs: Any) -> Metadata:
        return read_metadata(str(self.path))


class _SafePlanner(DefaultLoadPlanner):
    """Default planner that refuses pickled values (tzrec never saves any)."""

    def load_bytes(self, read_item: Any, value: Any) -> None:
        raise CheckpointError(
            "pickled value in checkpoint tensor data",
            str(read_item.dest_index.fqn),
            "this checkpoint was not written by tzrec",
        )


def read_metadata(ckpt_dir: str) -> Metadata:
    """Reads ``ckpt_dir/.metadata`` safely.

    Raises:
        CheckpointError: naming the file when it is missing, corrupt or holds
            anything but DCP metadata.

    """
    path = os.path.join(ckpt_dir, ".metadata")
    try:
        with open(path, "rb") as f:
            metadata = _MetadataUnpickler(f).load()
        if not isinstance(metadata, Metadata):
            raise pickle.UnpicklingError(f"found {type(metadata).__name__}")
    except Exception as e:  # any failure here means corruption
        raise CheckpointError(
            f"cannot read checkpoint metadata ({type(e).__name__}: {e})",
            path,
            "the checkpoint is corrupt or not a tzrec checkpoint; use another one",
        ) from e
    if getattr(metadata, "storage_meta", None) is None:
        metadata.storage_meta = StorageMeta()
    return metadata


def flatten(
    state: Mapping[str, Any],
) -> tuple[dict[str, Any], dict[str, Any], dict[str, tuple]]:
    """Splits a nested state dict into dotted-key tensors and other leaves.

    Returns:
        ``(tensors, others, paths)``; ``paths`` maps each dotted key to its
        key path in ``state``.

    """
    tensors: dict[str, Any] = {}
    others: dict[str, Any] = {}
    paths: dict[str, tuple] = {}

    def walk(node: Mapping, prefix: tuple) -> None:
        for key, value in node.items():
            path = prefix + (key,)
            if isinstance(value, Mapping):
                walk(value, path)
                continue
            flat = ".".join(str(k) for k in path)
            paths[flat] = path
            (tensors if isinstance(value, torch.Tensor) else others)[flat] = value

    walk(state, ())
    return tensors, others, paths


def _set_path(state: Any, path: tuple, value: Any) -> None:
    for key in path[:-1]:
        state = state[key]
    state[path[-1]] = value


def save_tensors(state: Mapping[str, Any], ckpt_dir: str) -> dict[str, Any]:
    """Saves the tensors of ``state`` with DCP (collective); returns the rest."""
    tensors, others, _ = flatten(state)
    try:
        dcp.save(
            tensors, storage_writer=dcp.FileSystemWriter(ckpt_dir, sync_files=True)
        )
    except (Exception, CheckpointException) as e:
        raise CheckpointError(
            f"checkpoint write failed ({_describe(e)})", ckpt_dir, "check disk space"
        ) from e
    return others


def load_tensors(
    state: dict[str, Any],
    ckpt_dir: str,
    others: Mapping[str, Any] | None = None,
    skip: Iterable[str] = (),
) -> None:
    """Loads DCP tensors (and saved non-tensor leaves) into ``state`` in place.

    Args:
        state: a live state dict; its tensors are overwritten.
        ckpt_dir: the DCP directory.
        others: non-tensor leaves saved beside it, by dotted key.
        skip: dotted keys not to load.

    """
    tensors, _, paths = flatten(state)
    for key in skip:
        tensors.pop(key, None)
    try:
        dcp.load(tensors, storage_reader=_SafeReader(ckpt_dir), planner=_SafePlanner())
    except (Exception, CheckpointException) as e:
        raise CheckpointError(
            f"cannot read checkpoint data ({_describe(e)})",
            ckpt_dir,
            "the checkpoint is corrupt; use another checkpoint",
        ) from e
    for key, value in tensors.items():
        _set_path(state, paths[key], value)
    for key, value in (others or {}).items():
        if key in paths:
            _set_path(state, paths[key], value)


def check_match(
    state: Mapping[str, Any],
    ckpt_dir: str,
    what: str,
    strict: bool,
    all_ranks: bool = False,
) -> tuple[list[str], list[str]]:
    """Compares live tensor keys and global shapes with a DCP checkpoint.

    Args:
        state: the live state dict.
        ckpt_dir: the DCP directory.
        what: "model" or "optimizer", for the message.
        strict: raise when anything differs.
        all_ranks: compare the union of every rank's keys (collective), so
            all ranks decide alike; sharded optimizer state differs per rank.

    Returns:
        ``(missing, unexpected)``: live keys the checkpoint lacks or holds
        with another shape, and checkpoint keys the live state lacks.

    Raises:
        CheckpointError: when strict and they differ, listing the keys.

    """
    saved = {
        k: tuple(v.size)
        for k, v in read_metadata(ckpt_dir).state_dict_metadata.items()
        if isinstance(v, TensorStorageMetadata)
    }
    live = {k: tuple(v.size()) for k, v in flatten(state)[0].items()}
    if all_ranks:
        gathered: list[Any] = [None] * dist.get_world_size()
        dist.all_gather_object(gathered, live)
        live = {k: v for rank_live in gathered for k, v in rank_live.items()}
    absent = sorted(set(live) - set(saved))
    unexpected = sorted(set(saved) - set(live))
    reshaped = sorted(k for k in set(live) & set(saved) if live[k] != saved[k])
    if strict and (absent or unexpected or reshaped):
        problems = []
        if absent:
            problems.append(f"not in checkpoint: {_names(absent)}")
        if unexpected:
            problems.append(f"not in {what}: {_names(unexpected)}")
        if reshaped:
            shapes = [f"{k} {list(saved[k])} vs {list(live[k])}" for k in reshaped]
            problems.append(f"shape (checkpoint vs {what}): {_names(shapes)}")
        raise CheckpointError(
            f"checkpoint does not match the {what}; " + "; ".join(problems),
            ckpt_dir,
            "restore with the config that wrote it, or load matching weights "
            "only with fine_tune_checkpoint",
        )
    return sorted(absent + reshaped), unexpected


def _describe(error: BaseException) -> str:
    """One line for an error; DCP's CheckpointException is unwrapped."""
    if isinstance(error, CheckpointException) and error.failures:
        rank, (error, _) = next(iter(sorted(error.failures.items())))
        return f"rank {rank}: {_describe(error)}"
    if isinstance(error, pickle.UnpicklingError):
        return "UnpicklingError: not a valid tensor record"
    return f"{type(error).__name__}: {_first_sentence(error)}"


def _first_sentence(error: BaseException) -> str:
    """The first sentence of an error's first line (torch's run on), <= 200 chars."""
    text = str(error).strip()
    first = text.splitlines()[0] if text else ""
    return first.split(". ")[0].rstrip(".")[:200]


def _names(keys: list[str]) -> str:
    shown = ", ".join(keys[:_MAX_LISTED])
    more = len(keys) - _MAX_LISTED
    return shown + (f" (+{more} more)" if more > 0 else "")


def init_lazy_optimizer_state(optimizer: Any) -> None:
    """Creates lazily-built optimizer state so DCP can load into it in place.

    A fresh dense optimizer (e.g. Adam in a KeyedOptimizerWrapper) has no
    state until its first step, and torchrec's KeyedOptimizer.load_state_dict
    refuses to load into that. A zero-gradient step creates it; the values
    are overwritten by the load, parameters by the model load.
    """
    subs = getattr(optimizer, "optimizers", None)
    if subs is not None:
        for _, sub in subs:
            init_lazy_optimizer_state(sub)
        return
    inner = getattr(optimizer, "_optimizer", None)
    params = getattr(optimizer, "params", None)
    if not isinstance(params, Mapping):
        if inner is not None:
            init_lazy_optimizer_state(inner)
        return
    trainable = [p for p in params.values() if p.requires_grad]
    if all(optimizer.state.get(p) for p in trainable):
        return
    optimizer.init_state()
    for p in trainable:
        p.grad = None
