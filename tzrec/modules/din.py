"""DIN attention: a user's history weighted by its relevance to the candidate.

Deep Interest Network (Zhou et al., 2018), as TorchEasyRec's DIN encoder: for
each position, an MLP reads ``[q, k, q - k, q * k]`` (query q, sequence item
k) and a linear layer scores it; scores of padded positions are masked out,
softmax-normalised over the present positions, and the sequence is summed
with those weights. A row with an empty sequence gives zeros. When the query
is narrower or wider than a sequence position, a bias-free linear layer maps
it to the sequence width first. TorchScript-compatible.
"""

import torch
from torch import Tensor, nn

from tzrec.modules.mlp import MLP
from tzrec.monitor.diagnostics import Diagnosable, entropy


class DINAttention(nn.Module, Diagnosable):
    """Attention pooling of a padded sequence by a query.

    On train log steps it reports the mean entropy of the attention weights
    over rows with a history (``din/<name>/attention_entropy``) and the same
    divided by ln(length) (``.../attention_entropy_ratio``: 1 is uniform
    attention, near 0 attends to one item).

    Args:
        query_dim: width of the query.
        sequence_dim: width of one sequence position.
        attn_mlp: ``tzrec.protos.module_pb2.MLP`` of the scoring MLP.
        where: config path, for errors.
        name: name in the diagnostics' tags (the sequence group).
    """

    def __init__(
        self,
        query_dim: int,
        sequence_dim: int,
        attn_mlp,
        where: str = "attn_mlp",
        name: str = "din",
    ) -> None:
        super().__init__()
        self.diag_name = name
        self.query_proj: nn.Module = (
            nn.Identity()
            if query_dim == sequence_dim
            else nn.Linear(query_dim, sequence_dim, bias=False)
        )
        self.mlp = MLP(4 * sequence_dim, attn_mlp, where)
        self.score = nn.Linear(self.mlp.output_dim, 1)
        self.output_dim = sequence_dim

    def forward(self, query: Tensor, sequence: Tensor, lengths: Tensor) -> Tensor:
        """``query`` [B, Dq], ``sequence`` [B, L, D], ``lengths`` [B] -> [B, D]."""
        batch, max_len, dim = sequence.shape
        q = self.query_proj(query).unsqueeze(1).expand(-1, max_len, -1)
        pairs = torch.cat([q, sequence, q - sequence, q * sequence], dim=-1)
        scores = self.score(self.mlp(pairs.reshape(batch * max_len, 4 * dim)))
        scores = scores.view(batch, max_len).float()
        present = torch.arange(max_len, device=sequence.device).unsqueeze(0) < (
            lengths.unsqueeze(1)
        )
        # Padded positions score -1e9 (float32): exp() underflows to 0.
        scores = scores.masked_fill(~present, -1e9)
        # An all-padded row gets uniform weights over zeros, then the mask -> 0.
        weights = torch.softmax(scores, dim=1) * present.to(scores.dtype)
        if not torch.jit.is_scripting():
            if self.diagnosing():
                self._report(weights, lengths)
        pooled = torch.bmm(weights.unsqueeze(1).to(sequence.dtype), sequence)
        return pooled.squeeze(1)

    @torch.jit.unused
    def _report(self, weights: Tensor, lengths: Tensor) -> None:
        rows = lengths > 0
        n = rows.sum().clamp_min(1)
        ent = entropy(weights) * rows
        # ln(length) is 0 for one item: that row's ratio counts as 1 (uniform).
        top = torch.log(lengths.clamp_min(1).float())
        ratio = torch.where(top > 0, ent / top.clamp_min(1e-12), torch.ones_like(ent))
        self.put(
            f"din/{self.diag_name}/attention_entropy",
            ent.sum() / n,
            description="Mean entropy (nats) of the DIN attention weights over "
            "rows with a history: 0 attends to one item.",
        )
        self.put(
            f"din/{self.diag_name}/attention_entropy_ratio",
            (ratio * rows).sum() / n,
            description="Mean attention entropy divided by ln(history length): "
            "1 is uniform attention, near 0 attends to one item.",
        )
