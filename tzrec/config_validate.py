"""Pipeline config checks: every problem at once, each naming its field path.

``tzrec.config.validate`` calls ``collect_problems`` and then adds the
"not supported yet" problems from its ``UNSUPPORTED`` table. Validation runs
once, after ``--edit_config_json`` and CLI overrides, so a run never starts on a
config that would fail later.
"""

from __future__ import annotations

import difflib

from google.protobuf.message import Message

from tzrec.config_validate_model import check_model, check_optimisation
from tzrec.features.validate import check_features
from tzrec.protos import data_pb2, feature_pb2, model_pb2, pipeline_pb2
from tzrec.utils.errors import ConfigError

TENSORBOARD_SUMMARIES = (
    "loss",
    "learning_rate",
    "parameter",
    "global_gradient_norm",
    "gradient_norm",
    "gradient",
)
_MULTI_TASK_MODELS = ("mmoe", "dbmtl")
_WIDE, _DEEP = model_pb2.WIDE, model_pb2.DEEP


def feature_name_of(feature_config: feature_pb2.FeatureConfig) -> str:
    """The name of a feature config, whichever oneof member holds it.

    Args:
        feature_config: one ``feature_configs`` entry.

    Returns:
        ``feature_name``, or ``sequence_name`` for a ``sequence_feature``; ""
        when the entry is empty.

    """
    kind = feature_config.WhichOneof("feature")
    if kind is None:
        return ""
    sub = getattr(feature_config, kind)
    return sub.sequence_name if kind == "sequence_feature" else sub.feature_name


class Problems:
    """Collected problems.

    Attributes:
        errors: one ConfigError per problem, ``where`` being the field path.
        invalid: paths whose value was already reported as wrong, so that a
            "not supported yet" report on the same path is redundant.

    """

    def __init__(self) -> None:
        self.errors: list[ConfigError] = []
        self.invalid: set[str] = set()

    def add(self, where: str, what: str, fix: str = "") -> None:
        self.errors.append(ConfigError(what, where, fix))


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
    dims = check_features(config, p)
    _check_model(config, dims, p)
    _check_export(config, p)
    return p


def in_use(msg: Message, name: str) -> bool:
    """True for a set message, a non-empty list, or a non-default scalar.

    Args:
        msg: the message holding the field.
        name: the field name.

    Returns:
        Whether the field is in use.

    """
    fd = msg.DESCRIPTOR.fields_by_name[name]
    if fd.is_repeated:
        return len(getattr(msg, name)) > 0
    if not msg.HasField(name):
        return False
    return fd.cpp_type == fd.CPPTYPE_MESSAGE or getattr(msg, name) != fd.default_value


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
                _choices(name, TENSORBOARD_SUMMARIES),
            )
    _check_choice(
        p, "train_config.mixed_precision", tc.mixed_precision, ("", "BF16", "FP16")
    )
    where = "train_config.grad_clipping.clipping_type"
    _check_choice(p, where, tc.grad_clipping.clipping_type, ("none", "norm", "value"))
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
        p.add("train_config.gradient_accumulation_steps", "must be >= 1")
        p.invalid.add("train_config.gradient_accumulation_steps")
    if tc.HasField("early_stopping"):
        es = tc.early_stopping
        if es.patience == 0:
            p.add("train_config.early_stopping.patience", "must be > 0")
        if not es.metric_name:
            p.add("train_config.early_stopping.metric_name", "not set", 'e.g. "auc"')
    # keep_checkpoint_max and eval_batch_size are uint32: the parser already
    # rejects negative values.


def _check_choice(p: Problems, where: str, value: str, allowed: tuple) -> None:
    if value not in allowed:
        p.add(where, f'bad value "{value}"', _choices(value, allowed))
        p.invalid.add(where)


def _choices(value: str, allowed: tuple | list) -> str:
    shown = [a for a in allowed if a]
    close = difflib.get_close_matches(value, shown, n=1)
    hint = f'did you mean "{close[0]}"? ' if close else ""
    return f"{hint}use one of {', '.join(shown)}"


