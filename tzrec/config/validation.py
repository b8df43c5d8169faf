"""Pipeline config checks: every problem at once, each naming its field path.

:func:`validate` runs every check into one :class:`Problems` collector (this
module's own, model and optimisation checks in ``validation_model``, feature
checks in ``validation_features``, feature-group checks in
``validation_groups``, TorchEasyRec settings in ``compat``, the "not supported
yet" table in ``unsupported``). Validation runs once, after
``--edit_config_json`` and CLI overrides, so a run never starts on a config
that would fail later; runtime code reads the resolved settings
(``tzrec.config.settings``) and does not check again.
"""

from __future__ import annotations

import logging
from typing import TypeAlias

from tzrec.config.compat import check_data_source, check_fg_mode, check_no_effect
from tzrec.config.problems import Problems, choices
from tzrec.config.unsupported import NOT_RANKING_MODELS, check_unsupported
from tzrec.config.validation_features import FeatureInfo, check_features
from tzrec.config.validation_groups import check_groups
from tzrec.config.validation_model import check_model, check_optimisation
from tzrec.monitor import keys
from tzrec.protos import data_pb2, metric_pb2, model_pb2, pipeline_pb2, tower_pb2

_logger = logging.getLogger("tzrec")

# In the order the "use one of" hint lists them.
TENSORBOARD_SUMMARIES = (
    keys.SUMMARY_LOSS,
    keys.SUMMARY_LEARNING_RATE,
    keys.SUMMARY_PARAMETER,
    keys.SUMMARY_GLOBAL_GRADIENT_NORM,
    keys.SUMMARY_GRADIENT_NORM,
    keys.SUMMARY_GRADIENT,
    keys.SUMMARY_NO_EMBEDDING_HEALTH,
)


def validate(config: pipeline_pb2.EasyRecConfig) -> None:
    """Checks a parsed config; raises one ConfigError listing every problem.

    Call it after ``--edit_config_json`` and CLI overrides (``--model_dir`` may
    come from the command line).

    Args:
        config: the config to check.

    Raises:
        ConfigError: with ``problems`` holding one entry per problem, each
            naming its field path; UNSUPPORTED entries read "not supported yet".

    """
    p = collect_problems(config)
    check_data_source(config, p)
    check_fg_mode(config, p)
    check_unsupported(config, p)
    p.raise_if_any()
    check_no_effect(config, p)
    for message in p.warnings:
        _logger.warning("%s", message)


def collect_problems(config: pipeline_pb2.EasyRecConfig) -> Problems:
    """Runs every check except the UNSUPPORTED table.

    Args:
        config: the config after edits and CLI overrides.

    Returns:
        The problems found, possibly none.

    """
    p = Problems()
    for name in ("train_input_path", "eval_input_path", "model_dir"):
        if not getattr(config, name):
            p.add(name, "not set", f"set {name} in the config or pass --{name}")
    _check_train(config, p)
    check_optimisation(config, p)
    _check_data(config, p)
    infos = check_features(config, p)
    _check_model(config, infos, p)
    _check_export(config, p)
    return p


def _check_train(config: pipeline_pb2.EasyRecConfig, p: Problems) -> None:
    if not config.HasField("train_config"):
        p.add("train_config", "not set", "add train_config { ... }")
        return
    tc = config.train_config
    for opt in ("sparse_optimizer", "dense_optimizer"):
        if getattr(tc, opt).WhichOneof("optimizer") is None:
            p.add(
                f"train_config.{opt}",
                "no optimizer set",
                f"add e.g. {opt} {{ adagrad_optimizer {{ lr: 0.01 }} "
                "constant_learning_rate {} }",
            )
    if tc.num_steps > 0 and tc.num_epochs > 0:
        p.add("train_config.num_steps", "num_steps and num_epochs both set", "keep one")
    elif tc.num_steps == 0 and tc.num_epochs == 0:
        p.add("train_config.num_steps", "neither num_steps nor num_epochs set (> 0)")
    if tc.log_step_count_steps == 0:
        p.add("train_config.log_step_count_steps", "must be > 0")
    if tc.log_step_count_secs < 0:
        p.add("train_config.log_step_count_secs", "must be >= 0")
    for i, name in enumerate(tc.tensorboard_summaries):
        if name not in TENSORBOARD_SUMMARIES:
            p.add(
                f"train_config.tensorboard_summaries[{i}]",
                f'unknown summary "{name}"',
                choices(name, TENSORBOARD_SUMMARIES),
            )
    p.check_choice(
        "train_config.mixed_precision", tc.mixed_precision, ("", "BF16", "FP16")
    )
    where = "train_config.grad_clipping.clipping_type"
    p.check_choice(where, tc.grad_clipping.clipping_type, ("none", "norm", "value"))
    # Dense gradients are all-reduced before clipping, so the norm clipped is
    # already the global one: enable_global_grad_clip asks for what tzrec does.
    if tc.grad_clipping.enable_global_grad_clip and tc.grad_clipping.clipping_type in (
        "none",
        "value",
    ):
        p.add(
            "train_config.grad_clipping.enable_global_grad_clip",
            "needs clipping_type: norm",
            'set clipping_type: "norm"',
        )
    if tc.gradient_accumulation_steps == 0:
        p.add_invalid("train_config.gradient_accumulation_steps", "must be >= 1")
    if tc.HasField("early_stopping"):
        es = tc.early_stopping
        if es.patience == 0:
            p.add("train_config.early_stopping.patience", "must be > 0")
        if not es.metric_name:
            p.add("train_config.early_stopping.metric_name", "not set", 'e.g. "auc"')
    # keep_checkpoint_max and eval_batch_size are uint32: the parser already
    # rejects negative values.


