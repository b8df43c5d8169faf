"""Building blocks of the reference models: tables, one pooled lookup, MLPs.

Written on torchrec and torch only (nothing from ``tzrec.models``,
``tzrec.modules`` or ``tzrec.features``), so that the benchmark can compare
tzrec with what a torchrec user would write by hand.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence

import torch
from torch import Tensor, nn
from torchrec import EmbeddingBagCollection, EmbeddingBagConfig, KeyedJaggedTensor
from torchrec.modules.embedding_configs import PoolingType
from torchrec.sparse.jagged_tensor import KeyedTensor


@dataclasses.dataclass(frozen=True)
class SparseFeature:
    """One id feature of the input KJT and its embedding table.

    Attributes:
        name: the KJT key (and the table's name).
        num_embeddings: rows of the table; ids must lie in ``[0, num_embeddings)``.
        embedding_dim: width of the table (a multiple of 4 for fbgemm).
        pooling: ``"sum"`` or ``"mean"`` over a row's ids (multi-valued
            features); a row with no id pools to zeros.
    """

    name: str
    num_embeddings: int
    embedding_dim: int = 16
    pooling: str = "sum"


@dataclasses.dataclass
class ReferenceBatch:
    """What a reference model trains on.

    Attributes:
        sparse: the id features, keyed by :attr:`SparseFeature.name`.
        dense: ``[B, num_dense]`` float features, or None.
        labels: ``[B]`` float 0/1 labels.
    """

    sparse: KeyedJaggedTensor
    dense: Tensor | None
    labels: Tensor

    def to(self, device: torch.device) -> ReferenceBatch:
        """A copy on ``device``."""
        return ReferenceBatch(
            self.sparse.to(device),
            None if self.dense is None else self.dense.to(device),
            self.labels.to(device),
        )

    @property
    def batch_size(self) -> int:
        """Rows in the batch."""
        return int(self.labels.shape[0])


def bag_configs(
    features: Sequence[SparseFeature], prefix: str = "", dim: int | None = None
) -> list[EmbeddingBagConfig]:
    """One table per feature; ``prefix``/``dim`` make a second (e.g. wide) set.

    Tables of a second set read the same KJT keys as the first (torchrec's
    shared features), so both are looked up from one KJT in one call.
    """
    return [
        EmbeddingBagConfig(
            name=prefix + f.name,
            embedding_dim=dim or f.embedding_dim,
            num_embeddings=f.num_embeddings,
            feature_names=[f.name],
            pooling=PoolingType.MEAN if f.pooling == "mean" else PoolingType.SUM,
        )
        for f in features
    ]


class PooledLookup(nn.Module):
    """One EmbeddingBagCollection; returns each table set as one ``[B, width]``.

    The pooled KeyedTensor is read as one ``[B, sum(dims)]`` tensor and sliced
    per set; when the sharded collection returns its keys in another order
    (more than one rank) a single fused regroup puts them back.

    Args:
        table_sets: lists of table configs; a set's output is its tables'
            pooled embeddings side by side, in list order.
        device: where tables are created (``meta`` lets DMP materialise them).
    """

    def __init__(
        self,
        table_sets: Sequence[Sequence[EmbeddingBagConfig]],
        device: torch.device | None = None,
    ) -> None:
        super().__init__()
        tables = [t for s in table_sets for t in s]
        self.ebc = EmbeddingBagCollection(tables=tables, device=device)
        names = self.ebc._embedding_names  # torchrec's "feature@table" for shared keys
        self._groups: list[list[str]] = []
        start = 0
        for s in table_sets:
            self._groups.append(names[start : start + len(s)])
            start += len(s)
        self._flat = [n for g in self._groups for n in g]
        self._widths = [sum(t.embedding_dim for t in s) for s in table_sets]

    def forward(self, sparse: KeyedJaggedTensor) -> list[Tensor]:
        """``[B, width]`` per table set."""
        kt: KeyedTensor = self.ebc(sparse)
        if kt.keys() == self._flat:
            return list(kt.values().split(self._widths, dim=1))
        return KeyedTensor.regroup([kt], self._groups)


def mlp(in_dim: int, hidden: Sequence[int]) -> nn.Sequential:
    """Linear + ReLU per hidden width."""
    layers: list[nn.Module] = []
    for width in hidden:
        layers += [nn.Linear(in_dim, width), nn.ReLU()]
        in_dim = width
    return nn.Sequential(*layers)
