"""Table helpers shared by the bag and the sequence embedding collections."""

from __future__ import annotations

import math

import torch
from torch import nn
from torchrec.optim.apply_optimizer_in_backward import apply_optimizer_in_backward

from tzrec.features.feature import TableSpec
from tzrec.utils.errors import ConfigError

DEFAULT_INIT_MAX_STD = 0.01
TORCHREC_INIT = "torchrec"


def default_init_std(num_embeddings: int) -> float:
    """Std of tzrec's default table init, N(0, std): torchrec's scale, capped.

    torchrec (and so TorchEasyRec) draws U(-sqrt(1/rows), sqrt(1/rows)), std
    ``sqrt(1/(3 rows))``: 0.33 for a 3-row table, far above what training
    moves an embedding by, which costs AUC (README, "Coming from
    TorchEasyRec"). Tables under ~3,300 rows get std 0.01 instead; larger
    ones keep torchrec's std.
    """
    return min(DEFAULT_INIT_MAX_STD, math.sqrt(1.0 / (3.0 * max(1, num_embeddings))))


def init_fn_of(spec: str, num_embeddings: int, where: str = "init_fn"):
    """An init function from ``nn.init.normal_,std=0.01``-style text.

    Empty: tzrec's default (:func:`default_init_std`); ``"torchrec"``:
    torchrec's own default, as in TorchEasyRec (None).
    """
    if spec.strip() == TORCHREC_INIT:
        return None
    if not spec:
        std = default_init_std(num_embeddings)
        return lambda t: nn.init.normal_(t, mean=0.0, std=std)
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
