"""Sequence encoders: a padded sequence and its query -> one vector per row.

TorchEasyRec's ``sequence_encoders`` of a feature group. Every encoder reads
``query`` [B, Dq] (the sequence group's non-sequence features, e.g. the
candidate item), ``sequence`` [B, L, D] (zero-padded) and ``lengths`` [B],
and returns [B, output_dim]; padded positions never contribute and an empty
sequence gives zeros. TorchScript-compatible.

* ``din_encoder``: DIN attention (tzrec.modules.din), output D.
* ``simple_attention``: softmax of ``q . k`` over the positions, output D.
* ``pooling_encoder``: sum or mean of the positions, output D.
* ``multi_window_din_encoder``: DIN scores per position (not normalised),
  summed per window of ``windows_len`` consecutive positions (most recent
  first) and divided by the window's present positions; output
  ``len(windows_len) * D``.
* ``self_attention_encoder``: one multi-head self-attention layer over the
  present positions (residual, LayerNorm), then their mean; output D.
"""

import torch
from torch import Tensor, nn

from tzrec.modules.din import DINAttention
from tzrec.modules.mlp import MLP
from tzrec.utils.errors import ConfigError


def _present(lengths: Tensor, max_len: int) -> Tensor:
    """[B, L] bool: position < length."""
    pos = torch.arange(max_len, device=lengths.device)
    return pos.unsqueeze(0) < lengths.unsqueeze(1)


def _masked_softmax(scores: Tensor, present: Tensor) -> Tensor:
    # Padded positions score -1e9 (float32): exp() underflows to 0; an
    # all-padded row gets uniform weights, zeroed by the mask.
    scores = scores.float().masked_fill(~present, -1e9)
    return torch.softmax(scores, dim=1) * present.to(scores.dtype)


class _QueryProjection(nn.Module):
    """Maps the query to the sequence width when they differ (no bias)."""

    def __init__(self, query_dim: int, sequence_dim: int) -> None:
        super().__init__()
        self.proj: nn.Module = (
            nn.Identity()
            if query_dim == sequence_dim
            else nn.Linear(query_dim, sequence_dim, bias=False)
        )

    def forward(self, query: Tensor) -> Tensor:
        return self.proj(query)


class DINEncoder(nn.Module):
    """``din_encoder``: target attention with a scoring MLP."""

    def __init__(self, query_dim: int, sequence_dim: int, attn_mlp, where: str) -> None:
        super().__init__()
        if query_dim == 0:
            raise ConfigError(
                "din_encoder needs a query: the sequence group has no "
                "non-sequence feature",
                where,
                "add the candidate's features (e.g. item_id) to the sequence group",
            )
        self.din = DINAttention(query_dim, sequence_dim, attn_mlp, f"{where}.attn_mlp")
        self.output_dim = sequence_dim

    def forward(self, query: Tensor, sequence: Tensor, lengths: Tensor) -> Tensor:
        """[B, D]."""
        return self.din(query, sequence, lengths)


class SimpleAttention(nn.Module):
    """``simple_attention``: softmax of query-key dot products."""

    def __init__(self, query_dim: int, sequence_dim: int, where: str) -> None:
        super().__init__()
        if query_dim == 0:
            raise ConfigError(
                "simple_attention needs a query: the sequence group has no "
                "non-sequence feature",
                where,
                "add the candidate's features to the sequence group",
            )
        self.query = _QueryProjection(query_dim, sequence_dim)
        self.output_dim = sequence_dim

    def forward(self, query: Tensor, sequence: Tensor, lengths: Tensor) -> Tensor:
        """[B, D]."""
        q = self.query(query)
        scores = torch.bmm(sequence, q.unsqueeze(2)).squeeze(2)
        weights = _masked_softmax(scores, _present(lengths, sequence.shape[1]))
        return torch.bmm(weights.unsqueeze(1).to(sequence.dtype), sequence).squeeze(1)


class PoolingEncoder(nn.Module):
    """``pooling_encoder``: sum or mean of the present positions."""

    mean: bool

    def __init__(self, sequence_dim: int, pooling_type: str, where: str) -> None:
        super().__init__()
        if pooling_type not in ("sum", "mean"):
            raise ConfigError(
                f'pooling_type "{pooling_type}" is not sum or mean',
                f"{where}.pooling_type",
                'use "sum" or "mean"',
            )
        self.mean = pooling_type == "mean"
        self.output_dim = sequence_dim

    def forward(self, query: Tensor, sequence: Tensor, lengths: Tensor) -> Tensor:
        """[B, D]."""
        present = _present(lengths, sequence.shape[1]).to(sequence.dtype)
        total = (sequence * present.unsqueeze(2)).sum(1)
        if self.mean:
            total = total / lengths.clamp(min=1).unsqueeze(1).to(total.dtype)
        return total


