"""Every name the monitor writes: TensorBoard tags, folders, files, events.

Nothing else in tzrec spells a tag; dashboards, tests and tools import these.

Tags:
    ``loss/<name>``, ``loss/total``: train loss means over the log interval.
    ``lr/g<i>``: learning rate of optimizer parameter group ``i``.
    ``metric/<name>``: decayed train metrics (train run) and eval metrics
        (``eval_val/`` run), so a train and an eval curve of one metric overlay.
    ``global_gradient_norm``, ``<param>/gradient_norm``, ``<param>/gradient``
        (histogram), ``<param>`` (parameter histogram).
    ``perf/...``: throughput, step time split in milliseconds, memory in MB.
    ``best/<name>`` (``eval_val/``): best value of the export metric so far;
        the hparams view links it, so it lists each run's best.
"""

from __future__ import annotations

from collections.abc import Iterable

from tzrec.utils.errors import ConfigError

# ---- model_dir layout ----
EVAL_VAL_DIR = "eval_val"  # eval during training, overlaid with train curves
EVAL_DIR = "eval"  # standalone eval
LOG_DIR = "log"
EVAL_RESULT_FILE = "train_eval_result.jsonl"
EVENTS_FILE = "events.jsonl"
RUN_INFO_FILE = "run.json"
VERSION_FILE = "version"

# ---- train_config.tensorboard_summaries ----
SUMMARY_LOSS = "loss"
SUMMARY_LEARNING_RATE = "learning_rate"
SUMMARY_PARAMETER = "parameter"
SUMMARY_GLOBAL_GRADIENT_NORM = "global_gradient_norm"
SUMMARY_GRADIENT_NORM = "gradient_norm"
SUMMARY_GRADIENT = "gradient"
SUMMARY_NAMES = frozenset(
    {
        SUMMARY_LOSS,
        SUMMARY_LEARNING_RATE,
        SUMMARY_PARAMETER,
        SUMMARY_GLOBAL_GRADIENT_NORM,
        SUMMARY_GRADIENT_NORM,
        SUMMARY_GRADIENT,
    }
)
GRADIENT_SUMMARIES = frozenset(
    {SUMMARY_GLOBAL_GRADIENT_NORM, SUMMARY_GRADIENT_NORM, SUMMARY_GRADIENT}
)


def check_summaries(
    names: Iterable[str], where: str = "train_config"
) -> frozenset[str]:
    """Validates ``tensorboard_summaries``; returns them as a set.

    Raises:
        ConfigError: naming every unknown summary.
    """
    names = list(names)
    bad = [n for n in names if n not in SUMMARY_NAMES]
    if bad:
        raise ConfigError(
            f"unknown tensorboard summaries {bad}",
            f"{where}.tensorboard_summaries",
            f"use any of {', '.join(sorted(SUMMARY_NAMES))}",
        )
    return frozenset(names)


# ---- scalar tags ----
LOSS_TOTAL = "loss/total"
GLOBAL_GRADIENT_NORM = "global_gradient_norm"
PERF_SAMPLES_PER_SEC = "perf/samples_per_sec"
PERF_STEPS_PER_SEC = "perf/steps_per_sec"
PERF_RSS_MB = "perf/rss_mb"
# Training rows read by all ranks up to the evaluated step (eval_val/).
SAMPLES_SEEN = "samples_seen"
PERF_CUDA_MEM_MB = "perf/cuda_mem_mb"
PERF_CUDA_MAX_MEM_MB = "perf/cuda_max_mem_mb"
# Slowest and fastest rank's mean step time over a log window (multi-rank only).
PERF_RANK_STEP_MS_MIN = "perf/rank_step_time_ms/min"
PERF_RANK_STEP_MS_MAX = "perf/rank_step_time_ms/max"
STEP_PHASES = ("data_wait", "forward_backward", "optimizer")
# Eval metric names of per-loss means start with this; their eval tag is
# ``loss/<name>`` so they overlay the train loss curve.
EVAL_LOSS_PREFIX = "loss_"

# ---- console labels (progress line) ----
TOTAL_LOSS_LABEL = "total_loss"

# ---- events.jsonl ----
EVENT_RUN_STARTED = "run_started"
EVENT_RUN_FINISHED = "run_finished"
EVENT_EVAL_STARTED = "eval_started"
EVENT_EVAL_FINISHED = "eval_finished"
EVENT_CHECKPOINT_STARTED = "checkpoint_started"
EVENT_CHECKPOINT_FINISHED = "checkpoint_finished"
EVENT_BEST_CHANGED = "best_changed"
EVENT_EARLY_STOP = "early_stop"
EVENT_NON_FINITE_LOSS = "non_finite_loss"

# Wrappers whose attribute names prefix every parameter name; dropped in tags.
_PARAM_PREFIXES = ("_dmp_wrapped_module.", "module.", "_orig_mod.")


def loss_tag(name: str) -> str:
    """Tag of one train loss, e.g. ``loss/binary_cross_entropy``."""
    return f"loss/{name}"


def lr_tag(group: int) -> str:
    """Tag of a parameter group's learning rate, e.g. ``lr/g0``."""
    return f"lr/g{group}"


def metric_tag(name: str) -> str:
    """Tag of a train or eval metric, e.g. ``metric/auc``."""
    return f"metric/{name}"


def best_tag(name: str) -> str:
    """Tag in ``eval_val/`` of the best eval value so far, e.g. ``best/auc``."""
    return f"best/{name}"


def eval_loss_name(loss_name: str) -> str:
    """Eval-log key of a loss's batch-weighted mean, e.g. ``loss_bce``."""
    return f"{EVAL_LOSS_PREFIX}{loss_name}"


def eval_tag(name: str) -> str:
    """Tag in ``eval_val/`` of an eval-log key.

    ``loss_<x>`` keys map to ``loss/<x>`` (overlaying the train loss); every
    other key to ``metric/<name>``.
    """
    if name.startswith(EVAL_LOSS_PREFIX):
        return loss_tag(name[len(EVAL_LOSS_PREFIX) :])
    return metric_tag(name)


def step_time_tag(phase: str) -> str:
    """Mean milliseconds per step spent in a phase (or ``total``)."""
    return f"perf/step_time_ms/{phase}"


def param_name(name: str) -> str:
    """A parameter name without wrapper prefixes (DMP, DDP, compile)."""
    changed = True
    while changed:
        changed = False
        for prefix in _PARAM_PREFIXES:
            if name.startswith(prefix):
                name = name[len(prefix) :]
                changed = True
    return name


def param_tag(name: str) -> str:
    """Histogram tag of a parameter's values."""
    return param_name(name)


def gradient_norm_tag(name: str) -> str:
    """Scalar tag of one parameter's gradient L2 norm."""
    return f"{param_name(name)}/gradient_norm"


def gradient_tag(name: str) -> str:
    """Histogram tag of one parameter's gradient."""
    return f"{param_name(name)}/gradient"


def console_label(tag: str) -> str:
    """Label of a tag on the progress line: ``lr/g0`` -> ``lr_g0``.

    ``metric/auc`` -> ``auc``; ``loss/total`` -> ``total_loss``.
    """
    if tag == LOSS_TOTAL:
        return TOTAL_LOSS_LABEL
    if tag.startswith("metric/"):
        return tag[len("metric/") :]
    return tag.replace("/", "_")
