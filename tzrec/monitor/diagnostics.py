"""Model diagnostics: ``self.put(name, tensor)`` during forward, read on log steps.

After the idea of PyTorch Lightning's ``put`` RFC: a model or module mixes
in :class:`Diagnosable` and reports a value where it is computed::

    if self.diagnosing():
        self.put("mmoe/task0/gate_entropy", entropy)

``diagnosing()`` is true only during the forward of a train log step (the
monitor arms the store before that step), so the extra arithmetic runs on
log steps only, and ``put`` keeps the detached tensor on the device: the
monitor reads every value of the step in one transfer and writes it as
``model/<name>`` (a 1-D tensor as ``model/<name>/<i>``) to the chosen
destinations. Both methods are ``torch.jit.unused``: a scripted head never
calls them (guard with ``torch.jit.is_scripting()``).
"""

from __future__ import annotations

from collections.abc import Iterable

import torch
from torch import Tensor

CONSOLE = "console"
TENSORBOARD = "tensorboard"
TRACKERS = "trackers"
ALL_DESTINATIONS = (TENSORBOARD, TRACKERS)


class DiagnosticsStore:
    """The values put during one armed forward (process-wide, rank-local)."""

    def __init__(self) -> None:
        self.armed = False
        self.values: dict[str, tuple[Tensor, tuple[str, ...]]] = {}
        self.descriptions: dict[str, str] = {}

    def arm(self, on: bool) -> None:
        """Starts (or stops) recording; clears what an earlier step left."""
        self.armed = on
        self.values = {}

    def put(
        self,
        name: str,
        value: Tensor,
        destinations: Iterable[str],
        description: str = "",
    ) -> None:
        if self.armed:
            self.values[name] = (value.detach(), tuple(destinations))
            if description:
                self.descriptions[name] = description

    def read(self) -> dict[str, tuple[float, tuple[str, ...]]]:
        """Every value as floats (one device-to-host transfer); disarms."""
        items = list(self.values.items())
        self.arm(False)
        if not items:
            return {}
        flat = [v.float().reshape(-1) for _, (v, _) in items]
        numbers = torch.cat([f.to(flat[0].device) for f in flat]).tolist()
        out: dict[str, tuple[float, tuple[str, ...]]] = {}
        pos = 0
        for (name, (value, dest)), f in zip(items, flat):
            n = f.numel()
            if value.dim() == 0:
                out[name] = (numbers[pos], dest)
            else:
                for i in range(n):
                    out[f"{name}/{i}"] = (numbers[pos + i], dest)
            pos += n
        return out


STORE = DiagnosticsStore()


class Diagnosable:
    """Mixin giving a module ``put`` and ``diagnosing`` (see the module doc)."""

    @torch.jit.unused
    def diagnosing(self) -> bool:
        """Whether this forward is recorded (a train log step)."""
        return STORE.armed

    @torch.jit.unused
    def put(
        self,
        name: str,
        value: Tensor,
        destinations: Iterable[str] = ALL_DESTINATIONS,
        description: str = "",
    ) -> None:
        """Reports ``value`` (0-d or 1-d, left on the device) as ``model/<name>``.

        Args:
            name: tag below ``model/``.
            value: the tensor; detached, read on the log step.
            destinations: any of ``tensorboard``, ``trackers``, ``console``.
            description: TensorBoard's description of the tag.
        """
        STORE.put(name, value, destinations, description)


def entropy(weights: Tensor, dim: int = -1) -> Tensor:
    """Shannon entropy (nats) of probability rows; 0 log 0 counts as 0."""
    w = weights.float()
    return -(w * torch.log(w.clamp_min(1e-12))).sum(dim)
