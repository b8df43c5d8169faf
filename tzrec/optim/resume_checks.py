"""Checks of a restored optimizer against the config it resumes under.

On resume the optimizer's hyperparameters come from the config, not the
checkpoint (torchrec's keyed optimizers do not save param_groups). A field
the old run left unset therefore takes today's default: dense SGD's
``momentum`` became TorchEasyRec's 0.9 (it was 0.0), so a run trained
without momentum would silently gain it mid-run.
"""

from __future__ import annotations

from typing import Any


def momentum_switched_on(optimizer: Any, steps_taken: int) -> list[str]:
    """Dense parts whose momentum is on but whose restored state has none.

    A group that has stepped with momentum holds a ``momentum_buffer`` for
    every parameter that had a gradient (SGD, RMSprop); one trained without
    it holds none. So momentum > 0 with no buffer in a group, after at least
    one optimizer update, means the checkpoint was trained without it.

    Args:
        optimizer: the restored ``TrainOptimizer``.
        steps_taken: optimizer updates the checkpoint had made.

    Returns:
        The names of those dense parts (``"dense"``, ``"part<i>"``).

    """
    if steps_taken <= 0:
        return []
    switched = []
    for name, part in optimizer.optimizers:
        if name == "sparse":
            continue
        for group in part.param_groups:
            if not group.get("momentum"):
                continue
            params = [p for p in group["params"] if p.requires_grad]
            if params and not any(
                "momentum_buffer" in part.state.get(p, {}) for p in params
            ):
                switched.append(name)
                break
    return switched
