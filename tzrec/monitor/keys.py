"""Every name the monitor writes: TensorBoard tags, summaries, events.

Nothing else in tzrec spells a tag; dashboards, tests and tools import these.

Tags (TensorBoard opens the first two groups in sort order, so the groups a
user looks at first, ``loss`` and ``metric``, must sort before every other
default group):
    ``loss/<name>``: train loss means over the log interval; ``loss/total``
        only when there are several losses (it would repeat the one loss).
    ``metric/<name>``: decayed train metrics (train run) and eval metrics
        (``eval_val/`` run), so a train and an eval curve of one metric overlay.
    ``optimizer/lr/g<i>``: learning rate of parameter group ``i`` (g0 the
        sparse embedding group, g1 on the dense ones).
    ``global_gradient_norm``, ``<param>/gradient_norm``, ``<param>/gradient``
        (histogram), ``<param>`` (parameter histogram): opt-in.
    ``perf/...``: throughput, step time split in milliseconds, memory in MB;
        ``perf/eval_samples_per_sec`` in ``eval_val/``.
    ``run/best_step``, ``run/best_<metric>`` (``eval_val/``): the best
        evaluation so far, for the hparams table (its last value is the best).
    ``model/<name>``: model diagnostics reported through ``put``.
    ``table/<table>/<stat>``: embedding-table health.
Every scalar carries a description (:func:`describe`).
"""

from __future__ import annotations

from tzrec.run_dir import names

