"""What each configured loss is: its name, which prediction it reads, its knobs.

Torch-free so config validation can build every task's losses without
importing torch. Names follow TorchEasyRec: the oneof field name plus the
task suffix (``binary_cross_entropy``, ``binary_cross_entropy_ctr``).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable
from typing import Any

from tzrec.utils.errors import ConfigError

BINARY_CROSS_ENTROPY = "binary_cross_entropy"
SOFTMAX_CROSS_ENTROPY = "softmax_cross_entropy"
L2_LOSS = "l2_loss"
BINARY_FOCAL_LOSS = "binary_focal_loss"
JRC_LOSS = "jrc_loss"
SUPPORTED = (
    BINARY_CROSS_ENTROPY,
    SOFTMAX_CROSS_ENTROPY,
    L2_LOSS,
    BINARY_FOCAL_LOSS,
    JRC_LOSS,
)
# Losses on num_class logits (class ids as labels).
SOFTMAX_KINDS = (SOFTMAX_CROSS_ENTROPY, JRC_LOSS)
# Losses on a single sigmoid logit (num_class 1).
BINARY_KINDS = (BINARY_CROSS_ENTROPY, BINARY_FOCAL_LOSS)


@dataclasses.dataclass(frozen=True)
class LossSpec:
    """One configured loss of one task.

    Attributes:
        name: loss name and TensorBoard/eval-log key stem, e.g.
            ``binary_cross_entropy_ctr``.
        kind: the ``LossConfig`` oneof name.
        pred_key: the prediction it reads (``logits<sfx>`` or ``y<sfx>``).
        label_smoothing: for the cross entropies.
        gamma: focal loss focusing power.
        alpha: focal loss weight of positives (negatives get ``1 - alpha``);
            jrc_loss: weight of its cross entropy (the session part gets
            ``1 - alpha``).
        session_name: jrc_loss: the sparse feature whose id is the session.
    """

    name: str
    kind: str
    pred_key: str
    label_smoothing: float = 0.0
    gamma: float = 2.0
    alpha: float = 0.5
    session_name: str = ""


def build_loss_specs(
    configs: Iterable[Any], num_class: int, suffix: str, where: str
) -> tuple[list[LossSpec], list[ConfigError]]:
    """LossSpecs of one task's ``losses`` plus the problems found.

    Args:
        configs: the repeated ``LossConfig`` field.
        num_class: the task's ``num_class``.
        suffix: ``""`` or ``_<tower_name>``.
        where: config path of ``configs``.

    Returns:
        The valid specs and one ConfigError per problem.
    """
    specs: list[LossSpec] = []
    problems: list[ConfigError] = []
    for i, cfg in enumerate(configs):
        at = f"{where}[{i}]"
        kind = cfg.WhichOneof("loss")
        if kind is None:
            problems.append(ConfigError("loss type not set", at, _use()))
            continue
        if kind not in SUPPORTED:
            problems.append(
                ConfigError(f"loss {kind} is not supported yet", at, _use())
            )
            continue
        problem = _check(kind, getattr(cfg, kind), num_class, f"{at}.{kind}")
        if problem is not None:
            problems.append(problem)
            continue
        if any(s.kind == kind for s in specs):
            problems.append(ConfigError(f"loss {kind} is configured twice", at))
            continue
        specs.append(_spec(kind, getattr(cfg, kind), suffix))
    return specs, problems


def _spec(kind: str, cfg: Any, suffix: str) -> LossSpec:
    key = ("y" if kind == L2_LOSS else "logits") + suffix
    if kind == BINARY_FOCAL_LOSS:
        return LossSpec(kind + suffix, kind, key, gamma=cfg.gamma, alpha=cfg.alpha)
    if kind == JRC_LOSS:
        return LossSpec(
            kind + suffix, kind, key, alpha=cfg.alpha, session_name=cfg.session_name
        )
    smoothing = getattr(cfg, "label_smoothing", 0.0)
    return LossSpec(kind + suffix, kind, key, label_smoothing=smoothing)


def _check(kind: str, cfg: Any, num_class: int, at: str) -> ConfigError | None:
    if kind == JRC_LOSS:
        if num_class != 2:
            return ConfigError(
                f"jrc_loss needs num_class 2, got {num_class}",
                at,
                "set the task's num_class: 2 (labels 0/1)",
            )
        if not cfg.session_name:
            return ConfigError(
                "jrc_loss needs session_name",
                f"{at}.session_name",
                'name the sparse feature that identifies a session, e.g. "user_id"',
            )
        if not 0.0 <= cfg.alpha <= 1.0:
            return ConfigError("alpha must be in [0, 1]", f"{at}.alpha")
        return None
    if kind == SOFTMAX_CROSS_ENTROPY and num_class < 2:
        return ConfigError(
            "softmax_cross_entropy needs num_class >= 2",
            at,
            "set num_class to the number of classes (labels 0..num_class-1), or "
            "use binary_cross_entropy for a 0/1 label",
        )
    if kind != SOFTMAX_CROSS_ENTROPY and num_class != 1:
        return ConfigError(
            f"{kind} needs num_class 1, got {num_class}",
            at,
            "use softmax_cross_entropy for several classes",
        )
    smoothing = getattr(cfg, "label_smoothing", 0.0)
    if not 0.0 <= smoothing < 1.0:
        return ConfigError("label_smoothing must be in [0, 1)", f"{at}.label_smoothing")
    if kind == BINARY_FOCAL_LOSS:
        if cfg.gamma < 0:
            return ConfigError("gamma must be >= 0", f"{at}.gamma")
        if not 0.0 < cfg.alpha < 1.0:
            return ConfigError("alpha must be in (0, 1)", f"{at}.alpha")
    return None


def _use() -> str:
    return f"use one of {', '.join(SUPPORTED)}"
