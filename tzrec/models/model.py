"""RankModel: the base of every ranking model.

A model is three parts, called in order by :meth:`RankModel.predict`:

1. ``embedding_group``: Batch -> ``{group name: [feature tensors]}``
   (torchrec lookups; not scriptable);
2. ``head``: the model-specific dense network, groups ->
   ``{task name: [B, num_class]}``; TorchScript-compatible, so export reuses
   the trained module itself rather than a copy;
3. ``outputs``: raw task outputs -> named predictions (:mod:`.outputs`).

Between 1 and 2, ``model_config.variational_dropout`` adds a learned
dropout on the groups (:mod:`tzrec.modules.variational_dropout`); export
scripts it in front of the head.

``loss`` turns predictions into named losses (summed by the training loop);
``use_pareto_loss_weight`` weighs the task losses by Pareto-efficient weights
while training (:mod:`tzrec.loss.pareto`). Metrics live outside the model
(tzrec.metrics), routed by ``tasks``.
"""

from __future__ import annotations

import contextlib
import math
from collections.abc import Sequence
from typing import TYPE_CHECKING

import torch
from torch import Tensor, nn

from tzrec.datasets.batch import Batch
from tzrec.features.feature import BaseFeature
from tzrec.loss.jrc_loss import jrc_loss
from tzrec.loss.losses import per_row_loss, weighted_mean
from tzrec.loss.pareto import loss_gradients, pareto_weights
from tzrec.loss.spec import JRC_LOSS
from tzrec.models.outputs import TaskOutputs
from tzrec.models.tasks import Task, loss_names, tasks_from_config
from tzrec.modules.embedding import EmbeddingGroup
from tzrec.modules.variational_dropout import GroupDropout
from tzrec.monitor.diagnostics import Diagnosable
from tzrec.protos import model_pb2
from tzrec.utils.errors import ConfigError

AUTOCAST_DTYPES = {"BF16": torch.bfloat16}


