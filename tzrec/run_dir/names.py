"""Every name in a model_dir (and in a checkpoint or export inside it).

The model_dir contract (``DESIGN.md``) spelled once: readers, writers, tools
and tests import these instead of repeating literals. TensorBoard tag names
are not here; they live in :mod:`tzrec.monitor.keys`.
"""

from __future__ import annotations

import os
import re

# ---- files and folders directly in model_dir ----
PIPELINE_CONFIG = "pipeline.config"  # the resolved config of the run
# The previous pipeline.config while a run has not saved its first checkpoint.
PIPELINE_CONFIG_PREVIOUS = ".pipeline.config.previous"
EVAL_RESULT_FILE = "train_eval_result.jsonl"  # the eval log
EVENTS_FILE = "events.jsonl"
RUN_INFO_FILE = "run.json"
VERSION_FILE = "version"
ARTIFACTS_FILE = "artifacts.json"  # checkpoints and exports, listed
TRACKERS_FILE = "trackers.json"  # experiment trackers' resume state
LOCK_FILE = ".tzrec.lock"
LOG_DIR = "log"
EVAL_VAL_DIR = "eval_val"  # eval during training, overlaid with train curves
EVAL_DIR = "eval"  # standalone eval

# ---- a checkpoint: model_dir/model.ckpt-STEP/ ----
CHECKPOINT_PREFIX = "model.ckpt-"
CKPT_RE = re.compile(r"^model\.ckpt-(\d+)$")
# Being written (tmp) or being deleted (del) by process PID.
TMP_RE = re.compile(r"^\.(tmp|del)-model\.ckpt-(\d+)-(\d+)$")
MARKER = "DONE"  # completion marker of a checkpoint or an export
TRAIN_STATE = "train_state.pt"
EXTRA_STATE = "extra_state.pt"
PLAN = "plan.txt"
MODEL_SUBDIR = "model"
OPTIM_SUBDIR = "optimizer"
RNG_SUBDIR = "rng"


def checkpoint_name(step: int) -> str:
    """Folder name of the checkpoint of ``step``: ``model.ckpt-STEP``."""
    return f"{CHECKPOINT_PREFIX}{step}"


def checkpoint_step(name: str) -> int | None:
    """The step of a ``model.ckpt-STEP`` folder name; None for any other name."""
    match = CKPT_RE.match(name)
    return int(match.group(1)) if match else None


def temp_checkpoint_name(step: int, pid: int, kind: str = "tmp") -> str:
    """Hidden name of a checkpoint being written (``tmp``) or deleted (``del``)."""
    return f".{kind}-{checkpoint_name(step)}-{pid}"


def rng_file(rank: int) -> str:
    """Path inside a checkpoint of rank ``rank``'s RNG states."""
    return os.path.join(RNG_SUBDIR, f"rank-{rank}.pt")
