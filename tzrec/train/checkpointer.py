"""When and what the trainer saves: a save cadence and the checkpointed state.

:class:`SaveCadence` answers "is a checkpoint due now?" (every N steps or
every N epochs, as ``save_checkpoints_steps`` / ``save_checkpoints_epochs``
say); :class:`Checkpointer` saves the model, optimizer and the registered
state (:class:`tzrec.train.state.CheckpointedState`) through
:class:`tzrec.checkpoint.manager.CheckpointManager`, restores them, and
prunes.
"""

from __future__ import annotations

import logging
import os
from typing import Any

from torch import nn

from tzrec.checkpoint.manager import CheckpointManager, SaveResult
from tzrec.train.state import CheckpointedState, TrainState
from tzrec.utils.errors import CheckpointError

_logger = logging.getLogger("tzrec")


class SaveCadence:
    """Checkpoint triggers by step count or by epoch count.

    Args:
        every_steps: save when the step is a multiple of it (0: never).
        every_epochs: save when an epoch ends whose number (1-based) is a
            multiple of it (0: never). When set, ``every_steps`` is ignored,
            as in TorchEasyRec.
    """

    def __init__(self, every_steps: int = 0, every_epochs: int = 0) -> None:
        self.every_steps = 0 if every_epochs else every_steps
        self.every_epochs = every_epochs

    def due_after_step(self, step: int) -> bool:
        """Whether to save after ``step`` optimizer steps."""
        return bool(self.every_steps) and step % self.every_steps == 0

    def due_after_epoch(self, epochs_done: int) -> bool:
        """Whether to save at the end of epoch number ``epochs_done``."""
        return bool(self.every_epochs) and epochs_done % self.every_epochs == 0


class Checkpointer:
    """Saves and restores one run's checkpoints at its cadence.

    Every rank calls :meth:`save` and :meth:`restore` (collectives); rank 0
    alone prunes.

    Args:
        manager: the model_dir's checkpoint manager.
        cadence: when saves are due.
        model: the (DistributedModelParallel) model.
        optimizer: its optimizer.
        state: progress and the registered stateful parts.
        plan: the sharding plan, written beside the weights.
    """

    def __init__(
        self,
        manager: CheckpointManager,
        cadence: SaveCadence,
        model: nn.Module,
        optimizer: Any,
        state: CheckpointedState,
        plan: Any = None,
    ) -> None:
        self.manager = manager
        self.cadence = cadence
        self.model = model
        self.optimizer = optimizer
        self.state = state
        self.plan = plan
        self.last_saved = state.progress.step

    @property
    def progress(self) -> TrainState:
        """The run's progress (saved with every checkpoint)."""
        return self.state.progress

    def due(self, epoch_ended: bool = False) -> bool:
        """Whether the cadence asks for a save now.

        Args:
            epoch_ended: asked at an epoch end (``progress.epoch`` already
                counts it) rather than after a step.
        """
        p = self.progress
        if p.step == self.last_saved:
            return False
        if epoch_ended:
            return self.cadence.due_after_epoch(p.epoch)
        return self.cadence.due_after_step(p.step)

    def unsaved(self) -> bool:
        """Whether steps were taken since the last save (or the start)."""
        return self.progress.step != self.last_saved

    def save(self) -> SaveResult:
        """Writes ``model.ckpt-STEP`` now (collective across ranks)."""
        result = self.manager.save(
            self.progress.step,
            self.model,
            self.optimizer,
            self.state.state_dict(),
            self.plan,
        )
        self.last_saved = self.progress.step
        return result

    def path_for(self, step: int) -> str:
        """Where the checkpoint of ``step`` is written."""
        return os.path.join(self.manager.model_dir, f"model.ckpt-{step}")

    def prune(self) -> list[str]:
        """Deletes old checkpoints beyond ``keep_checkpoint_max`` (not the best)."""
        return self.manager.prune()

    def restore_latest(self) -> str | None:
        """Restores the newest complete checkpoint; returns its path (None: none).

        Raises:
            CheckpointError: the checkpoint's name and its saved step differ.
        """
        latest = self.manager.latest()
        if latest is None:
            return None
        step, path = latest
        self.state.load_state_dict(
            self.manager.restore(path, self.model, self.optimizer)
        )
        if step != self.progress.step:
            raise CheckpointError(
                f"checkpoint name says step {step}, its state {self.progress.step}",
                path,
                "remove the damaged checkpoint",
            )
        self.last_saved = step
        return path
