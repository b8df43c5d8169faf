"""Pareto-efficient loss weights (PE-LTR, Lin et al., RecSys 2019).

``model_config.use_pareto_loss_weight``: every training step the task losses
``L_1..L_K`` are weighed by ``w`` solving

    min_w || sum_i w_i * grad L_i ||^2   s.t.  sum_i w_i = 1,  w_i >= c_i

over the gradients on the model head's parameters (the dense network after
the embedding lookup; see ``RankModel._pareto_weigh``), with ``c_i`` the
loss's task's ``pareto_min_loss_weight`` (TorchEasyRec's ``pe_mtl_loss``, the
paper's PE step). As there: the equality-constrained problem is solved in closed form
(its KKT system), then ``w - c`` is projected onto the simplex of sum
``1 - sum(c)``. Everything stays on the device (no host sync): the KKT
system is ridged so ``solve_ex`` never meets a singular matrix, and the
simplex projection is the sort-based one (Duchi et al., 2008).

The weights are constants for the backward pass (they carry no gradient).
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import Tensor

# Relative ridge on the Gram matrix: keeps the KKT system regular when
# gradients are parallel (or zero) without moving a regular solution much.
_RIDGE = 1e-6


def pareto_weights(grads: Tensor, min_weights: Tensor) -> Tensor:
    """The Pareto-efficient weights of ``K`` losses.

    Args:
        grads: ``[K, M]`` each loss's gradient, flattened.
        min_weights: ``[K]`` the least weight of each loss (sum < 1).

    Returns:
        ``[K]`` weights, each ``>= min_weights``, summing to 1 (float32).
    """
    k = grads.shape[0]
    g = grads.double()
    c = min_weights.to(g)
    gram = g @ g.t()
    scale = torch.diagonal(gram).mean().clamp_min(torch.finfo(torch.float64).tiny)
    eye = torch.eye(k, dtype=g.dtype, device=g.device)
    a = gram / scale + _RIDGE * eye
    ones = torch.ones(k, 1, dtype=g.dtype, device=g.device)
    kkt = torch.cat(
        [
            torch.cat([a, ones], dim=1),
            torch.cat([ones.t(), torch.zeros(1, 1, dtype=g.dtype, device=g.device)], 1),
        ],
        dim=0,
    )
    rhs = torch.cat([-(a @ c), (1.0 - c.sum()).reshape(1)])
    solution, _ = torch.linalg.solve_ex(kkt, rhs)
    w = project_to_simplex(solution[:k], 1.0 - c.sum()) + c
    uniform = torch.full_like(w, 1.0 / k)
    return torch.where(torch.isfinite(w).all(), w, uniform).float()


def project_to_simplex(v: Tensor, total: Tensor) -> Tensor:
    """Euclidean projection of ``v`` onto ``{x >= 0, sum(x) = total}``."""
    u, _ = torch.sort(v, descending=True)
    excess = torch.cumsum(u, 0) - total
    ranks = torch.arange(1, v.numel() + 1, dtype=v.dtype, device=v.device)
    # The largest rank whose component stays positive; rank 1 always does.
    rho = ((u - excess / ranks) > 0).sum().clamp_min(1) - 1
    theta = excess.gather(0, rho.reshape(1)) / (rho + 1).to(v.dtype)
    return (v - theta).clamp_min(0.0)


def loss_gradients(losses: Sequence[Tensor], params: Sequence[Tensor]) -> Tensor:
    """``[K, M]``: each loss's gradient over ``params``, flattened (graph kept)."""
    rows = []
    for loss in losses:
        grads = torch.autograd.grad(loss, params, retain_graph=True, allow_unused=True)
        rows.append(
            torch.cat(
                [
                    (g if g is not None else torch.zeros_like(p)).reshape(-1)
                    for g, p in zip(grads, params)
                ]
            )
        )
    return torch.stack(rows)
