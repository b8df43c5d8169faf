"""Opt-in model summaries: gradient norms and histograms, parameter histograms.

Only dense local tensors are summarised: sharded embedding tables
(ShardedTensor, DTensor) and fused-optimizer tables, whose gradients never
materialise, are skipped, so ``global_gradient_norm`` covers the dense part.
"""

from __future__ import annotations

from typing import TypeGuard

import torch
from torch import Tensor, nn

from tzrec.monitor import keys
from tzrec.monitor.sinks import Sink


def is_plain(t: Tensor | None) -> TypeGuard[Tensor]:
    """A dense local tensor (not None, not a ShardedTensor or DTensor)."""
    return type(t) in (Tensor, nn.Parameter)


def write_gradient_summaries(
    sink: Sink, step: int, model: nn.Module, summaries: frozenset[str]
) -> None:
    """Writes the enabled gradient summaries; one host read for all norms."""
    named = [(n, p.grad) for n, p in model.named_parameters() if is_plain(p.grad)]
    if not named:
        return
    norms = torch.stack(
        [torch.linalg.vector_norm(g.detach().float()) for _, g in named]
    )
    values = torch.cat([torch.linalg.vector_norm(norms)[None], norms]).tolist()
    scalars = {}
    if keys.SUMMARY_GLOBAL_GRADIENT_NORM in summaries:
        scalars[keys.GLOBAL_GRADIENT_NORM] = values[0]
    if keys.SUMMARY_GRADIENT_NORM in summaries:
        for (name, _), v in zip(named, values[1:]):
            scalars[keys.gradient_norm_tag(name)] = v
    sink.scalars(step, scalars)
    if keys.SUMMARY_GRADIENT in summaries:
        for name, grad in named:
            sink.histogram(step, keys.gradient_tag(name), grad)


def write_parameter_histograms(sink: Sink, step: int, model: nn.Module) -> None:
    """Writes a histogram of every dense parameter's values."""
    for name, p in model.named_parameters():
        if is_plain(p):
            sink.histogram(step, keys.param_tag(name), p)
