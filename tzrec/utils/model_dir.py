"""Checks on the run's directory that need no heavy import (train_eval)."""

from __future__ import annotations

import os

from tzrec.run_dir.names import CHECKPOINT_PREFIX
from tzrec.utils.errors import ConfigError


def check_model_dir(model_dir: str, continue_train: bool) -> None:
    """A model_dir must be a directory; one holding checkpoints needs --continue_train.

    Raises:
        ConfigError: naming model_dir and the fix.
    """
    if os.path.exists(model_dir) and not os.path.isdir(model_dir):
        raise ConfigError("model_dir is a file", model_dir, "pass a directory path")
    has_ckpt = os.path.isdir(model_dir) and any(
        n.startswith(CHECKPOINT_PREFIX) for n in os.listdir(model_dir)
    )
    if has_ckpt and not continue_train:
        raise ConfigError(
            "model_dir already holds checkpoints",
            model_dir,
            "pass --continue_train to resume, or choose a new --model_dir",
        )


def make_model_dir(model_dir: str) -> None:
    """Creates model_dir if needed; raises ConfigError unless it is writable."""
    try:
        os.makedirs(model_dir, exist_ok=True)
    except OSError as e:
        raise ConfigError(
            f"cannot create model_dir: {e.strerror}",
            model_dir,
            "choose a writable path",
        ) from None
    if not os.access(model_dir, os.W_OK):
        raise ConfigError(
            "model_dir is not writable", model_dir, "choose a writable path"
        )
