"""The optimizer a training step drives: schedules, accumulation, clipping.

Wraps the combined (fused sparse + dense) optimizer so that the step
function stays ``zero_grad -> backward -> step``:

* **Learning-rate schedules** (:mod:`tzrec.optim.lr`), stepped explicitly:
  :meth:`TrainOptimizer.apply_lr_schedule` sets every group's ``lr`` for
  the step about to run, from the global step, so the logged ``lr/g<i>`` is
  the rate the step used. The fused sparse optimizer pushes its group's
  ``lr`` into the fbgemm kernel on its ``zero_grad``/``step`` (a fill of a
  host tensor, no sync), and the kernel reads it when the lookup runs; the
  usual ``apply_lr_schedule -> zero_grad -> forward`` order gives it this
  step's rate.
* **Gradient accumulation** over ``k`` steps: a step is one micro-batch (as
  in TorchEasyRec; ``num_steps``, checkpoints and schedules count them). The
  loss is scaled by ``1/k`` (:attr:`loss_scale`), dense gradients accumulate
  and the dense optimizer steps every ``k``-th step. Embedding tables are
  updated inside their backward by the fused optimizer, so **sparse
  parameters update on every micro-batch** (with the ``1/k``-scaled
  gradient); there is no sparse accumulation.
* **Gradient clipping** of dense parameters (``norm`` or ``value``) just
  before each dense update, with foreach kernels and no host read.
"""

from __future__ import annotations

from typing import Any

import torch
from torchrec.optim.keyed import CombinedOptimizer, OptimizerWrapper

from tzrec.optim.lr import Schedule


class TrainOptimizer(OptimizerWrapper):
    """A CombinedOptimizer of a ``"sparse"`` part and dense parts.

    The dense parts are ``"dense"`` (parameters no ``part_optimizers`` entry
    matches) and ``"part<i>"`` (the i-th part optimizer's parameters); each
    has its own schedule. Clipping treats all dense parts as one set.

    Args:
        optimizer: the combined optimizer.
        schedules: part name -> schedule (absent or None: constant rate).
        accumulation_steps: micro-batches per dense update, >= 1.
        clipping_type: ``none``, ``norm`` or ``value``.
        max_gradient: the norm or value bound.
        norm_type: p of the p-norm for ``norm`` clipping.
    """

    def __init__(
        self,
        optimizer: CombinedOptimizer,
        schedules: dict[str, Schedule | None] | None = None,
        accumulation_steps: int = 1,
        clipping_type: str = "none",
        max_gradient: float = 1.0,
        norm_type: float = 2.0,
    ) -> None:
        super().__init__(optimizer)
        self.schedules = {k: v for k, v in (schedules or {}).items() if v is not None}
        self.accumulation_steps = max(1, int(accumulation_steps))
        self.clipping_type = clipping_type or "none"
        self.max_gradient = max_gradient
        self.norm_type = norm_type
        self.global_step = 0
        # Groups built with lr 0 are frozen tables (trainable: false):
        # schedules skip them.
        self._frozen = {
            id(g)
            for _, opt in self.optimizers
            for g in opt.param_groups
            if g.get("lr") == 0
        }

    @property
    def optimizers(self) -> list[tuple[str, Any]]:
        """The wrapped parts, ``(name, optimizer)``."""
        return self._optimizer.optimizers

    @property
    def loss_scale(self) -> float:
        """Factor on the loss before backward (``1/k`` when accumulating)."""
        return 1.0 / self.accumulation_steps

    def set_global_step(self, step: int) -> None:
        """Steps completed so far (call after restoring a checkpoint)."""
        self.global_step = int(step)

    def _part(self, name: str) -> Any:
        for part_name, opt in self.optimizers:
            if part_name == name:
                return opt
        return None

    def _window_start(self) -> bool:
        return self.global_step % self.accumulation_steps == 0

    def apply_lr_schedule(self) -> None:
        """Sets every scheduled group's lr for the step about to run."""
        for name, schedule in self.schedules.items():
            part = self._part(name)
            if part is None:
                continue
            lr = schedule(self.global_step)
            for group in part.param_groups:
                if id(group) not in self._frozen:
                    group["lr"] = lr

    def learning_rates(self) -> list[float]:
        """The rates logged as ``lr/g<i>``: the first group, then the dense groups."""
        return [g["lr"] for g in self.param_groups[:1]] + [
            g["lr"]
            for name, part in self.optimizers
            if name != "sparse"
            for g in part.param_groups
        ]

    def zero_grad(self, set_to_none: bool = False) -> None:
        """Clears gradients at a window start (the fused part: pushes its lr)."""
        if self._window_start():
            self._optimizer.zero_grad(set_to_none=set_to_none)
            return
        sparse = self._part("sparse")
        if sparse is not None:  # fused: no gradients, only pushes the new lr
            sparse.zero_grad(set_to_none=set_to_none)

    def step(self, closure: Any = None) -> None:
        """Clips and updates dense parameters at a window end; counts the step."""
        self.global_step += 1
        if self.global_step % self.accumulation_steps == 0:
            self._clip()
            self._optimizer.step(closure=closure)
            return
        sparse = self._part("sparse")
        if sparse is not None:
            sparse.step(closure=closure)

    def _dense_params(self) -> list[torch.Tensor]:
        return [
            p
            for name, part in self.optimizers
            if name != "sparse"
            for p in part.params.values()
            if p.grad is not None
        ]

    def _clip(self) -> None:
        if self.clipping_type == "none":
            return
        params = self._dense_params()
        if not params:
            return
        if self.clipping_type == "norm":
            torch.nn.utils.clip_grad_norm_(
                params, self.max_gradient, self.norm_type, foreach=True
            )
        else:
            torch.nn.utils.clip_grad_value_(params, self.max_gradient, foreach=True)
