"""Config checks across a model's task towers (torch-free; run with the tasks)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Protocol

from tzrec.utils.errors import ConfigError


class _ParetoTask(Protocol):
    """What the Pareto check reads of a ``tzrec.models.tasks.Task``."""

    @property
    def where(self) -> str: ...  # noqa: D102

    @property
    def pareto_min_weight(self) -> float: ...  # noqa: D102

    @property
    def losses(self) -> Sequence[Any]: ...  # noqa: D102


def pareto_problems(tasks: Sequence[_ParetoTask]) -> list[ConfigError]:
    """``pareto_min_loss_weight``: each >= 0, their sum over losses < 1."""
    problems = [
        ConfigError(
            f"pareto_min_loss_weight {t.pareto_min_weight} is negative",
            f"{t.where}.pareto_min_loss_weight",
            "use a value in [0, 1)",
        )
        for t in tasks
        if t.pareto_min_weight < 0
    ]
    total = sum(t.pareto_min_weight * len(t.losses) for t in tasks)
    if not problems and total >= 1.0:
        problems.append(
            ConfigError(
                f"the pareto_min_loss_weight of all losses sum to {total:g}, not < 1",
                "model_config.use_pareto_loss_weight",
                "lower the towers' pareto_min_loss_weight (each counts once per "
                "loss of its tower)",
            )
        )
    return problems


def intervention_problems(towers: Any, where: str) -> list[ConfigError]:
    """DC2VR: a tower is intervened on by earlier towers, given low_rank_dim."""
    problems, earlier = [], set()
    for i, t in enumerate(towers):
        at = f"{where}.task_towers[{i}]"
        for name in t.intervention_tower_names:
            if name not in earlier:
                problems.append(
                    ConfigError(
                        f'intervention tower "{name}" is not an earlier task tower',
                        f"{at}.intervention_tower_names",
                        "name towers listed before this one",
                    )
                )
        names, rank = len(t.intervention_tower_names), t.HasField("low_rank_dim")
        if names and not rank:
            problems.append(
                ConfigError(
                    "intervention_tower_names without low_rank_dim",
                    f"{at}.low_rank_dim",
                    "set low_rank_dim (the shared space's width), or drop the names",
                )
            )
        if rank and not names:
            problems.append(
                ConfigError(
                    "low_rank_dim without intervention_tower_names",
                    f"{at}.intervention_tower_names",
                    "name the earlier towers that intervene on this one",
                )
            )
        earlier.add(t.tower_name)
    return problems
