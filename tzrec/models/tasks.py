"""The tasks of a ranking model: one for single-task models, one per tower else.

A task names its label, sample weight, losses, eval and train metrics, and the
prediction keys they read. Losses, metrics, TensorBoard tags and eval-log keys
of a multi-task model carry the tower suffix (``probs_ctr``, ``auc_ctr``,
``binary_cross_entropy_ctr``), as in TorchEasyRec. Torch-free: config
validation builds the tasks too.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from typing import Any

from tzrec.loss.spec import (
    BINARY_KINDS,
    L2_LOSS,
    SOFTMAX_CROSS_ENTROPY,
    SOFTMAX_KINDS,
    LossSpec,
    build_loss_specs,
)
from tzrec.metrics.check import metric_problems
from tzrec.metrics.names import metric_grouping_key, metric_name
from tzrec.models.tower_checks import intervention_problems, pareto_problems
from tzrec.utils.errors import ConfigError

MULTI_TASK_MODELS = ("mmoe", "dbmtl", "ple", "pepnet", "simple_multi_task", "dc2vr")
# Single-label models with two scored nets, each a task on the same label
# (TorchEasyRec's suffixes: logits_booster, auc_light, ...).
TWO_NET_MODELS = {"rocket_launching": ("booster", "light")}
CALIBRATION = "calibration"
# Metrics on a probability; the others (errors) prefer a regression output.
_PROBABILITY_METRICS = ("auc", "grouped_auc", "accuracy", "normalized_entropy")
# Metrics on [B, num_class] class probabilities.
_CLASS_SCORE_METRICS = ("multiclass_auc", "recall_at_k")


@dataclasses.dataclass(frozen=True)
class Task:
    """One prediction target.

    Attributes:
        name: tower name; ``""`` for a single-task model.
        label_name: label column.
        sample_weight_name: sample-weight column, or ``""``.
        num_class: 1 (one logit) or the number of softmax classes.
        weight: multiplies each of the task's losses.
        losses: the task's losses.
        metrics: ``MetricConfig`` messages (eval).
        train_metrics: ``TrainMetricConfig`` messages.
        where: config path of the task, for messages.
        space_label: ``task_space_indicator_label``: rows where it is > 0
            are in the task's sample space (as TorchEasyRec); ``""`` when unset.
        in_space_weight: loss weight of rows in the sample space.
        out_space_weight: loss weight of rows outside it.
        pareto_min_weight: ``pareto_min_loss_weight``: the least Pareto
            weight of each of the task's losses.
    """

    name: str
    label_name: str
    sample_weight_name: str
    num_class: int
    weight: float
    losses: tuple[LossSpec, ...]
    metrics: tuple[Any, ...] = ()
    train_metrics: tuple[Any, ...] = ()
    where: str = "model_config"
    space_label: str = ""
    in_space_weight: float = 1.0
    out_space_weight: float = 1.0
    pareto_min_weight: float = 0.0

    @property
    def suffix(self) -> str:
        """``""`` or ``_<tower_name>``."""
        return f"_{self.name}" if self.name else ""

    @property
    def kinds(self) -> set[str]:
        """The loss kinds of the task."""
        return {s.kind for s in self.losses}

    @property
    def probability_key(self) -> str:
        """Prediction key of P(label = 1) ``[B]``, or ``""`` when none exists."""
        if self.kinds & set(BINARY_KINDS):
            return "probs" + self.suffix
        if self.kinds & set(SOFTMAX_KINDS) and self.num_class == 2:
            return "probs1" + self.suffix
        return ""

    @property
    def output_names(self) -> list[str]:
        """The task's one-value-per-row predictions (what export and predict write)."""
        names = []
        if self.kinds & set(BINARY_KINDS):
            names += ["probs" + self.suffix, "logits" + self.suffix]
        if self.kinds & set(SOFTMAX_KINDS) and self.num_class == 2:
            names.append("probs1" + self.suffix)
        if L2_LOSS in self.kinds:
            names.append("y" + self.suffix)
        return names

    def metric_pred_key(self, kind: str) -> str:
        """Prediction key a metric of ``kind`` reads, or ``""`` if none fits."""
        if kind in _CLASS_SCORE_METRICS:  # [B, C] class probabilities
            softmax = SOFTMAX_CROSS_ENTROPY in self.kinds and self.num_class >= 2
            return "probs" + self.suffix if softmax else ""
        if (
            kind == "accuracy"
            and self.num_class > 2
            and SOFTMAX_CROSS_ENTROPY in self.kinds
        ):
            return "probs" + self.suffix  # [B, C]: top-k accuracy
        if kind not in _PROBABILITY_METRICS and L2_LOSS in self.kinds:
            return "y" + self.suffix
        return self.probability_key


