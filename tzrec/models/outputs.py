"""Raw task outputs -> named predictions (TorchScript-compatible).

Keys follow TorchEasyRec, with ``<sfx>`` the task suffix (``""`` or
``_<tower>``):

* binary_cross_entropy / binary_focal_loss: ``logits<sfx>``, ``probs<sfx>`` [B]
* softmax_cross_entropy: ``logits<sfx>``, ``probs<sfx>`` [B, C], and
  ``probs1<sfx>`` [B] (P(class 1)) when C is 2
* l2_loss: ``y<sfx>`` [B]

Predictions are float32 even when the model ran under BF16 autocast, so
losses and metrics never see reduced precision.
"""

import torch
from torch import Tensor, nn

from tzrec.loss.spec import BINARY_KINDS, L2_LOSS, SOFTMAX_KINDS
from tzrec.models.tasks import Task


class TaskOutputs(nn.Module):
    """Turns ``{task name: [B, num_class]}`` into the prediction dict.

    Args:
        tasks: the model's tasks.
    """

    names: list[str]
    suffixes: list[str]
    binary: list[bool]
    softmax: list[bool]
    regression: list[bool]

    def __init__(self, tasks: list[Task]) -> None:
        super().__init__()
        self.names = [t.name for t in tasks]
        self.suffixes = [t.suffix for t in tasks]
        self.binary = [bool(t.kinds & set(BINARY_KINDS)) for t in tasks]
        self.softmax = [bool(t.kinds & set(SOFTMAX_KINDS)) for t in tasks]
        self.regression = [L2_LOSS in t.kinds for t in tasks]

    def forward(self, raw: dict[str, Tensor]) -> dict[str, Tensor]:
        """Named predictions of every task."""
        out: dict[str, Tensor] = {}
        for i in range(len(self.names)):
            x = raw[self.names[i]].float()
            sfx = self.suffixes[i]
            if self.softmax[i]:
                probs = torch.softmax(x, dim=1)
                out["logits" + sfx] = x
                out["probs" + sfx] = probs
                if x.size(1) == 2:
                    out["probs1" + sfx] = probs[:, 1]
            if self.binary[i]:
                logit = x.squeeze(1)
                out["logits" + sfx] = logit
                out["probs" + sfx] = torch.sigmoid(logit)
            if self.regression[i]:
                out["y" + sfx] = x.squeeze(1)
        return out