# ---- train_config.tensorboard_summaries ----
SUMMARY_LOSS = "loss"
SUMMARY_LEARNING_RATE = "learning_rate"
SUMMARY_PARAMETER = "parameter"
SUMMARY_GLOBAL_GRADIENT_NORM = "global_gradient_norm"
SUMMARY_GRADIENT_NORM = "gradient_norm"
SUMMARY_GRADIENT = "gradient"
# The one switch that turns embedding-table health off (on by default).
SUMMARY_NO_EMBEDDING_HEALTH = "no_embedding_health"
SUMMARY_NAMES = frozenset(
    {
        SUMMARY_NO_EMBEDDING_HEALTH,
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


# ---- scalar tags ----
LOSS_TOTAL = "loss/total"
PERF_EVAL_SAMPLES_PER_SEC = "perf/eval_samples_per_sec"
BEST_STEP = "run/best_step"
# ---- text tags ----
TEXT_PIPELINE_CONFIG = f"config/{names.PIPELINE_CONFIG}"
TEXT_RUN_INFO = "config/run.json"
TEXT_BEST = "run/best"
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
    """Tag of a parameter group's learning rate, e.g. ``optimizer/lr/g0``.

    Not TorchEasyRec's ``lr/g0``: ``lr`` sorts between ``loss`` and
    ``metric`` and TensorBoard would open it instead of the metrics.
    """
    return f"optimizer/lr/g{group}"


def metric_tag(name: str) -> str:
    """Tag of a train or eval metric, e.g. ``metric/auc``."""
    return f"metric/{name}"


def table_tag(table: str, stat: str) -> str:
    """Tag of an embedding-table health statistic, e.g. ``table/cat_0/unique_ids``."""
    return f"table/{table}/{stat}"


def model_tag(name: str) -> str:
    """Tag of a model diagnostic reported with ``put``, e.g. ``model/mmoe/...``."""
    return f"model/{name}"


def best_tag(name: str) -> str:
    """Tag in ``eval_val/`` of the best eval value so far, e.g. ``run/best_auc``."""
    return f"run/best_{name}"


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
    """Label of a tag on the progress line: ``loss/bce`` -> ``loss_bce``.

    ``metric/auc`` -> ``auc``; ``loss/total`` -> ``total_loss``;
    ``optimizer/lr/g0`` -> ``lr_g0`` (TorchEasyRec's console label).
    """
    if tag == LOSS_TOTAL:
        return TOTAL_LOSS_LABEL
    if tag.startswith("metric/"):
        return tag[len("metric/") :]
    if tag.startswith("optimizer/"):
        tag = tag[len("optimizer/") :]
    return tag.replace("/", "_")


_PERF_DESCRIPTIONS = {
    PERF_SAMPLES_PER_SEC: "Training rows per second over all ranks, since the "
    "previous log step; evaluation and checkpoint time left out.",
    PERF_STEPS_PER_SEC: "Optimizer steps per second since the previous log step; "
    "evaluation and checkpoint time left out.",
    PERF_EVAL_SAMPLES_PER_SEC: "Evaluation rows per second over all ranks, for the "
    "whole evaluation at this step.",
    PERF_RSS_MB: "Resident memory of the rank-0 process, MB.",
    PERF_CUDA_MEM_MB: "CUDA memory allocated by tensors now, MB.",
    PERF_CUDA_MAX_MEM_MB: "Peak CUDA memory allocated by tensors so far, MB.",
    PERF_RANK_STEP_MS_MIN: "Fastest rank's mean busy time per step, ms "
    "(a straggler shows as a gap to max).",
    PERF_RANK_STEP_MS_MAX: "Slowest rank's mean busy time per step, ms.",
    BEST_STEP: "Step of the best evaluation so far (the checkpoint export picks).",
    GLOBAL_GRADIENT_NORM: "L2 norm of all dense gradients before the update "
    "(sharded embedding tables excluded).",
}
_TABLE_DESCRIPTIONS = {
    "unique_ids": "Distinct ids of table {table} in this log step's batch.",
    "default_share": "Share of table {table}'s lookups in this log step's batch "
    "that hit its default_value or out-of-vocabulary bucket.",
    "empty_share": "Share of table {table}'s bags in this log step's batch with "
    "no id (missing value, a zero vector).",
    "collision_share": "Estimated share of distinct raw values hashed into table "
    "{table} that share a bucket, in this log step's batch (from distinct "
    "buckets vs buckets, assuming a uniform hash).",
    "rows_updated_share": "Share of table {table}'s rows whose weights changed "
    "since this launch started (rows the data reached).",
    "row_norm_mean": "Mean L2 norm of table {table}'s rows.",
    "row_norm_max": "Largest L2 norm of a row of table {table}.",
    "row_norm_mean_drift": "Change of table {table}'s mean row norm since the "
    "previous reading (large models read each table every few log steps).",
    "row_norm_max_drift": "Change of table {table}'s largest row norm since the "
    "previous reading (large models read each table every few log steps).",
}
_PHASE_DESCRIPTIONS = {
    "data_wait": "waiting for the next batch from the data loader",
    "forward_backward": "forward pass, loss and backward (embedding tables update "
    "here, fused)",
    "optimizer": "dense optimizer step",
    "total": "wall time per step, all phases and logging",
}


def describe(tag: str, eval_run: bool = False) -> str:
    """What a scalar tag shows, for TensorBoard's summary description.

    Args:
        tag: the scalar tag.
        eval_run: whether it is written in ``eval_val/`` (eval values).
    """
    if tag in _PERF_DESCRIPTIONS:
        return _PERF_DESCRIPTIONS[tag]
    head, _, rest = tag.partition("/")
    if tag == LOSS_TOTAL:
        return "Sum of the train losses, mean over the steps since the last log step."
    if head == "loss":
        if eval_run:
            return f"Eval loss {rest}: batch-weighted mean over the eval set."
        return f"Train loss {rest}: mean over the steps since the previous log step."
    if head == "metric":
        if eval_run:
            return f"Eval {rest} over the whole eval set at this step."
        return (
            f"Train {rest}, decayed: a running value over recent batches "
            "(not the whole run), so it trails the eval curve."
        )
    if tag.startswith("optimizer/lr/g"):
        group = tag[len("optimizer/lr/g") :]
        which = (
            "the sparse (embedding) optimizer"
            if group == "0"
            else "a dense optimizer group"
        )
        return f"Learning rate of parameter group {group}: {which}."
    if tag.startswith("perf/step_time_ms/"):
        phase = tag[len("perf/step_time_ms/") :]
        what = _PHASE_DESCRIPTIONS.get(phase, phase)
        return f"Mean milliseconds per step spent {what}, since the last log step."
    if head == "table":
        table, _, stat = rest.rpartition("/")
        return _TABLE_DESCRIPTIONS.get(stat, stat).format(table=table)
    if head == "model":
        return f"Model diagnostic {rest}, reported by the model on this log step."
    if head == "run" and rest.startswith("best_"):
        return f"Eval {rest[len('best_') :]} at the best step so far."
    if tag.endswith("/gradient_norm"):
        return f"L2 norm of the gradient of {tag[: -len('/gradient_norm')]}."
    return tag