@dataclasses.dataclass(frozen=True)
class MetricRoute:
    """What one metric is fed: label, weight, prediction and grouping columns."""

    label_name: str
    weight_name: str
    pred_key: str
    grouping_key: str = ""


def tasks_from_config(
    model_config: Any,
    label_fields: Sequence[str],
    sample_weight_fields: Sequence[str] = (),
) -> list[Task]:
    """The model's tasks.

    Args:
        model_config: the pipeline's ModelConfig.
        label_fields: ``data_config.label_fields``.
        sample_weight_fields: ``data_config.sample_weight_fields``; a
            single-task model uses the first.

    Raises:
        ConfigError: listing every problem (labels, weights, losses, metrics).
    """
    problems: list[ConfigError] = []
    kind = model_config.WhichOneof("model")
    if kind in MULTI_TASK_MODELS:
        tasks = _tower_tasks(
            model_config, kind, label_fields, sample_weight_fields, problems
        )
    elif kind in TWO_NET_MODELS:
        one = _single_task(model_config, label_fields, sample_weight_fields, problems)
        tasks = [_renamed(one, name, model_config) for name in TWO_NET_MODELS[kind]]
    else:
        tasks = [
            _single_task(model_config, label_fields, sample_weight_fields, problems)
        ]
    for task in tasks:
        problems += _metric_problems(task)
    if model_config.use_pareto_loss_weight:
        problems += pareto_problems(tasks)
    if len(problems) == 1:
        raise problems[0]
    if problems:
        raise ConfigError("invalid tasks", problems=problems)
    return tasks


def _single_task(
    mc: Any, labels: Sequence[str], weights: Sequence[str], problems: list
) -> Task:
    if not labels:
        problems.append(
            ConfigError(
                "no label", "data_config.label_fields", 'add label_fields: "label"'
            )
        )
    specs, errs = build_loss_specs(mc.losses, mc.num_class, "", "model_config.losses")
    problems += errs
    if not mc.losses:
        problems.append(
            ConfigError(
                "empty", "model_config.losses", "add losses { binary_cross_entropy {} }"
            )
        )
    return Task(
        "",
        labels[0] if labels else "",
        weights[0] if weights else "",
        mc.num_class,
        1.0,
        tuple(specs),
        tuple(mc.metrics),
        tuple(mc.train_metrics),
    )


def _renamed(task: Task, name: str, mc: Any) -> Task:
    """``task`` as the net ``name`` of a two-net model (suffixed losses)."""
    specs, _ = build_loss_specs(
        mc.losses, mc.num_class, f"_{name}", "model_config.losses"
    )
    return dataclasses.replace(task, name=name, losses=tuple(specs))


def _tower_tasks(
    mc: Any, kind: str, labels: Sequence[str], weights: Sequence[str], problems: list
) -> list[Task]:
    for field in ("losses", "metrics", "train_metrics"):
        if len(getattr(mc, field)):
            problems.append(
                ConfigError(
                    f"{kind} reads {field} from its task towers, not the model",
                    f"model_config.{field}",
                    f"move them into each model_config.{kind}.task_towers entry",
                )
            )
    towers = getattr(mc, kind).task_towers
    if not towers:
        problems.append(
            ConfigError(
                "no task towers",
                f"model_config.{kind}.task_towers",
                "add one per label",
            )
        )
    tasks, names = [], set()
    for i, t in enumerate(towers):
        where = f"model_config.{kind}.task_towers[{i}]"
        if t.tower_name in names:
            problems.append(
                ConfigError(
                    f'duplicate tower_name "{t.tower_name}"', f"{where}.tower_name"
                )
            )
        names.add(t.tower_name)
        tasks.append(_tower_task(t, where, labels, weights, problems))
    if kind == "dc2vr":
        problems += intervention_problems(towers, f"model_config.{kind}")
    return tasks


