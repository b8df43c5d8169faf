"""Run settings resolved once from the validated config, defaults applied.

Runtime code (the monitor, the session, export) takes these frozen objects
instead of re-reading the proto: every default (an empty metric name meaning
``auc``, a save cadence in epochs switching the step cadence off, the
embedding-health switch) is applied here, once, and nothing here is checked
again at runtime. :func:`tzrec.config.validate` is what rejects bad values;
resolve only a config it accepted.
"""

from __future__ import annotations

from dataclasses import dataclass

from tzrec.config.load import config_hash, config_text
from tzrec.monitor.keys import SUMMARY_NO_EMBEDDING_HEALTH
from tzrec.protos import export_pb2, pipeline_pb2

# Eval-log key ranking evaluations when a config names none (TorchEasyRec's
# default for best_exporter_metric and early_stopping.metric_name).
DEFAULT_METRIC = "auc"


@dataclass(frozen=True)
class MetricGoal:
    """An eval-log metric and which way is better.

    Attributes:
        name: eval-log key, e.g. ``auc`` or ``auc_ctr``.
        larger_is_better: the ranking direction.

    """

    name: str
    larger_is_better: bool = True


@dataclass(frozen=True)
class MonitorSettings:
    """What the monitor logs and how often (``train_config``/``eval_config``).

    Attributes:
        batch_size: rows per step per rank (``data_config.batch_size``).
        log_every_steps: train log period (``log_step_count_steps``, >= 1).
        log_every_secs: minimum seconds between console lines.
        eval_log_every_steps: eval progress line period in eval steps (>= 1).
        use_tensorboard: write TensorBoard event files.
        summaries: ``tensorboard_summaries`` (loss and lr are always on).
        embedding_health: write embedding-table health on log steps.
        best: the metric whose best is written as ``run/best_*``; None: none.
        config_hash: hash of the resolved config (run.json, events).
        config_text: the resolved config, shown as a TensorBoard text.

    """

    batch_size: int
    log_every_steps: int
    log_every_secs: float
    eval_log_every_steps: int
    use_tensorboard: bool
    summaries: frozenset[str]
    embedding_health: bool
    best: MetricGoal | None
    config_hash: str
    config_text: str


@dataclass(frozen=True)
class EarlyStopSettings:
    """``train_config.early_stopping``: stop when the metric stops improving.

    Attributes:
        goal: the metric and its direction.
        patience: evaluations without improvement before stopping.
        min_delta: the smallest change that counts as an improvement.

    """

    goal: MetricGoal
    patience: int
    min_delta: float


@dataclass(frozen=True)
class TrainSettings:
    """How long to train and when to save (``train_config``).

    Attributes:
        num_steps: steps to train (0: train ``num_epochs``).
        num_epochs: epochs to train (0: train ``num_steps``).
        save_steps: checkpoint period in steps (0 when saving by epochs).
        save_epochs: checkpoint period in epochs (0: by steps).
        keep_checkpoint_max: checkpoints kept (0: all).
        early_stop: early stopping, or None when not configured.

    """

    num_steps: int
    num_epochs: int
    save_steps: int
    save_epochs: int
    keep_checkpoint_max: int
    early_stop: EarlyStopSettings | None


@dataclass(frozen=True)
class EvalSettings:
    """Evaluation during and after training.

    Attributes:
        best: the metric ranking evaluations: the best checkpoint (export,
            pruning), TensorBoard's ``run/best_*`` (``best_exporter_metric``).
        num_steps: batches per evaluation (0: the whole eval data).
        log_every_steps: eval progress line period in eval steps (>= 1; 0 in
            the config means every step).

    """

    best: MetricGoal
    num_steps: int
    log_every_steps: int


@dataclass(frozen=True)
class ExportSettings:
    """Which checkpoint ``python -m tzrec.export`` takes.

    Attributes:
        exporter_type: ``best``, ``final`` or ``latest``.
        best: the metric ranking checkpoints for ``best``.

    """

    exporter_type: str
    best: MetricGoal


@dataclass(frozen=True)
class Settings:
    """Every resolved settings object of one run."""

    train: TrainSettings
    eval: EvalSettings
    export: ExportSettings
    monitor: MonitorSettings


def best_goal(export_config: export_pb2.ExportConfig | None) -> MetricGoal:
    """The metric ranking evaluations (``best_exporter_metric``, else auc).

    Args:
        export_config: the config's export section; None (a run whose config
            cannot be read) means the defaults.

    Returns:
        The metric and its direction.

    """
    if export_config is None:
        return MetricGoal(DEFAULT_METRIC)
    return MetricGoal(
        export_config.best_exporter_metric or DEFAULT_METRIC,
        export_config.metric_larger_is_better,
    )


def eval_settings(config: pipeline_pb2.EasyRecConfig) -> EvalSettings:
    """The evaluation settings (see :class:`EvalSettings`)."""
    ec = config.eval_config
    return EvalSettings(
        best_goal(config.export_config), ec.num_steps, max(1, ec.log_step_count_steps)
    )


def export_settings(export_config: export_pb2.ExportConfig) -> ExportSettings:
    """The export section's settings (see :class:`ExportSettings`)."""
    return ExportSettings(export_config.exporter_type, best_goal(export_config))


def train_settings(config: pipeline_pb2.EasyRecConfig) -> TrainSettings:
    """The training length and save cadence (see :class:`TrainSettings`)."""
    tc = config.train_config
    early_stop = None
    if tc.HasField("early_stopping"):
        es = tc.early_stopping
        early_stop = EarlyStopSettings(
            MetricGoal(es.metric_name or DEFAULT_METRIC, es.larger_is_better),
            es.patience,
            es.min_delta,
        )
    return TrainSettings(
        num_steps=tc.num_steps,
        num_epochs=tc.num_epochs,
        save_steps=0 if tc.save_checkpoints_epochs else tc.save_checkpoints_steps,
        save_epochs=tc.save_checkpoints_epochs,
        keep_checkpoint_max=tc.keep_checkpoint_max,
        early_stop=early_stop,
    )


def monitor_settings(config: pipeline_pb2.EasyRecConfig) -> MonitorSettings:
    """What the monitor logs and how often (see :class:`MonitorSettings`)."""
    tc = config.train_config
    evaluation = eval_settings(config)
    summaries = frozenset(tc.tensorboard_summaries)
    return MonitorSettings(
        batch_size=config.data_config.batch_size,
        log_every_steps=tc.log_step_count_steps,
        log_every_secs=tc.log_step_count_secs,
        eval_log_every_steps=evaluation.log_every_steps,
        use_tensorboard=tc.use_tensorboard,
        summaries=summaries,
        embedding_health=SUMMARY_NO_EMBEDDING_HEALTH not in summaries,
        best=evaluation.best,
        config_hash=config_hash(config),
        config_text=config_text(config),
    )


def resolve_settings(config: pipeline_pb2.EasyRecConfig) -> Settings:
    """Builds every settings object of a validated config.

    Args:
        config: a config that ``tzrec.config.validate`` accepted.

    Returns:
        The run's settings, defaults applied.

    """
    return Settings(
        train=train_settings(config),
        eval=eval_settings(config),
        export=export_settings(config.export_config),
        monitor=monitor_settings(config),
    )
