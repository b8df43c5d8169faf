"""Restoring a training state from a checkpoint into a live model and optimizer.

Every file is checked against the ``DONE`` marker and every saved tensor
against the live model's (and optimizer's) state dict before anything is
loaded, so a mismatch names its key and leaves the model untouched. Sharded
tables are resharded by torch.distributed.checkpoint when the world size
changed; per-rank RNG states are restored only at the same world size.
"""

from __future__ import annotations

import logging
import os
from typing import Any

from torch import nn

from tzrec.checkpoint import _dcp, files
from tzrec.checkpoint.files import validate_checkpoint
from tzrec.run_dir import names
from tzrec.utils.errors import CheckpointError

logger = logging.getLogger("tzrec")


def restore_state(
    path: str, model: nn.Module, optimizer: Any, rank: int, world_size: int
) -> dict[str, Any]:
    """Loads a complete checkpoint into ``model`` (and ``optimizer``).

    Collective across ranks. The world size may differ from the one that
    saved: sharded tables are resharded by torch.distributed.checkpoint.

    Args:
        path: a ``model.ckpt-STEP`` directory.
        model: the model to load into, built and sharded as for training.
        optimizer: the optimizer to load into; None for eval/export.
        rank: this process's rank.
        world_size: the number of ranks now.

    Returns:
        The saved train state. When saved at this world size, its ``"rng"``
        entry holds this rank's RNG states (apply with
        ``state.restore_rng_state``).

    Raises:
        CheckpointError: naming the file that is missing, corrupt or does
            not match the model/optimizer.

    """
    marker = validate_checkpoint(path)
    # Read and check everything before touching the model.
    train_state = files.load_weights_only(os.path.join(path, names.TRAIN_STATE))
    if not isinstance(train_state, dict):
        raise CheckpointError(
            "train state is not a dict", os.path.join(path, names.TRAIN_STATE)
        )
    extra = files.load_weights_only(
        os.path.join(path, names.EXTRA_STATE), missing_ok=True
    ) or {"model": {}, "optimizer": {}}
    model_sd = model.state_dict()
    model_dir = os.path.join(path, names.MODEL_SUBDIR)
    _dcp.check_match(model_sd, model_dir, "model", True, world_size > 1)
    optim_sd = None
    if optimizer is not None:
        optim_sd = _live_optimizer_state(optimizer, path, world_size > 1)
    _dcp.load_tensors(model_sd, model_dir, extra["model"])
    model.load_state_dict(model_sd)
    if optim_sd is not None:
        optim_dir = os.path.join(path, names.OPTIM_SUBDIR)
        _dcp.load_tensors(optim_sd, optim_dir, extra["optimizer"])
        optimizer.load_state_dict(optim_sd)
    _attach_rng(path, marker, train_state, rank, world_size)
    logger.info("restored checkpoint %s", path)
    return train_state


def _live_optimizer_state(optimizer: Any, path: str, multi: bool) -> dict[str, Any]:
    """The optimizer's state dict, checked against the checkpoint's.

    Lazily-built state (dense Adam before its first step) is created only
    when the checkpoint has state the live optimizer lacks, so a checkpoint
    saved before the first step still restores.
    """
    optim_dir = os.path.join(path, names.OPTIM_SUBDIR)
    if not os.path.isdir(optim_dir):
        raise CheckpointError(
            "missing optimizer state",
            optim_dir,
            "this checkpoint was saved without an optimizer; restore it "
            "for eval/export only or use it as fine_tune_checkpoint",
        )
    optim_sd = optimizer.state_dict()
    _, unexpected = _dcp.check_match(optim_sd, optim_dir, "optimizer", False, multi)
    if unexpected:
        _dcp.init_lazy_optimizer_state(optimizer)
        optim_sd = optimizer.state_dict()
    _dcp.check_match(optim_sd, optim_dir, "optimizer", True, multi)
    return optim_sd


def _attach_rng(
    path: str, marker: dict, train_state: dict, rank: int, world_size: int
) -> None:
    if marker.get("world_size") == world_size:
        rng_path = os.path.join(path, names.rng_file(rank))
        train_state["rng"] = files.load_weights_only(rng_path)
    elif rank == 0:
        logger.warning(
            "checkpoint %s was saved at world size %s, now %d: per-rank RNG "
            "states are not restored",
            path,
            marker.get("world_size"),
            world_size,
        )
