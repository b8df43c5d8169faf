"""Variational dropout on feature groups (``model_config.variational_dropout``).

Each DEEP/WIDE group of two or more features learns a dropout rate per
feature (or, ``embedding_wise_variational_dropout``, per output column):
``p = sigmoid(logit_p)``. Training multiplies the group's columns by
``1 - m`` with ``m`` a concrete (relaxed Bernoulli) sample of rate ``p``
(temperature 0.1); evaluation and export multiply by ``1 - p``. The penalty
``regularization_lambda / batch_size * sum(1 - p)`` joins the loss as
``<group>_feature_p_loss``, so a feature the loss does not need drifts to a
high rate: the learned rates rank the features (TorchEasyRec's semantics).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import torch
from torch import Tensor, nn

_EPS = float(torch.finfo(torch.float32).eps)
_TEMPERATURE = 0.1  # of the concrete relaxation (TorchEasyRec's)


class FeatureDropout(nn.Module):
    """One group's learned dropout.

    Args:
        widths: the group's field widths, in output order.
        regularization_lambda: weight of the penalty.
        embedding_wise: one rate per column instead of per field.
    """

    # For mypy only: TorchScript cannot read string class annotations.
    if TYPE_CHECKING:
        column_field: Tensor  # buffer: which rate each output column uses

    def __init__(
        self, widths: list[int], regularization_lambda: float, embedding_wise: bool
    ) -> None:
        super().__init__()
        column_field = torch.repeat_interleave(
            torch.arange(len(widths)), torch.tensor(widths)
        )
        if embedding_wise:
            column_field = torch.arange(sum(widths))
        self.logit_p = nn.Parameter(torch.randn(int(column_field.max()) + 1))
        # Which rate each output column uses (a gather, no host sync).
        self.register_buffer("column_field", column_field, persistent=False)
        self.regularization_lambda = regularization_lambda
        # Attributes, not globals: TorchScript reads no module-level floats.
        self.eps = _EPS
        self.temperature = _TEMPERATURE

    def rates(self) -> Tensor:
        """The dropout rates ``p`` (per field, or per column)."""
        return torch.sigmoid(self.logit_p)

    def forward(self, fields: list[Tensor]) -> list[Tensor]:
        """The group's tensors with dropout applied, same shapes and order."""
        x = fields[0] if len(fields) == 1 else torch.cat(fields, dim=1)
        p = self.rates().unsqueeze(0)
        if self.training:
            u = torch.rand(x.shape[0], p.shape[1], device=x.device, dtype=p.dtype)
            eps = self.eps
            logits = (
                torch.log(p + eps)
                - torch.log(1.0 - p + eps)
                + torch.log(u + eps)
                - torch.log(1.0 - u + eps)
            )
            drop = torch.sigmoid(logits / self.temperature)
        else:
            drop = p
        y = x * (1.0 - drop.index_select(1, self.column_field)).to(x.dtype)
        if len(fields) == 1:
            return [y]
        sizes: list[int] = []
        for f in fields:
            sizes.append(f.shape[1])
        return list(torch.split(y, sizes, dim=1))

    def penalty(self, batch_size: int) -> Tensor:
        """``regularization_lambda / batch_size * sum(1 - p)``."""
        return (self.regularization_lambda / batch_size) * (1.0 - self.rates()).sum()


class GroupDropout(nn.Module):
    """:class:`FeatureDropout` on each listed group; others pass unchanged.

    Args:
        widths: group name -> its field widths (groups of two or more).
        regularization_lambda: weight of each group's penalty.
        embedding_wise: one rate per column instead of per field.
    """

    def __init__(
        self,
        widths: dict[str, list[int]],
        regularization_lambda: float,
        embedding_wise: bool,
    ) -> None:
        super().__init__()
        self.groups = nn.ModuleDict(
            {
                name: FeatureDropout(w, regularization_lambda, embedding_wise)
                for name, w in widths.items()
            }
        )

    def loss_names(self) -> list[str]:
        """Names of the penalties :meth:`penalties` returns."""
        return [f"{name}_feature_p_loss" for name in self.groups]

    def rates(self) -> dict[str, Tensor]:
        """Each group's dropout rates, by group name."""
        out: dict[str, Tensor] = {}
        for name, drop in self.groups.items():
            assert isinstance(drop, FeatureDropout)  # ModuleDict yields Module
            out[name] = drop.rates()
        return out

    def penalties(self, batch_size: int) -> dict[str, Tensor]:
        """Each group's penalty, by loss name."""
        out: dict[str, Tensor] = {}
        for name, drop in self.groups.items():
            assert isinstance(drop, FeatureDropout)  # ModuleDict yields Module
            out[f"{name}_feature_p_loss"] = drop.penalty(batch_size)
        return out

    def forward(self, groups: dict[str, list[Tensor]]) -> dict[str, list[Tensor]]:
        """A copy of ``groups`` with the listed groups dropped out."""
        out = groups.copy()
        for name, drop in self.groups.items():
            out[name] = drop(groups[name])
        return out


class DroppedHead(nn.Module):
    """A model head behind its :class:`GroupDropout` (what export scripts).

    Args:
        dropout: the model's group dropout.
        head: the model's head.
    """

    def __init__(self, dropout: GroupDropout, head: nn.Module) -> None:
        super().__init__()
        self.dropout = dropout
        self.head = head

    def forward(self, groups: dict[str, list[Tensor]]) -> dict[str, Tensor]:
        """The head's raw outputs on the dropped-out groups."""
        return self.head(self.dropout(groups))
