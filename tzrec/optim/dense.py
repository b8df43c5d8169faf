"""Dense optimizers from the config, and ``part_optimizers`` parameter groups.

Each dense optimizer message maps field by field onto its ``torch.optim``
class (TorchEasyRec's semantics): ``eps``, ``amsgrad``, SGD's ``dampening``
and ``nesterov``, and ``fused``. ``fused: true`` asks torch for its fused
kernel (Adam, AdamW, SGD and Adagrad, on CPU and CUDA): one kernel per step
over each parameter instead of a chain of elementwise ops, the same math.
On CPU, where torch's default is a per-parameter Python loop, it takes about
a third of the CPU time per Adam step (``tzrec.benchmark.dense_optim_bench``).
``fused: false`` (the default) leaves the choice to torch (``foreach`` on
CUDA).

``part_optimizers`` (TorchEasyRec): each dense parameter goes to the first
part whose ``regex_pattern`` matches its whole name (``re.fullmatch``);
parameters no part matches stay with the dense optimizer. A part that
matches no parameter is left out. Names are the model's own parameter names,
as in the ``<param>/gradient_norm`` tags (``head.deep.0.weight``): without
the prefixes the distributed wrappers add (:func:`tzrec.monitor.keys.param_name`).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Any

from tzrec.monitor.keys import param_name
from tzrec.utils.errors import ConfigError

if TYPE_CHECKING:  # config validation imports this module without torch
    import torch
    from torch import nn

DENSE_KINDS = (
    "adam_optimizer",
    "adamw_optimizer",
    "sgd_optimizer",
    "adagrad_optimizer",
)

OptimizerFactory = Callable[[Iterable["nn.Parameter"]], "torch.optim.Optimizer"]


def dense_optimizer_spec(cfg: Any, where: str) -> tuple[type, dict[str, Any]]:
    """The torch optimizer class and kwargs of a Dense- or PartOptimizer config.

    Args:
        cfg: a message with the ``optimizer`` oneof (DenseOptimizer or
            PartOptimizer).
        where: its field path, for errors.

    Raises:
        ConfigError: no optimizer set, or a kind tzrec has no dense optimizer for.
    """
    kind = cfg.WhichOneof("optimizer")
    if kind not in DENSE_KINDS:
        raise ConfigError(
            f"dense optimizer {kind} is not supported yet"
            if kind
            else "no dense optimizer",
            f"{where}.{kind}" if kind else where,
            "use adam_optimizer, adamw_optimizer, sgd_optimizer or adagrad_optimizer",
        )
    import torch  # late: config validation needs no torch

    o = getattr(cfg, kind)
    # None lets torch pick its default implementation (fused=False would
    # also forbid nothing, but None keeps torch's own foreach choice).
    fused = True if o.fused else None
    if kind in ("adam_optimizer", "adamw_optimizer"):
        cls: type = torch.optim.Adam if kind == "adam_optimizer" else torch.optim.AdamW
        return cls, {
            "lr": o.lr,
            "betas": (o.beta1, o.beta2),
            "eps": o.eps,
            "weight_decay": o.weight_decay,
            "amsgrad": o.amsgrad,
            "fused": fused,
        }
    if kind == "sgd_optimizer":
        return torch.optim.SGD, {
            "lr": o.lr,
            "momentum": o.momentum,
            "dampening": o.dampening,
            "weight_decay": o.weight_decay,
            "nesterov": o.nesterov,
            "fused": fused,
        }
    return torch.optim.Adagrad, {
        "lr": o.lr,
        "weight_decay": o.weight_decay,
        "initial_accumulator_value": o.initial_accumulator_value,
        "eps": o.eps,
        "fused": fused,
    }


def dense_optimizer_factory(
    cfg: Any, where: str = "train_config.dense_optimizer"
) -> OptimizerFactory:
    """A function params -> torch optimizer for a Dense- or PartOptimizer config."""
    cls, kwargs = dense_optimizer_spec(cfg, where)
    return lambda params: cls(params, **kwargs)


def model_param_name(name: str) -> str:
    """A parameter's name in the model, without the distributed wrappers' prefixes."""
    return param_name(name)


def group_by_pattern(
    params: dict[str, nn.Parameter], patterns: list[str]
) -> tuple[dict[str, nn.Parameter], list[dict[str, nn.Parameter]]]:
    """Splits parameters among ``patterns``: first full match wins.

    Args:
        params: parameter name (as :func:`model_param_name` gives it, or with
            the wrappers' prefixes) -> parameter.
        patterns: one regular expression per part.

    Returns:
        The parameters no pattern matches, and one dict per pattern.
    """
    compiled = [re.compile(p) for p in patterns]
    rest: dict[str, nn.Parameter] = {}
    parts: list[dict[str, nn.Parameter]] = [{} for _ in patterns]
    for name, p in params.items():
        short = model_param_name(name)
        for i, rx in enumerate(compiled):
            if rx.fullmatch(short):
                parts[i][name] = p
                break
        else:
            rest[name] = p
    return rest, parts
