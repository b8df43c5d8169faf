"""RankModel: the base of every ranking model.

A model is three parts, called in order by :meth:`RankModel.predict`:

1. ``embedding_group``: Batch -> ``{group name: [feature tensors]}``
   (torchrec lookups; not scriptable);
2. ``head``: the model-specific dense network, groups ->
   ``{task name: [B, num_class]}``; TorchScript-compatible, so export reuses
   the trained module itself rather than a copy;
3. ``outputs``: raw task outputs -> named predictions (:mod:`.outputs`).

``loss`` turns predictions into named losses (summed by the training loop).
Metrics live outside the model (tzrec.metrics), routed by ``tasks``.
"""

from __future__ import annotations

import contextlib
import math
from collections.abc import Sequence

import torch
from torch import Tensor, nn

from tzrec.datasets.batch import Batch
from tzrec.features.feature import BaseFeature
from tzrec.loss.jrc_loss import jrc_loss
from tzrec.loss.losses import per_row_loss, weighted_mean
from tzrec.loss.spec import JRC_LOSS
from tzrec.models.outputs import TaskOutputs
from tzrec.models.tasks import Task, loss_names, tasks_from_config
from tzrec.modules.embedding import EmbeddingGroup
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
        self.autocast_dtype: torch.dtype | None = None
        self._check_sessions()

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
        if len(dims) != 1 or None in dims:
            raise ConfigError(
                f'features of group "{group}" must all be embeddings of one '
                "embedding_dim",
                where,
                "give every feature of the group the same embedding_dim "
                "(bucketize dense ones with boundaries)",
            )
        return len(names), int(dims.pop())

    # ---- running ----

    def predict(self, batch: Batch) -> dict[str, Tensor]:
        """Named predictions (see :mod:`tzrec.models.outputs`)."""
        groups = self.embedding_group(batch.sparse, batch.dense)
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
        """Named scalar losses: per task, sample-weighted, times the task weight."""
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
                    batch.labels[task.space_label] == 1,
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
