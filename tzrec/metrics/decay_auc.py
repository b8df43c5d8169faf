"""Train AUC over recent batches: thresholded counts that decay."""

from __future__ import annotations

import torch
from torch import Tensor

from tzrec.metrics.eval_metrics import AUC


class DecayAUC(AUC):
    """AUC whose confusion counts forget old batches geometrically.

    ``update`` adds a batch's bucket counts to a window buffer. ``decay(r)``
    folds the window in, as TorchEasyRec does::

        counts = r * counts + (1 - r) * window   if counts hold any rows
        counts = window                          otherwise (first fold)
        window = 0

    AUC is scale-free, so only the relative weights matter: after folds of
    windows ``W1, W2, W3`` the counts are ``r^2 W1 + r(1-r) W2 + (1-r) W3``.
    ``compute`` scores ``counts`` (the current window is not yet included).

    Args:
        thresholds: number of thresholds on [0, 1].
    """

    def __init__(self, thresholds: int = 200) -> None:
        super().__init__(thresholds)
        self._into = "window"
        self._add_state("window", torch.zeros_like(self._state["counts"]))

    def decay(self, rate: float) -> None:
        """Folds the window into the decayed counts; no host sync."""
        counts, window = self._state["counts"], self._state["window"]
        started = counts.sum() > 0
        counts.copy_(torch.where(started, rate * counts + (1 - rate) * window, window))
        window.zero_()

    def initialised(self) -> Tensor:
        """0-d bool tensor: whether any window has been folded in."""
        return self._state["counts"].sum() > 0
