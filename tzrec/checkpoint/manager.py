"""Atomic checkpoints: ``model_dir/model.ckpt-STEP/``, listed, pruned, restored.

A checkpoint is written into ``model_dir/.tmp-model.ckpt-STEP-<pid>/`` and
renamed into place only after its ``DONE`` marker is on disk, so a directory
named ``model.ckpt-STEP`` with a marker is always complete; anything else is
ignored by every reader and removed by :meth:`CheckpointManager.cleanup_incomplete`.

Layout of one checkpoint::

    model/          torch.distributed.checkpoint of model.state_dict()
    optimizer/      same for optimizer.state_dict() (absent when saved without)
    rng/rank-R.pt   RNG states of rank R (restored only at the same world size)
    train_state.pt  the loop's train state (rank 0), loaded weights_only
    extra_state.pt  non-tensor state-dict leaves, if any (rank 0)
    plan.txt        the sharding plan as text, when given
    DONE            json {step, time, world_size, files: {relpath: bytes},
                    checksum: "xxh3_64", checksums: {relpath: hex digest}}

Every use of a checkpoint (restore, eval, export, fine-tune) first checks each
file's size and checksum against ``DONE``. Rank 0 lists the complete
checkpoints (and exports) in ``model_dir/artifacts.json`` after each save and
prune. Loading a full training state back is :mod:`tzrec.checkpoint.restore`'s
(:meth:`CheckpointManager.restore` calls it); loading weights only
(``fine_tune_checkpoint``) is :func:`load_model_weights` here.
"""

from __future__ import annotations

import dataclasses
import logging
import os
import shutil
import time
from collections.abc import Callable
from typing import Any

import torch.distributed as dist
from torch import nn

from tzrec.checkpoint import _dcp, artifacts, files
from tzrec.checkpoint.files import (
    list_complete,
    resolve_checkpoint_path,
    validate_checkpoint,
)
from tzrec.checkpoint.restore import restore_state
from tzrec.checkpoint.state import capture_rng_state, check_plain
from tzrec.run_dir import names
from tzrec.run_dir.atomic import fsync_dir, save_durable, write_durable
from tzrec.run_dir.marker import marker_or_none, read_marker, write_marker
from tzrec.utils.dist import get_dist_info
from tzrec.utils.errors import CheckpointError, TzrecError
from tzrec.utils.failpoints import failpoint

__all__ = [
    "CheckpointManager",
    "SaveResult",
    "list_complete",
    "load_model_weights",
    "resolve_checkpoint_path",
    "saved_model_keys",
    "validate_checkpoint",
]

logger = logging.getLogger("tzrec")

_WRITE_FIX = (
    "free disk space (or raise the quota, fix permissions) and resume with "
    "--continue_train; the checkpoints already written are intact"
)
# Temp dirs this process is writing right now; cleanup never touches them.
_WRITING: set[str] = set()


@dataclasses.dataclass(frozen=True)
class SaveResult:
    """What one save wrote: final path, total bytes and wall seconds."""

    path: str
    nbytes: int
    seconds: float


