"""MLP block configured by the ``MLP`` proto (dropout, BN, LN, activation)."""

from __future__ import annotations

from torch import nn

from tzrec.utils.errors import ConfigError

_ACTIVATIONS = {
    "nn.ReLU": nn.ReLU,
    "nn.LeakyReLU": nn.LeakyReLU,
    "nn.PReLU": nn.PReLU,
    "nn.GELU": nn.GELU,
    "nn.SiLU": nn.SiLU,
    "nn.Sigmoid": nn.Sigmoid,
    "nn.Tanh": nn.Tanh,
    "Dice": nn.PReLU,  # closest stand-in; documented in the README
}


def make_activation(name: str, where: str) -> nn.Module:
    """An activation module from its config name (e.g. ``nn.ReLU``)."""
    cls = _ACTIVATIONS.get(name or "nn.ReLU")
    if cls is None:
        raise ConfigError(
            f'unknown activation "{name}"',
            where,
            f"use one of {', '.join(_ACTIVATIONS)}",
        )
    return cls()


class MLP(nn.Sequential):
    """Linear -> [BN|LN] -> activation -> [dropout], per hidden layer.

    A plain ``nn.Sequential`` (no ``forward`` override) so TorchScript compiles
    it and export reuses the trained module.

    Args:
        in_features: input width.
        config: ``tzrec.protos.module_pb2.MLP``.
        where: config path, for error messages.

    """

    def __init__(self, in_features: int, config, where: str = "mlp") -> None:
        layers: list[nn.Module] = []
        units = list(config.hidden_units)
        if not units:
            raise ConfigError(
                "MLP has no hidden_units", where, "set hidden_units: [...]"
            )
        ratios = list(config.dropout_ratio)
        if len(ratios) not in (0, 1, len(units)):
            raise ConfigError(
                f"dropout_ratio has {len(ratios)} values for {len(units)} layers",
                f"{where}.dropout_ratio",
                "give one ratio, or one per layer",
            )
        dim = in_features
        for i, out in enumerate(units):
            layers.append(nn.Linear(dim, out, bias=config.bias))
            if config.use_bn:
                layers.append(nn.BatchNorm1d(out))
            if config.use_ln:
                layers.append(nn.LayerNorm(out))
            layers.append(make_activation(config.activation, f"{where}.activation"))
            ratio = ratios[0] if len(ratios) == 1 else (ratios[i] if ratios else 0.0)
            if ratio > 0:
                layers.append(nn.Dropout(ratio))
            dim = out
        super().__init__(*layers)
        self.output_dim = dim