def _tower_task(
    t: Any, where: str, labels: Sequence[str], weights: Sequence[str], problems: list
) -> Task:
    """One ``task_towers`` entry as a Task; its problems go to ``problems``."""
    if not t.tower_name:
        problems.append(
            ConfigError("tower_name not set", f"{where}.tower_name", 'e.g. "ctr"')
        )
    if t.label_name not in labels:
        problems.append(
            ConfigError(
                f'label_name "{t.label_name}" is not in data_config.label_fields',
                f"{where}.label_name",
                f"use one of {', '.join(labels) or '(none: add label_fields)'}",
            )
        )
    # InterventionTaskTower (DC2VR) has no sample_weight_name.
    sample_weight_name = getattr(t, "sample_weight_name", "")
    if sample_weight_name and sample_weight_name not in weights:
        problems.append(
            ConfigError(
                f'sample_weight_name "{sample_weight_name}" is not in '
                "data_config.sample_weight_fields",
                f"{where}.sample_weight_name",
                "list the column in data_config.sample_weight_fields",
            )
        )
    suffix = f"_{t.tower_name}" if t.tower_name else ""
    specs, errs = build_loss_specs(t.losses, t.num_class, suffix, f"{where}.losses")
    problems += errs
    if not t.losses:
        problems.append(
            ConfigError(
                "empty", f"{where}.losses", "add losses { binary_cross_entropy {} }"
            )
        )
    if t.weight < 0:
        problems.append(ConfigError("weight must be >= 0", f"{where}.weight"))
    space = t.task_space_indicator_label
    if space and space not in labels:
        problems.append(
            ConfigError(
                f'task_space_indicator_label "{space}" is not in '
                "data_config.label_fields",
                f"{where}.task_space_indicator_label",
                f"use one of {', '.join(labels)}",
            )
        )
    return Task(
        t.tower_name,
        t.label_name,
        sample_weight_name,
        t.num_class,
        t.weight,
        tuple(specs),
        tuple(t.metrics),
        tuple(t.train_metrics),
        where,
        space,
        t.in_task_space_weight,
        t.out_task_space_weight,
        t.pareto_min_loss_weight,
    )


def _metric_problems(task: Task) -> list[ConfigError]:
    problems = []
    for field in ("metrics", "train_metrics"):
        base = f"{task.where}.{field}"
        problems += metric_problems(
            getattr(task, field), base, task.suffix, validated=True
        )
        for i, m in enumerate(getattr(task, field)):
            kind = m.WhichOneof("metric")
            if kind in _CLASS_SCORE_METRICS and not task.metric_pred_key(kind):
                problems.append(
                    ConfigError(
                        f"metric {kind} needs class probabilities",
                        f"{base}[{i}]",
                        "give the task softmax_cross_entropy with num_class >= 2",
                    )
                )
            elif kind and not task.metric_pred_key(kind):
                problems.append(
                    ConfigError(
                        f"metric {kind} needs a probability output",
                        f"{base}[{i}]",
                        "give the task binary_cross_entropy or binary_focal_loss, or "
                        "softmax_cross_entropy with num_class 2",
                    )
                )
    return problems


def metric_routes(tasks: Sequence[Task], train: bool = False) -> dict[str, MetricRoute]:
    """Metric name -> what feeds it, for every task (eval, or train metrics).

    Eval metrics include ``calibration<sfx>`` for every task with a score.
    """
    routes: dict[str, MetricRoute] = {}
    for task in tasks:
        configs = task.train_metrics if train else task.metrics
        for cfg in configs:
            kind = cfg.WhichOneof("metric")
            if kind is None:
                continue
            group = metric_grouping_key(cfg)
            routes[metric_name(cfg, task.suffix)] = MetricRoute(
                task.label_name,
                task.sample_weight_name,
                task.metric_pred_key(kind),
                group,
            )
        if not train and task.metric_pred_key(CALIBRATION):
            routes[CALIBRATION + task.suffix] = MetricRoute(
                task.label_name,
                task.sample_weight_name,
                task.metric_pred_key(CALIBRATION),
            )
    return routes


def loss_names(tasks: Sequence[Task]) -> list[str]:
    """Every task's loss names, in task then config order."""
    return [spec.name for task in tasks for spec in task.losses]
