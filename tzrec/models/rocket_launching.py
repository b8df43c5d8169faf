"""Rocket Launching (Zhou et al., 2018): a light net trained beside a booster.

Reads one feature group, through an optional ``share_mlp``. The booster net
(``booster_mlp``) and the light net (``light_mlp``) each end in an output
layer; the light net reads the shared features detached, so only its own
losses train it. Both are tasks on the model's label, named ``booster`` and
``light`` (``logits_booster``, ``auc_light``, ...). Training adds the hint
loss ``hint_l2_loss`` (squared error between the light logits and the
booster's, held constant) and, with ``feature_based_distillation``, per light
hidden layer whose width a booster layer shares, ``similarity_<i>``: cosine
(``-0.1 * mean cos``) or Euclidean distance to the booster layer (held
constant). Serve the light net: its predictions are ``probs_light``.

``l2_regularization`` other than its default is "not supported yet":
TorchEasyRec does not apply it either.
"""

import copy

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from tzrec.datasets.batch import Batch
from tzrec.loss.losses import weighted_mean
from tzrec.models.model import RankModel
from tzrec.modules.mlp import MLP
from tzrec.protos import simi_pb2
from tzrec.utils.errors import ConfigError

_WHERE = "model_config.rocket_launching"
HINT_LOSS = "hint_l2_loss"


def layerwise_mlp(in_features: int, config, where: str) -> list[MLP]:
    """The MLP ``config`` as one single-layer MLP per hidden layer."""
    ratios = list(config.dropout_ratio)
    if len(ratios) not in (0, 1, len(config.hidden_units)):
        raise ConfigError(
            f"dropout_ratio has {len(ratios)} values for "
            f"{len(config.hidden_units)} layers",
            f"{where}.dropout_ratio",
            "give one ratio, or one per layer",
        )
    if not config.hidden_units:
        raise ConfigError("MLP has no hidden_units", where, "set hidden_units: [...]")
    layers = []
    for i, units in enumerate(config.hidden_units):
        one = copy.deepcopy(config)
        one.ClearField("hidden_units")
        one.hidden_units.append(units)
        one.ClearField("dropout_ratio")
        if ratios:
            one.dropout_ratio.append(ratios[0] if len(ratios) == 1 else ratios[i])
        layers.append(MLP(in_features, one, where))
        in_features = units
    return layers


class _Net(nn.Module):
    """An MLP keeping every hidden layer's output, then the output layer."""

    def __init__(self, layers: list[MLP], num_class: int) -> None:
        super().__init__()
        self.layers = nn.ModuleList(layers)
        self.output = nn.Linear(layers[-1].output_dim, num_class)

    def forward(self, x: Tensor) -> tuple[Tensor, list[Tensor]]:
        hidden: list[Tensor] = []
        for layer in self.layers:
            x = layer(x)
            hidden.append(x)
        return self.output(x), hidden


class RocketLaunchingHead(nn.Module):
    """Both nets after the embedding lookup (TorchScript-compatible).

    Besides the raw task outputs it returns the hidden layers as
    ``hidden_booster_<j>`` / ``hidden_light_<i>`` for the distillation losses.
    """

    def __init__(
        self, group: str, share: nn.Module, booster: _Net, light: _Net
    ) -> None:
        super().__init__()
        self.group = group
        self.share = share
        self.booster = booster
        self.light = light

    def forward(self, groups: dict[str, list[Tensor]]) -> dict[str, Tensor]:
        """Raw ``booster`` and ``light`` outputs ``[B, num_class]``, hidden layers."""
        shared = self.share(torch.cat(groups[self.group], dim=1))
        booster, b_hidden = self.booster(shared)
        light, l_hidden = self.light(shared.detach())
        out = {"booster": booster, "light": light}
        for j, h in enumerate(b_hidden):
            out["hidden_booster_" + str(j)] = h
        for i, h in enumerate(l_hidden):
            out["hidden_light_" + str(i)] = h
        return out


class RocketLaunching(RankModel):
    """Booster and light nets with hint (and feature) distillation."""

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        cfg = self.model_config.rocket_launching
        group = self.only_group(_WHERE)
        width = self.group_dim(group)
        share: nn.Module = nn.Identity()
        if cfg.HasField("share_mlp"):
            share = MLP(width, cfg.share_mlp, f"{_WHERE}.share_mlp")
            width = share.output_dim
        for field in ("booster_mlp", "light_mlp"):
            if not cfg.HasField(field):
                raise ConfigError(
                    f"{field} is required", f"{_WHERE}.{field}", "add an MLP"
                )
        num_class = self.tasks[0].num_class
        booster = _Net(
            layerwise_mlp(width, cfg.booster_mlp, f"{_WHERE}.booster_mlp"), num_class
        )
        light = _Net(
            layerwise_mlp(width, cfg.light_mlp, f"{_WHERE}.light_mlp"), num_class
        )
        self.head = RocketLaunchingHead(group, share, booster, light)
        self.pairs: list[tuple[int, int]] = []
        if cfg.feature_based_distillation:
            booster_units = list(cfg.booster_mlp.hidden_units)
            for i, units in enumerate(cfg.light_mlp.hidden_units):
                if units in booster_units:
                    self.pairs.append((i, booster_units.index(units)))
        self.cosine = cfg.feature_distillation_function == simi_pb2.COSINE
        self.loss_names = (
            self.loss_names
            + [HINT_LOSS]
            + [f"similarity_{k}" for k in range(len(self.pairs))]
        )

    def predict(self, batch: Batch) -> dict[str, Tensor]:
        """Named predictions of both nets, plus hidden layers (for the losses)."""
        raw = self.head(self.head_inputs(batch))
        preds = self.outputs(raw)
        for k, v in raw.items():
            if k.startswith("hidden_"):
                preds[k] = v
        return preds

    def loss(self, preds: dict[str, Tensor], batch: Batch) -> dict[str, Tensor]:
        """Both nets' losses, the hint loss and the feature distillation losses."""
        losses = super().loss(preds, batch)
        task = self.tasks[0]
        w = batch.weights[task.sample_weight_name] if task.sample_weight_name else None
        light, booster = preds["logits_light"], preds["logits_booster"].detach()
        losses[HINT_LOSS] = weighted_mean(
            (light - booster).pow(2).reshape(light.shape[0], -1).mean(1), w
        )
        for k, (i, j) in enumerate(self.pairs):
            lf = preds[f"hidden_light_{i}"].float()
            bf = preds[f"hidden_booster_{j}"].detach().float()
            if self.cosine:
                sim = (F.normalize(lf, dim=1) * F.normalize(bf, dim=1)).sum(1)
                losses[f"similarity_{k}"] = -0.1 * weighted_mean(sim, w)
            else:
                sq = (lf - bf).pow(2).sum(1)
                wsq = sq if w is None else sq * w
                losses[f"similarity_{k}"] = torch.sqrt(wsq.sum())
        return losses