class RankModel(nn.Module, Diagnosable):
    """Ranking model base: embedding lookup, a scriptable head, task outputs.

    Subclasses build ``self.head`` in their ``__init__`` (after calling this
    one): an ``nn.Module`` mapping ``Dict[str, List[Tensor]]`` groups to
    ``Dict[str, Tensor]`` raw outputs keyed by task name.

    Args:
        model_config: the pipeline's ModelConfig.
        features: all features.
        label_fields: ``data_config.label_fields``.
        sample_weight_fields: ``data_config.sample_weight_fields`` (a single
            string is accepted too).
        device: where embedding tables are created (``meta`` for DMP).
    """

    head: nn.Module
    # For mypy only: TorchScript cannot read string class annotations.
    if TYPE_CHECKING:
        pareto_floors: Tensor  # buffer: each task loss's Pareto floor

    def __init__(
        self,
        model_config: model_pb2.ModelConfig,
        features: list[BaseFeature],
        label_fields: Sequence[str],
        sample_weight_fields: Sequence[str] | str = (),
        device: torch.device | None = None,
    ) -> None:
        super().__init__()
        if isinstance(sample_weight_fields, str):
            sample_weight_fields = (
                [sample_weight_fields] if sample_weight_fields else []
            )
        self.model_config = model_config
        self.tasks: list[Task] = tasks_from_config(
            model_config, label_fields, sample_weight_fields
        )
        self.embedding_group = EmbeddingGroup(
            features, model_config.feature_groups, self.wide_embedding_dim(), device
        )
        self.outputs = TaskOutputs(self.tasks)
        self.loss_names = loss_names(self.tasks)
        self.group_dropout = self._group_dropout()
        if self.group_dropout is not None:
            self.loss_names += self.group_dropout.loss_names()
        self.autocast_dtype: torch.dtype | None = None
        # Each task loss's Pareto floor, kept on the model's device: a tensor
        # built from a list every step would be a host-to-device copy.
        floors = [t.pareto_min_weight for t in self.tasks for _ in t.losses]
        self.register_buffer("pareto_floors", torch.tensor(floors), persistent=False)
        self._pareto_inputs: dict[str, list[Tensor]] | None = None
        self._check_sessions()

    def _group_dropout(self) -> GroupDropout | None:
        """``variational_dropout`` on every DEEP/WIDE group of 2+ fields."""
        if not self.model_config.HasField("variational_dropout"):
            return None
        cfg = self.model_config.variational_dropout
        eg = self.embedding_group
        widths: dict[str, list[int]] = {}
        for group, names in eg.groups.items():
            if group in eg.sequence_groups:
                continue
            if group in eg.wide_groups:
                w = [eg.wide_dim] * len(names)
            else:
                w = [eg.feature_dims.get(n) or eg.dense_dims[n] for n in names]
                if eg.seq_encoders is not None and group in eg.seq_encoders.extra_dims:
                    w.append(eg.seq_encoders.extra_dims[group])
            if len(w) > 1:
                widths[group] = w
        if not widths:
            return None
        return GroupDropout(
            widths, cfg.regularization_lambda, cfg.embedding_wise_variational_dropout
        )

    def _check_sessions(self) -> None:
        """jrc_loss's session_name must be a sparse feature the model looks up."""
        keys = {k for ks in self.embedding_group.sparse_groups.values() for k in ks}
        for task in self.tasks:
            for spec in task.losses:
                if spec.kind == JRC_LOSS and spec.session_name not in keys:
                    raise ConfigError(
                        f'jrc_loss session_name "{spec.session_name}" is not a '
                        "sparse feature of the model's feature groups",
                        f"{task.where}.losses",
                        "name an id feature that is in a feature group (e.g. user_id)",
                    )

    def output_names(self) -> list[str]:
        """Predictions with one value per row (what export and predict write)."""
        return [n for t in self.tasks for n in t.output_names]

    # ---- for subclasses ----

    def wide_embedding_dim(self) -> int:
        """Width of WIDE-group tables (models with a wide part override it)."""
        return 4

    def group_dim(self, group: str) -> int:
        """Output width of a feature group."""
        return self.embedding_group.group_dim(group)

    def has_group(self, group: str) -> bool:
        """Whether the config defines ``group``."""
        return group in self.embedding_group.groups

    def require_group(self, group: str) -> None:
        """Raises a ConfigError when the model's required group is missing."""
        if not self.has_group(group):
            raise ConfigError(
                f'{type(self).__name__} needs a feature group named "{group}"',
                "model_config.feature_groups",
                f'add feature_groups {{ group_name: "{group}" ... }}',
            )

    def only_group(self, where: str) -> str:
        """The single feature group of a model that reads one (as TorchEasyRec).

        Raises:
            ConfigError: there are none or several (the others would be
                looked up and silently ignored).
        """
        groups = list(self.embedding_group.groups)
        if len(groups) != 1:
            raise ConfigError(
                f"{type(self).__name__} reads exactly one feature group, got "
                f"{len(groups)} ({', '.join(groups) or 'none'})",
                "model_config.feature_groups",
                f"put every feature of {where} in one feature group",
            )
        return groups[0]

    def fields_of(self, group: str, where: str) -> tuple[int, int]:
        """``(number of fields, dim)`` of a group whose features share one dim.

        Raises:
            ConfigError: the group mixes dims or holds a non-embedding feature.
        """
        names = self.embedding_group.groups[group]
        dims = {self.embedding_group.feature_dims.get(n) for n in names}
        dim = dims.pop() if len(dims) == 1 else None
        if dim is None:
            raise ConfigError(
                f'features of group "{group}" must all be embeddings of one '
                "embedding_dim",
                where,
                "give every feature of the group the same embedding_dim "
                "(bucketize dense ones with boundaries)",
            )
        return len(names), dim

    # ---- running ----

    def head_inputs(self, batch: Batch) -> dict[str, list[Tensor]]:
        """The groups the head reads: looked up, then variational dropout."""
        groups = self.embedding_group(batch.sparse, batch.dense)
        if self.group_dropout is not None:
            groups = self.group_dropout(groups)
            if self.diagnosing():
                for name, rates in self.group_dropout.rates().items():
                    self.put(
                        f"variational_dropout/{name}",
                        rates.detach(),
                        description=f"Learned dropout rate of each field (in "
                        f"group order) of group {name}: high rates mark the "
                        "fields the model does without (variational_dropout).",
                    )
        if self.training and self.model_config.use_pareto_loss_weight:
            self._pareto_inputs = {
                k: [t.detach() for t in v] for k, v in groups.items()
            }
        return groups

    def predict(self, batch: Batch) -> dict[str, Tensor]:
        """Named predictions (see :mod:`tzrec.models.outputs`)."""
        groups = self.head_inputs(batch)
        raw = self.head(groups)
        if self.diagnosing():
            for task, logits in raw.items():
                self.put(
                    f"logits_norm/{task or 'output'}",
                    torch.linalg.vector_norm(logits.detach().float())
                    / math.sqrt(max(1, logits.numel())),
                    description="Root mean square of the model's raw outputs "
                    "(logits) over the batch: L2 norm / sqrt(rows x classes). "
                    "Growing without bound means over-confident scores.",
                )
        return self.outputs(raw)

    def forward(self, batch: Batch) -> dict[str, Tensor]:
        """:meth:`predict`, under autocast when mixed precision is on."""
        with self._autocast(batch):
            return self.predict(batch)

    def _autocast(self, batch: Batch) -> contextlib.AbstractContextManager:
        if self.autocast_dtype is None:
            return contextlib.nullcontext()
        return torch.autocast(_device_type(batch), dtype=self.autocast_dtype)

    def loss(self, preds: dict[str, Tensor], batch: Batch) -> dict[str, Tensor]:
        """Named scalar losses: per task, sample-weighted, times the task weight.

        Training with ``use_pareto_loss_weight`` also times its Pareto weight;
        variational dropout adds its penalties.
        """
        losses = self._task_losses(preds, batch)
        if self.model_config.use_pareto_loss_weight and self.training:
            self._pareto_weigh(losses, batch)
        if self.group_dropout is not None:
            losses.update(self.group_dropout.penalties(batch.batch_size))
        return losses

    def _task_losses(self, preds: dict[str, Tensor], batch: Batch) -> dict[str, Tensor]:
        losses: dict[str, Tensor] = {}
        for task in self.tasks:
            label = batch.labels[task.label_name]
            w = (
                batch.weights[task.sample_weight_name]
                if task.sample_weight_name
                else None
            )
            if task.space_label:
                space = torch.where(
                    batch.labels[task.space_label] > 0,
                    task.in_space_weight,
                    task.out_space_weight,
                )
                w = space if w is None else w * space
            for spec in task.losses:
                if spec.kind == JRC_LOSS:
                    session = session_ids(batch, spec.session_name)
                    per_row = jrc_loss(preds[spec.pred_key], label, session, spec.alpha)
                else:
                    per_row = per_row_loss(spec, preds[spec.pred_key], label)
                value = weighted_mean(per_row, w)
                losses[spec.name] = value * task.weight if task.weight != 1.0 else value
        return losses

    def _pareto_weigh(self, losses: dict[str, Tensor], batch: Batch) -> None:
        """Multiplies each task loss by its Pareto-efficient weight (in place).

        The gradients are the head's (the dense network after the lookup), on
        a second head pass over the step's detached inputs: a graph of its
        own, so the extra gradient passes never reach the embedding tables'
        in-backward optimizers, nor the data-parallel wrapper's hooks (whose
        first backward would otherwise all-reduce too early).
        """
        inputs = self._pareto_inputs
        self._pareto_inputs = None
        if not torch.is_grad_enabled() or len(losses) < 2:
            return
        if inputs is None:  # loss() without this model's training forward
            again = losses
        else:
            with self._autocast(batch):
                again = self._task_losses(self.outputs(self.head(inputs)), batch)
        params = [p for p in self.head.parameters() if p.requires_grad]
        grads = loss_gradients(list(again.values()), params)
        weights = pareto_weights(grads, self.pareto_floors)
        for i, name in enumerate(list(losses)):
            losses[name] = losses[name] * weights[i]
            if self.diagnosing():
                self.put(
                    f"pareto_loss_weight/{name}",
                    weights[i],
                    description="Pareto-efficient weight of the loss this step "
                    "(use_pareto_loss_weight; the weights sum to 1).",
                )


def session_ids(batch: Batch, name: str) -> Tensor:
    """Per row the first id of sparse feature ``name``; empty rows: own sessions."""
    for kjt in batch.sparse.values():
        if name in kjt.keys():
            jt = kjt[name]
            lengths, values = jt.lengths().long(), jt.values().long()
            starts = torch.cumsum(lengths, 0) - lengths
            first = torch.cat([values, values.new_zeros(1)])[
                starts.clamp(max=values.numel())
            ]
            alone = -1 - torch.arange(lengths.numel(), device=lengths.device)
            return torch.where(lengths > 0, first, alone)
    raise KeyError(f"sparse feature {name} not in the batch")


def _device_type(batch: Batch) -> str:
    for tensors in (batch.labels, batch.dense):
        for t in tensors.values():
            return t.device.type
    for kjt in batch.sparse.values():
        return kjt.values().device.type
    return "cpu"


def output_layer(in_features: int, task: Task, bias: bool = True) -> nn.Linear:
    """The final ``Linear`` of a task: ``num_class`` outputs."""
    return nn.Linear(in_features, task.num_class, bias=bias)
