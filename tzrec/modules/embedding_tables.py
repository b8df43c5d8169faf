"""Table helpers shared by the bag and the sequence embedding collections."""

from __future__ import annotations

import torch
from torch import nn
from torchrec.optim.apply_optimizer_in_backward import apply_optimizer_in_backward

from tzrec.features.feature import TableSpec
from tzrec.utils.errors import ConfigError


def init_fn_of(spec: str, where: str = "init_fn"):  # noqa: ANN201
    """An init function from ``nn.init.normal_,std=0.01``-style text (or None)."""
    if not spec:
        return None
    name, *kwargs = [p.strip() for p in spec.split(",")]
    fn = getattr(nn.init, name.removeprefix("nn.init."), None)
    if fn is None or not name.removeprefix("nn.init.").endswith("_"):
        raise ConfigError(
            f'unknown init_fn "{spec}"', where, "use e.g. nn.init.normal_,std=0.01"
        )
    params = {k.strip(): float(v) for k, v in (kv.split("=") for kv in kwargs)}
    return lambda t: fn(t, **params)


def check_dims(tables: dict[str, TableSpec], wide_dim: int | None = None) -> None:
    """Checks table names, and widths being multiples of 4 (fbgemm's kernels)."""
    for spec in tables.values():
        if hasattr(nn.ModuleDict, spec.name):
            raise ConfigError(
                f'table name "{spec.name}" is reserved (torchrec keeps tables in a '
                "ModuleDict)",
                "feature_configs",
                "choose another embedding_name / feature_name",
            )
        dim = wide_dim or spec.embedding_dim
        if dim % 4:
            what = "wide_embedding_dim" if wide_dim else "embedding_dim"
            raise ConfigError(
                f"{what} {dim} of table {spec.name} is not a multiple of 4",
                "feature_configs" if not wide_dim else "model_config",
                f"fbgemm's fused embedding kernels need {what} divisible by 4",
            )


def freeze(param: nn.Parameter) -> None:
    """Freezes a table: its own in-backward optimizer, SGD with lr 0.

    The configured sparse optimizer skips parameters that already carry an
    in-backward optimizer, and torchrec fuses one optimizer per table, so the
    table is never updated (its gradient is computed and discarded).
    """
    apply_optimizer_in_backward(torch.optim.SGD, [param], {"lr": 0.0})