class MultiWindowDINEncoder(nn.Module):
    """``multi_window_din_encoder``: DIN-scored sums over windows of positions."""

    starts: list[int]
    ends: list[int]

    def __init__(
        self,
        query_dim: int,
        sequence_dim: int,
        attn_mlp,
        windows_len: list[int],
        where: str,
    ) -> None:
        super().__init__()
        if query_dim == 0:
            raise ConfigError(
                "multi_window_din_encoder needs a query",
                where,
                "add the candidate's features",
            )
        if not windows_len or min(windows_len) < 1:
            raise ConfigError(
                "windows_len must be positive lengths",
                f"{where}.windows_len",
                "e.g. [1, 4, 16]",
            )
        self.query = _QueryProjection(query_dim, sequence_dim)
        self.mlp = MLP(4 * sequence_dim, attn_mlp, f"{where}.attn_mlp")
        self.score = nn.Linear(self.mlp.output_dim, 1)
        self.starts, self.ends = [], []
        at = 0
        for w in windows_len:
            self.starts.append(at)
            self.ends.append(at + int(w))
            at += int(w)
        self.output_dim = sequence_dim * len(windows_len)

    def forward(self, query: Tensor, sequence: Tensor, lengths: Tensor) -> Tensor:
        """[B, len(windows_len) * D]."""
        batch, max_len, dim = sequence.shape
        q = self.query(query).unsqueeze(1).expand(-1, max_len, -1)
        pairs = torch.cat([q, sequence, q - sequence, q * sequence], dim=-1)
        scores = self.score(self.mlp(pairs.reshape(batch * max_len, 4 * dim)))
        present = _present(lengths, max_len).to(sequence.dtype)
        weighted = sequence * (scores.view(batch, max_len, 1) * present.unsqueeze(2))
        outs: list[Tensor] = []
        for i in range(len(self.starts)):
            s, e = self.starts[i], self.ends[i]
            count = present[:, s:e].sum(1, keepdim=True).clamp(min=1.0)
            outs.append(weighted[:, s:e].sum(1) / count)
        return torch.cat(outs, dim=1)


class SelfAttentionEncoder(nn.Module):
    """``self_attention_encoder``: self-attention over positions, then their mean."""

    def __init__(
        self, sequence_dim: int, num_heads: int, dropout: float, where: str
    ) -> None:
        super().__init__()
        if num_heads < 1 or sequence_dim % num_heads:
            raise ConfigError(
                f"num_heads {num_heads} does not divide the sequence width "
                f"{sequence_dim}",
                f"{where}.num_heads",
                "use a divisor of the summed embedding_dim of the sequence features",
            )
        self.attn = nn.MultiheadAttention(
            sequence_dim, num_heads, dropout=dropout, batch_first=True
        )
        self.norm = nn.LayerNorm(sequence_dim)
        self.output_dim = sequence_dim

    def forward(self, query: Tensor, sequence: Tensor, lengths: Tensor) -> Tensor:
        """[B, D]."""
        present = _present(lengths, sequence.shape[1])
        # An empty row attends to position 0 (zeros) instead of nothing (NaN).
        pad = ~(
            present | (torch.arange(sequence.shape[1], device=sequence.device) == 0)
        )
        out, _ = self.attn(
            sequence, sequence, sequence, key_padding_mask=pad, need_weights=False
        )
        out = self.norm(sequence + out) * present.unsqueeze(2).to(sequence.dtype)
        return out.sum(1) / lengths.clamp(min=1).unsqueeze(1).to(out.dtype)


def build_encoder(
    config,
    query_dim: int,
    sequence_dim: int,
    where: str,
) -> (
    DINEncoder
    | SimpleAttention
    | PoolingEncoder
    | MultiWindowDINEncoder
    | SelfAttentionEncoder
):
    """The encoder of one ``SeqEncoderConfig``.

    Raises:
        ConfigError: unset, not supported yet, or badly configured.
    """
    kind = config.WhichOneof("seq_module")
    name = getattr(config, kind).name if kind else ""
    at = f"{where}.{kind}" + (f' "{name}"' if name else "")
    if kind == "din_encoder":
        return DINEncoder(query_dim, sequence_dim, config.din_encoder.attn_mlp, at)
    if kind == "simple_attention":
        return SimpleAttention(query_dim, sequence_dim, at)
    if kind == "pooling_encoder":
        return PoolingEncoder(sequence_dim, config.pooling_encoder.pooling_type, at)
    if kind == "multi_window_din_encoder":
        c = config.multi_window_din_encoder
        return MultiWindowDINEncoder(
            query_dim, sequence_dim, c.attn_mlp, list(c.windows_len), at
        )
    if kind == "self_attention_encoder":
        c = config.self_attention_encoder
        return SelfAttentionEncoder(sequence_dim, c.num_heads, c.dropout_ratio, at)
    raise ConfigError(
        f"sequence encoder {kind or '(unset)'} is not supported yet",
        where,
        "use din_encoder, simple_attention, pooling_encoder, "
        "multi_window_din_encoder or self_attention_encoder",
    )