class CheckpointManager:
    """Saves, lists, prunes and restores the checkpoints of one model_dir.

    Collective where torch.distributed is: every rank calls ``save`` and
    ``restore``; rank 0 alone renames, prunes and cleans up.

    Args:
        model_dir: the run's directory.
        keep_max: newest complete checkpoints to keep in ``prune`` (0 = all).
        best_fn: returns the best step to protect from pruning, or None;
            ``tzrec.run_dir.best.EvalLogBest(...).best_step`` follows the eval
            log reading each line once.

    """

    def __init__(
        self,
        model_dir: str,
        keep_max: int = 0,
        best_fn: Callable[[], int | None] | None = None,
    ) -> None:
        self.model_dir = model_dir
        self.keep_max = keep_max
        self.best_fn = best_fn
        info = get_dist_info()
        if dist.is_initialized() and dist.get_world_size() != info.world_size:
            raise RuntimeError(
                "process group is initialised but tzrec.utils.dist is not; "
                "call tzrec.utils.dist.init_distributed() first"
            )
        self._rank = info.rank
        self._world_size = info.world_size

    # ---- save ---------------------------------------------------------------

    def save(
        self,
        step: int,
        model: nn.Module,
        optimizer: Any,
        train_state: dict[str, Any],
        plan: Any = None,
    ) -> SaveResult:
        """Writes ``model.ckpt-STEP`` atomically (collective across ranks).

        Args:
            step: optimizer steps completed.
            model: the (DistributedModelParallel) model.
            optimizer: its optimizer (a torchrec KeyedOptimizer or
                CombinedOptimizer), or None to save weights only.
            train_state: loop state; tensors, numbers, strings, lists, dicts.
            plan: the sharding plan, written as text when given.

        Returns:
            SaveResult with the final path, bytes written and seconds taken.

        """
        start = time.perf_counter()
        final = os.path.join(self.model_dir, names.checkpoint_name(step))
        tmp = self._tmp_path(step)
        if self._rank == 0:  # every rank writes into rank 0's temp dir
            err = _attempt(lambda: check_plain(train_state))
            err = err or _attempt(lambda: files.fresh_dir(tmp))
        tmp, err = self._broadcast((tmp, err) if self._rank == 0 else None)
        self._raise_if(err, tmp)
        _WRITING.add(tmp)
        try:
            model_extra = _dcp.save_tensors(
                model.state_dict(), os.path.join(tmp, names.MODEL_SUBDIR)
            )
            failpoint("checkpoint_mid_write", step)
            optim_extra: dict[str, Any] = {}
            if optimizer is not None:
                optim_extra = _dcp.save_tensors(
                    optimizer.state_dict(), os.path.join(tmp, names.OPTIM_SUBDIR)
                )
            rng_path = os.path.join(tmp, names.rng_file(self._rank))
            rng = _attempt(lambda: save_durable(capture_rng_state(), rng_path))
            self._raise_if(self._any(rng), tmp)
            if self._rank == 0:
                extra = {"model": model_extra, "optimizer": optim_extra}
                err = _attempt(
                    lambda: self._finish(step, tmp, final, train_state, extra, plan)
                )
            self._raise_if(self._broadcast(err if self._rank == 0 else None), tmp)
        except CheckpointError as e:
            if self._rank == 0:  # all ranks are past their writes: free the space
                shutil.rmtree(tmp, ignore_errors=True)
            raise CheckpointError(e.what, final, _WRITE_FIX) from e
        finally:
            _WRITING.discard(tmp)
        nbytes = sum(read_marker(final)["files"].values())
        return SaveResult(final, nbytes, time.perf_counter() - start)

    def _finish(
        self,
        step: int,
        tmp: str,
        final: str,
        train_state: dict[str, Any],
        extra: dict[str, dict[str, Any]],
        plan: Any,
    ) -> None:
        """Rank 0: small files, marker last, fsync, rename into place."""
        save_durable(train_state, os.path.join(tmp, names.TRAIN_STATE))
        if extra["model"] or extra["optimizer"]:
            check_plain(extra, "non-tensor state_dict entries")
            save_durable(extra, os.path.join(tmp, names.EXTRA_STATE))
        if plan is not None:
            write_durable(str(plan).encode(), os.path.join(tmp, names.PLAN))
        write_marker(tmp, step=step, time=time.time(), world_size=self._world_size)
        for root, _, _ in os.walk(tmp):
            fsync_dir(root)
        failpoint("checkpoint_before_rename", step)
        if os.path.exists(final):
            # Replace an existing checkpoint of the same step: move it aside
            # first so model.ckpt-STEP is never a half-written directory.
            aside = self._set_aside(final, step)
            os.rename(tmp, final)
            shutil.rmtree(aside, ignore_errors=True)
        else:
            os.rename(tmp, final)
        fsync_dir(self.model_dir)
        artifacts.refresh(self.model_dir)
        logger.debug("saved checkpoint %s", final)

    # ---- listing, pruning, cleanup ------------------------------------------

    def list_complete(self) -> list[tuple[int, str]]:
        """Returns ``(step, path)`` of every complete checkpoint, by step."""
        return list_complete(self.model_dir)

    def latest(self) -> tuple[int, str] | None:
        """Returns the newest complete checkpoint, or None."""
        found = self.list_complete()
        return found[-1] if found else None

    def prune(self) -> list[str]:
        """Deletes all but the newest ``keep_max`` checkpoints and the best.

        Rank 0 only (other ranks return at once). A checkpoint is first
        renamed aside, so a kill mid-delete never leaves a half-deleted
        ``model.ckpt-STEP`` behind.

        Returns:
            The paths deleted.

        """
        if self._rank != 0 or self.keep_max <= 0:
            return []
        found = self.list_complete()
        keep = {step for step, _ in found[-self.keep_max :]}
        best = self.best_fn() if self.best_fn is not None else None
        if best is not None:
            keep.add(best)
        deleted = []
        for step, path in found:
            if step not in keep:
                shutil.rmtree(self._set_aside(path, step), ignore_errors=True)
                deleted.append(path)
                logger.info("pruned checkpoint %s", path)
        if deleted:
            fsync_dir(self.model_dir)
            artifacts.refresh(self.model_dir)
        return deleted

    def cleanup_incomplete(self) -> list[str]:
        """Removes temp dirs of dead writers and marker-less checkpoints.

        Rank 0 only. A temp dir is left alone while its writer pid is alive,
        unless that pid is this process and it is not writing it now (a
        restarted container reuses pids).

        Returns:
            The paths removed.

        """
        if self._rank != 0 or not os.path.isdir(self.model_dir):
            return []
        removed = []
        for name in sorted(os.listdir(self.model_dir)):
            path = os.path.join(self.model_dir, name)
            tmp_match = names.TMP_RE.match(name)
            if tmp_match:
                pid = int(tmp_match.group(3))
                if path in _WRITING or (pid != os.getpid() and files.pid_alive(pid)):
                    continue
            elif not (names.CKPT_RE.match(name) and marker_or_none(path) is None):
                continue
            if os.path.isdir(path):
                shutil.rmtree(path, ignore_errors=True)
                removed.append(path)
                logger.warning("removed incomplete checkpoint %s", path)
        return removed

    # ---- restore ------------------------------------------------------------

    def restore(
        self, path: str, model: nn.Module, optimizer: Any = None
    ) -> dict[str, Any]:
        """Loads a complete checkpoint into ``model`` (and ``optimizer``).

        Collective across ranks; see :func:`tzrec.checkpoint.restore.restore_state`.

        Args:
            path: a ``model.ckpt-STEP`` directory.
            model: the model to load into, built and sharded as for training.
            optimizer: the optimizer to load into; None for eval/export.

        Returns:
            The saved train state (with this rank's ``"rng"`` when saved at
            this world size).

        """
        return restore_state(path, model, optimizer, self._rank, self._world_size)

    # ---- helpers ------------------------------------------------------------

    def _set_aside(self, path: str, step: int) -> str:
        """Renames a checkpoint out of the way (to be deleted); returns where."""
        aside = self._tmp_path(step, kind="del")
        shutil.rmtree(aside, ignore_errors=True)
        os.rename(path, aside)
        return aside

    def _tmp_path(self, step: int, kind: str = "tmp") -> str:
        return os.path.join(
            self.model_dir, names.temp_checkpoint_name(step, os.getpid(), kind)
        )

    def _any(self, error: str | None) -> str | None:
        """The first rank's error, on every rank (all ranks must call)."""
        if self._world_size == 1:
            return error
        errors: list[Any] = [None] * self._world_size
        dist.all_gather_object(errors, error)
        return next((e for e in errors if e), None)

    @staticmethod
    def _raise_if(error: str | None, tmp: str) -> None:
        if error:
            raise CheckpointError(f"checkpoint write failed: {error}", tmp)

    def _broadcast(self, obj: Any) -> Any:
        """Rank 0's ``obj`` on every rank."""
        if self._world_size == 1:
            return obj
        box = [obj]
        dist.broadcast_object_list(box, src=0)
        return box[0]


