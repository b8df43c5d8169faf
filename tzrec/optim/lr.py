"""Learning-rate schedules as pure functions of the global step.

The learning rate of step ``s`` (0-based: ``s`` steps completed) is
``schedule(s)``. Being a function of the step, a schedule needs no state of
its own: a resumed run sets the step and continues the curve exactly.
Formulas follow TorchEasyRec's ``lr_scheduler.py``; a base learning rate of 0
stays 0. ``by_epoch`` schedules are not supported yet. Torch-free, so config
validation reports schedule errors too.
"""

from __future__ import annotations

import bisect
import math
from collections.abc import Callable
from typing import Any

from tzrec.utils.errors import ConfigError

Schedule = Callable[[int], float]


def _warmup(step: int, size: int, start: float, base: float) -> float | None:
    """Linear warmup from ``start`` to ``base`` over ``size`` steps, else None."""
    if step < size:
        return start + (base - start) * step / size
    return None


def exponential_decay(base: float, cfg: Any) -> Schedule:
    """``base * decay_factor ** ((s - warmup) / decay_size)``, floored at the min."""

    def lr(step: int) -> float:
        warm = _warmup(step, cfg.warmup_size, cfg.warmup_learning_rate, base)
        if warm is not None:
            return warm
        p = (step - cfg.warmup_size) / cfg.decay_size
        if cfg.staircase:
            p = math.floor(p)
        return max(base * cfg.decay_factor**p, cfg.min_learning_rate)

    return lr


def manual_step(base: float, cfg: Any) -> Schedule:
    """``learning_rates[i-1]`` after ``schedule_sizes[i-1]`` steps; ``base`` before.

    With ``warmup`` the first interval ramps linearly from ``base`` to
    ``learning_rates[0]``.
    """
    sizes, rates = list(cfg.schedule_sizes), list(cfg.learning_rates)

    def lr(step: int) -> float:
        idx = bisect.bisect_left(sizes, step)
        if idx > 0:
            return rates[idx - 1]
        if cfg.warmup:
            return base + (rates[0] - base) * step / sizes[0]
        return base

    return lr


def cosine_annealing(base: float, cfg: Any) -> Schedule:
    """Linear warmup, then a half cosine from ``base`` to ``min_learning_rate``.

    The cosine spans T_max steps (or epochs) after the warmup.
    """

    def lr(step: int) -> float:
        warm = _warmup(step, cfg.warmup_size, cfg.warmup_learning_rate, base)
        if warm is not None:
            return warm
        t = min(step - cfg.warmup_size, cfg.T_max)
        floor = cfg.min_learning_rate
        return floor + (base - floor) * 0.5 * (1 + math.cos(math.pi * t / cfg.T_max))

    return lr


def cosine_warm_restarts(base: float, cfg: Any) -> Schedule:
    """Linear warmup, then cosines to ``min_learning_rate`` that restart.

    Cycles last T_0, T_0*T_mult, ... steps, counted from the end of the warmup.
    """

    def lr(step: int) -> float:
        warm = _warmup(step, cfg.warmup_size, cfg.warmup_learning_rate, base)
        if warm is not None:
            return warm
        step -= cfg.warmup_size
        t0, mult = cfg.T_0, cfg.T_mult
        if mult == 1:
            t_i, t_cur = t0, step % t0
        else:
            n = int(math.log(step / t0 * (mult - 1) + 1, mult))
            start = t0 * (mult**n - 1) // (mult - 1)
            if step < start:  # float rounding of the log, one cycle back
                n -= 1
                start = t0 * (mult**n - 1) // (mult - 1)
            t_i, t_cur = t0 * mult**n, step - start
            if t_cur >= t_i:
                t_cur, t_i = t_cur - t_i, t_i * mult
        floor = cfg.min_learning_rate
        return floor + (base - floor) * 0.5 * (1 + math.cos(math.pi * t_cur / t_i))

    return lr


_BUILDERS = {
    "exponential_decay_learning_rate": exponential_decay,
    "manual_step_learning_rate": manual_step,
    "cosine_annealing_learning_rate": cosine_annealing,
    "cosine_annealing_warm_restarts_learning_rate": cosine_warm_restarts,
}


def build_schedule(
    opt_config: Any,
    where: str,
    base: float | None = None,
    inherit_from: Any = None,
) -> Schedule | None:
    """The schedule of an optimizer config; None for a constant rate.

    Args:
        opt_config: a Sparse-, Dense- or PartOptimizer config.
        where: its field path, for errors.
        base: the base learning rate; None: the lr of ``opt_config``'s
            optimizer.
        inherit_from: the config whose schedule applies when ``opt_config``
            sets none (a part optimizer inherits the dense optimizer's
            schedule kind and settings, with its own base rate).

    Raises:
        ConfigError: listing every invalid schedule setting.
    """
    kind = opt_config.WhichOneof("learning_rate")
    if kind is None and inherit_from is not None:
        return build_schedule(
            inherit_from,
            where,
            base if base is not None else _base_lr(opt_config),
        )
    if kind in (None, "constant_learning_rate"):
        return None
    cfg = getattr(opt_config, kind)
    at = f"{where}.{kind}"
    problems = schedule_problems(kind, cfg, at)
    if len(problems) == 1:
        raise problems[0]
    if problems:
        raise ConfigError("invalid learning-rate schedule", problems=problems)
    if base is None:
        base = _base_lr(opt_config)
    fn = _BUILDERS[kind](base, cfg)
    return (lambda step: 0.0) if base == 0 else fn


def _base_lr(opt_config: Any) -> float:
    return float(getattr(opt_config, opt_config.WhichOneof("optimizer")).lr)


def schedule_problems(kind: str, cfg: Any, at: str) -> list[ConfigError]:
    """What is wrong with one schedule config (empty when valid)."""
    p: list[ConfigError] = []
    if getattr(cfg, "by_epoch", False):
        p.append(
            ConfigError(
                "by_epoch schedules are not supported yet",
                f"{at}.by_epoch",
                "schedule by step (steps per epoch = rows / batch_size / workers)",
            )
        )
    if kind == "exponential_decay_learning_rate" and cfg.decay_size == 0:
        p.append(ConfigError("decay_size must be > 0", f"{at}.decay_size"))
    if kind == "cosine_annealing_learning_rate" and cfg.T_max == 0:
        p.append(ConfigError("T_max must be > 0", f"{at}.T_max"))
    if kind == "cosine_annealing_warm_restarts_learning_rate":
        if cfg.T_0 == 0:
            p.append(ConfigError("T_0 must be > 0", f"{at}.T_0"))
        if cfg.T_mult == 0:
            p.append(ConfigError("T_mult must be >= 1", f"{at}.T_mult"))
    if kind == "manual_step_learning_rate":
        sizes = list(cfg.schedule_sizes)
        if not sizes or len(sizes) != len(cfg.learning_rates):
            p.append(
                ConfigError(
                    "schedule_sizes and learning_rates need one value each per "
                    "interval",
                    at,
                    "e.g. schedule_sizes: [1000, 2000] learning_rates: [0.01, 0.001]",
                )
            )
        elif sizes != sorted(sizes) or sizes[0] == 0:
            p.append(
                ConfigError(
                    "schedule_sizes must be increasing and > 0",
                    f"{at}.schedule_sizes",
                )
            )
    return p
