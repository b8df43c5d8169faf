"""Per-task towers of multi-task models, and DBMTL's Bayesian task relations."""

import torch
from torch import Tensor, nn

from tzrec.modules.mlp import MLP


class TaskTowers(nn.Module):
    """Per task: optional MLP, then ``Linear(num_class)``; keyed by task name.

    Args:
        in_features: width of each task's input.
        names: task names, in order.
        mlps: per task an ``MLP`` proto or None.
        num_classes: per task its output width.
        where: per task its config path.
    """

    names: list[str]

    def __init__(
        self,
        in_features: int,
        names: list[str],
        mlps: list,
        num_classes: list[int],
        where: list[str],
    ) -> None:
        super().__init__()
        self.names = list(names)
        towers = []
        for cfg, n, at in zip(mlps, num_classes, where):
            body = MLP(in_features, cfg, f"{at}.mlp") if cfg is not None else None
            width = body.output_dim if body is not None else in_features
            towers.append(nn.Sequential(body if body is not None else nn.Identity()))
            towers[-1].add_module("output", nn.Linear(width, n))
        self.towers = nn.ModuleList(towers)

    def forward(self, inputs: list[Tensor]) -> dict[str, Tensor]:
        """``inputs[i]`` is task i's input; returns raw outputs by task name."""
        out: dict[str, Tensor] = {}
        for i, tower in enumerate(self.towers):
            out[self.names[i]] = tower(inputs[i])
        return out


class BayesTaskRelation(nn.Module):
    """DBMTL's relation layer: a task sees its own and earlier tasks' features.

    Task ``i``'s relation input is its tower features concatenated with the
    relation outputs of the towers it names (which come earlier), passed
    through its ``relation_mlp``; tasks without one pass through unchanged.

    Args:
        task_dims: width of each task's tower features.
        relations: per task the indices of the tasks it reads.
        mlps: per task a ``relation_mlp`` proto or None.
        where: per task its config path.
    """

    relations: list[list[int]]
    output_dims: list[int]

    def __init__(
        self,
        task_dims: list[int],
        relations: list[list[int]],
        mlps: list,
        where: list[str],
    ) -> None:
        super().__init__()
        self.relations = [list(r) for r in relations]
        layers: list[nn.Module] = []
        self.output_dims = []
        for i, cfg in enumerate(mlps):
            if cfg is None:
                layers.append(nn.Identity())
                self.output_dims.append(task_dims[i])
                continue
            width = task_dims[i] + sum(self.output_dims[j] for j in relations[i])
            mlp = MLP(width, cfg, f"{where[i]}.relation_mlp")
            layers.append(mlp)
            self.output_dims.append(mlp.output_dim)
        self.layers = nn.ModuleList(layers)

    def forward(self, task_nets: list[Tensor]) -> list[Tensor]:
        """Relation features per task, in task order."""
        out: list[Tensor] = []
        for i, layer in enumerate(self.layers):
            parts = [task_nets[i]] + [out[j] for j in self.relations[i]]
            out.append(layer(torch.cat(parts, dim=1)))
        return out
