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


class DINAttention(nn.Module):
    """Attention pooling of a padded sequence by a query.

    Args:
        query_dim: width of the query.
        sequence_dim: width of one sequence position.
        attn_mlp: ``tzrec.protos.module_pb2.MLP`` of the scoring MLP.
        where: config path, for errors.
    """

    def __init__(
        self,
        query_dim: int,
        sequence_dim: int,
        attn_mlp,  # noqa: ANN001
        where: str = "attn_mlp",
    ) -> None:
        super().__init__()
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
        pooled = torch.bmm(weights.unsqueeze(1).to(sequence.dtype), sequence)
        return pooled.squeeze(1)