def _check_data(config: pipeline_pb2.EasyRecConfig, p: Problems) -> None:
    if not config.HasField("data_config"):
        p.add("data_config", "not set", "add data_config { dataset_type: ... }")
        return
    dc = config.data_config
    if dc.batch_size == 0:
        p.add("data_config.batch_size", "must be > 0")
    if not dc.HasField("dataset_type"):
        p.add("data_config.dataset_type", "not set", "use ParquetDataset or CsvDataset")
    # ODPS and Kafka sources: tzrec.config_compat.check_data_source.
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
    # fg_mode: tzrec.config_compat.check_fg_mode.


def _check_model(
    config: pipeline_pb2.EasyRecConfig, dims: dict[str, int], p: Problems
) -> None:
    if not config.HasField("model_config"):
        p.add("model_config", "not set", "add model_config { deepfm { ... } }")
        return
    mc = config.model_config
    model = mc.WhichOneof("model")
    if model is None:
        p.add("model_config", "no model set", "add e.g. deepfm { deep { ... } }")
    groups = _check_groups(mc, dims, p)
    if mc.num_class == 0:
        p.add("model_config.num_class", "must be >= 1")
        p.invalid.add("model_config.num_class")
    homes = [("model_config", mc)]
    if model in _MULTI_TASK_MODELS:
        towers = getattr(mc, model).task_towers
        homes += [
            (f"model_config.{model}.task_towers[{i}]", t) for i, t in enumerate(towers)
        ]
    for where, home in homes:
        _check_metrics(home, where, p)
    check_model(config, groups, dims, p)


def _check_metrics(home: Message, base: str, p: Problems) -> None:
    """Metric entries of the model or one task tower."""
    for i, m in enumerate(home.metrics):
        if m.WhichOneof("metric") is None:
            p.add(f"{base}.metrics[{i}]", "empty")
        if m.HasField("grouped_auc") and not m.grouped_auc.grouping_key:
            p.add(f"{base}.metrics[{i}].grouped_auc.grouping_key", "not set")
        _check_top_k(m, home.num_class, f"{base}.metrics[{i}]", p)
    for i, m in enumerate(home.train_metrics):
        where = f"{base}.train_metrics[{i}]"
        _check_top_k(m, home.num_class, where, p)
        if m.WhichOneof("metric") is None:
            p.add(where, "empty")
        if not 0.0 <= m.decay_rate < 1.0:
            p.add(f"{where}.decay_rate", "must be in [0, 1)")
        if m.decay_step == 0:
            p.add(f"{where}.decay_step", "must be > 0")


def _check_top_k(m: Message, num_class: int, where: str, p: Problems) -> None:
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


def _check_groups(
    mc: model_pb2.ModelConfig, dims: dict[str, int], p: Problems
) -> dict[str, int]:
    """Checks feature groups; returns group name -> index."""
    groups: dict[str, int] = {}
    for i, g in enumerate(mc.feature_groups):
        where = f"model_config.feature_groups[{i}]"
        if not g.group_name:
            p.add(f"{where}.group_name", "not set")
        elif g.group_name in groups:
            p.add(f"{where}.group_name", f'duplicate group name "{g.group_name}"')
        else:
            groups[g.group_name] = i
        if not g.feature_names and not g.sequence_groups:
            p.add(f"{where}.feature_names", "empty")
        refs = [
            (f"{where}.feature_names[{j}]", n) for j, n in enumerate(g.feature_names)
        ]
        for j, sg in enumerate(g.sequence_groups):
            sw = f"{where}.sequence_groups[{j}].feature_names"
            refs += [(f"{sw}[{k}]", n) for k, n in enumerate(sg.feature_names)]
        for ref_where, name in refs:
            if name not in dims:
                close = difflib.get_close_matches(name, list(dims), n=1)
                fix = f'did you mean "{close[0]}"?' if close else "define it first"
                p.add(ref_where, f'unknown feature "{name}"', fix)
    return groups


def _check_export(config: pipeline_pb2.EasyRecConfig, p: Problems) -> None:
    ec = config.export_config
    _check_choice(
        p, "export_config.exporter_type", ec.exporter_type, ("best", "final", "latest")
    )
    if ec.exporter_type == "best" and not ec.best_exporter_metric:
        p.add("export_config.best_exporter_metric", "not set", 'e.g. "auc"')
    _check_choice(
        p, "export_config.mixed_precision", ec.mixed_precision, ("", "BF16", "FP16")
    )
