"""RankModel: the base of every ranking model.

A model turns a Batch into predictions (``predict``) and predictions into named
losses (``loss``); the training loop sums the losses. Metrics live outside the
model (tzrec.metrics), fed with ``predict``'s output.
"""

from __future__ import annotations

import torch
from torch import nn

from tzrec.datasets.batch import Batch
from tzrec.features.feature import BaseFeature
from tzrec.modules.embedding import EmbeddingGroup
from tzrec.protos import model_pb2
from tzrec.utils.errors import ConfigError


class RankModel(nn.Module):
    """Single-task binary ranking model base.

    Args:
        model_config: the pipeline's ModelConfig.
        features: all features.
        label_fields: label columns; the first is this model's label.
        sample_weight_field: optional sample-weight column.
        device: where embedding tables are created (``meta`` for DMP).

    """

    def __init__(
        self,
        model_config: model_pb2.ModelConfig,
        features: list[BaseFeature],
        label_fields: list[str],
        sample_weight_field: str = "",
        device: torch.device | None = None,
    ) -> None:
        super().__init__()
        self.model_config = model_config
        self.label_name = label_fields[0]
        self.sample_weight_field = sample_weight_field
        self.embedding_group = EmbeddingGroup(
            features, model_config.feature_groups, self.wide_embedding_dim(), device
        )
        self.loss_names = [self._loss_name(lc) for lc in model_config.losses]

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

    def predict(self, batch: Batch) -> dict[str, torch.Tensor]:
        """Returns at least ``logits`` and ``probs``, each [B]."""
        raise NotImplementedError

    def forward(self, batch: Batch) -> dict[str, torch.Tensor]:
        """Same as :meth:`predict` (what DistributedModelParallel calls)."""
        return self.predict(batch)

    @staticmethod
    def _loss_name(lc: model_pb2.LossConfig) -> str:
        kind = lc.WhichOneof("loss")
        if kind != "binary_cross_entropy":
            raise ConfigError(
                f"loss {kind} is not supported yet",
                "model_config.losses",
                "use binary_cross_entropy",
            )
        return kind

    def loss(
        self, preds: dict[str, torch.Tensor], batch: Batch
    ) -> dict[str, torch.Tensor]:
        """Named scalar losses, weighted by the sample weight when configured."""
        label = batch.labels[self.label_name]
        losses = {}
        for lc, name in zip(self.model_config.losses, self.loss_names):
            smoothing = lc.binary_cross_entropy.label_smoothing
            target = label * (1 - smoothing) + 0.5 * smoothing if smoothing else label
            per_row = nn.functional.binary_cross_entropy_with_logits(
                preds["logits"], target, reduction="none"
            )
            if self.sample_weight_field:
                w = batch.weights[self.sample_weight_field]
                losses[name] = (per_row * w).sum() / w.sum().clamp_min(1e-12)
            else:
                losses[name] = per_row.mean()
        return losses