def _check_data(config: pipeline_pb2.EasyRecConfig, p: Problems) -> None:
    if not config.HasField("data_config"):
        p.add("data_config", "not set", "add data_config { dataset_type: ... }")
        return
    dc = config.data_config
    if dc.batch_size == 0:
        p.add("data_config.batch_size", "must be > 0")
    if not dc.HasField("dataset_type"):
        p.add("data_config.dataset_type", "not set", "use ParquetDataset or CsvDataset")
    # ODPS and Kafka sources: tzrec.config.compat.check_data_source.
    elif dc.dataset_type == data_pb2.CsvDataset and not dc.with_header:
        if not dc.input_fields and not dc.input_fields_str:
            p.add(
                "data_config.input_fields",
                "a CSV without a header needs column names",
                "set with_header: true or list input_fields { input_name: ... }",
            )
    for i, field in enumerate(dc.input_fields):
        if not field.input_name:
            p.add(f"data_config.input_fields[{i}].input_name", "not set")
    if not dc.label_fields:
        p.add("data_config.label_fields", "empty", 'add label_fields: "label"')
    # fg_mode: tzrec.config.compat.check_fg_mode.


def _check_model(
    config: pipeline_pb2.EasyRecConfig, infos: dict[str, FeatureInfo], p: Problems
) -> None:
    if not config.HasField("model_config"):
        p.add("model_config", "not set", "add model_config { deepfm { ... } }")
        return
    mc = config.model_config
    model = mc.WhichOneof("model")
    if model is None:
        p.add("model_config", "no model set", "add e.g. deepfm { deep { ... } }")
    elif model in NOT_RANKING_MODELS:
        # Refused whole by check_unsupported; its groups, tasks and blocks
        # follow rules tzrec does not implement, so they are not checked.
        return
    groups = check_groups(mc, infos, p)
    if mc.num_class == 0:
        p.add_invalid("model_config.num_class", "must be >= 1")
    homes: list[tuple[str, _MetricHome]] = [("model_config", mc)]
    sub = getattr(mc, model) if model is not None else None
    if sub is not None and "task_towers" in sub.DESCRIPTOR.fields_by_name:
        towers = sub.task_towers
        homes += [
            (f"model_config.{model}.task_towers[{i}]", t) for i, t in enumerate(towers)
        ]
    for where, home in homes:
        _check_metrics(home, where, p)
    check_model(config, groups, {n: info.dim for n, info in infos.items()}, p)


# Messages that carry metrics / train_metrics and num_class: the model, or one
# task tower of a multi-task model.
_MetricHome: TypeAlias = (
    model_pb2.ModelConfig
    | tower_pb2.TaskTower
    | tower_pb2.BayesTaskTower
    | tower_pb2.InterventionTaskTower
)


def _check_metrics(home: _MetricHome, base: str, p: Problems) -> None:
    """Metric entries of the model or one task tower."""
    for i, m in enumerate(home.metrics):
        if m.WhichOneof("metric") is None:
            p.add(f"{base}.metrics[{i}]", "empty")
        if m.HasField("grouped_auc") and not m.grouped_auc.grouping_key:
            p.add(f"{base}.metrics[{i}].grouped_auc.grouping_key", "not set")
        _check_top_k(m, home.num_class, f"{base}.metrics[{i}]", p)
    for i, tm in enumerate(home.train_metrics):
        where = f"{base}.train_metrics[{i}]"
        _check_top_k(tm, home.num_class, where, p)
        if tm.WhichOneof("metric") is None:
            p.add(where, "empty")
        if not 0.0 <= tm.decay_rate < 1.0:
            p.add(f"{where}.decay_rate", "must be in [0, 1)")
        if tm.decay_step == 0:
            p.add(f"{where}.decay_step", "must be > 0")


def _check_top_k(
    m: metric_pb2.MetricConfig | metric_pb2.TrainMetricConfig,
    num_class: int,
    where: str,
    p: Problems,
) -> None:
    """accuracy.top_k: >= 1, and above 1 only for class probabilities."""
    if not m.HasField("accuracy"):
        return
    top_k, at = m.accuracy.top_k, f"{where}.accuracy.top_k"
    if top_k == 0:
        p.add(at, "must be >= 1")
    elif top_k > 1 and num_class <= 2:
        p.add(
            at,
            f"top_k {top_k} needs more than 2 classes",
            "use top_k 1 (threshold accuracy), or softmax_cross_entropy with "
            "num_class > 2",
        )


def _check_export(config: pipeline_pb2.EasyRecConfig, p: Problems) -> None:
    ec = config.export_config
    p.check_choice(
        "export_config.exporter_type", ec.exporter_type, ("best", "final", "latest")
    )
    if ec.exporter_type == "best" and not ec.best_exporter_metric:
        p.add("export_config.best_exporter_metric", "not set", 'e.g. "auc"')
    p.check_choice(
        "export_config.mixed_precision", ec.mixed_precision, ("", "BF16", "FP16")
    )