def _attempt(fn: Callable[[], Any]) -> str | None:
    """Runs ``fn``; a user-facing or OS error becomes a message for all ranks."""
    try:
        fn()
    except TzrecError as e:
        return e.one_line()
    except OSError as e:
        return f"{type(e).__name__}: {e} (check disk space and permissions)"
    return None


def load_model_weights(
    path: str, model: nn.Module, strict: bool = False
) -> tuple[list[str], list[str]]:
    """Loads model weights only (``fine_tune_checkpoint``).

    Parameters present in both with equal shapes are loaded; the rest keep
    their initial values and are listed.

    Args:
        path: a ``model.ckpt-N`` directory or a model_dir (its latest).
        model: the new model.
        strict: raise instead of listing when anything does not match.

    Returns:
        ``(missing, unexpected)``: model keys not loaded (absent or another
        shape in the checkpoint) and checkpoint keys the model lacks.

    """
    _, path = resolve_checkpoint_path(path)
    model_sd = model.state_dict()
    model_dir = os.path.join(path, names.MODEL_SUBDIR)
    multi = get_dist_info().world_size > 1
    missing, unexpected = _dcp.check_match(model_sd, model_dir, "model", strict, multi)
    extra = files.load_weights_only(
        os.path.join(path, names.EXTRA_STATE), missing_ok=True
    )
    _dcp.load_tensors(model_sd, model_dir, (extra or {}).get("model"), skip=missing)
    model.load_state_dict(model_sd)
    if missing or unexpected:
        logger.warning(
            "fine-tune from %s: %d parameters not loaded (%s); %d unused (%s)",
            path,
            len(missing),
            ", ".join(missing),
            len(unexpected),
            ", ".join(unexpected),
        )
    return missing, unexpected


def saved_model_keys(path: str) -> set[str]:
    """Tensor keys of the model state saved in checkpoint ``path`` (metadata only).

    Args:
        path: a ``model.ckpt-STEP`` directory.

    """
    metadata = _dcp.read_metadata(os.path.join(path, names.MODEL_SUBDIR))
    return set(metadata.state_dict_metadata)
