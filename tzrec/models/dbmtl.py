"""DBMTL (Deep Bayesian Multi-Target Learning): task towers that see each other.

Reads one feature group: optional ``mask_net`` and ``bottom_mlp``, optional
MMoE experts (when ``expert_mlp`` is set), then per task an optional ``mlp``,
an optional ``relation_mlp`` over the task's features and those of the
earlier towers it names in ``relation_tower_names``, and its output layer.
"""

import torch
from torch import Tensor, nn

from tzrec.models.model import RankModel, output_layer
from tzrec.modules.masknet import MaskNetModule
from tzrec.modules.mlp import MLP
from tzrec.modules.mmoe import MMoE as MMoEModule
from tzrec.modules.task_tower import BayesTaskRelation
from tzrec.utils.errors import ConfigError


class Replicate(nn.Module):
    """``x`` -> ``[x] * n`` (the task inputs when there are no experts)."""

    def __init__(self, n: int) -> None:
        super().__init__()
        self.n = n

    def forward(self, x: Tensor) -> list[Tensor]:
        """``n`` references to ``x``."""
        return [x for _ in range(self.n)]


class DBMTLHead(nn.Module):
    """DBMTL after the embedding lookup (TorchScript-compatible)."""

    names: list[str]

    def __init__(
        self,
        group: str,
        bottom: nn.Module,
        split: nn.Module,
        task_mlps: list[nn.Module],
        relation: BayesTaskRelation,
        outputs: list[nn.Linear],
        names: list[str],
    ) -> None:
        super().__init__()
        self.group = group
        self.bottom = bottom
        self.split = split
        self.task_mlps = nn.ModuleList(task_mlps)
        self.relation = relation
        self.task_outputs = nn.ModuleList(outputs)
        self.names = list(names)

    def forward(self, groups: dict[str, list[Tensor]]) -> dict[str, Tensor]:
        """Raw outputs ``[B, num_class]`` by task name."""
        inputs = self.split(self.bottom(torch.cat(groups[self.group], dim=1)))
        nets: list[Tensor] = []
        for i, mlp in enumerate(self.task_mlps):
            nets.append(mlp(inputs[i]))
        related = self.relation(nets)
        out: dict[str, Tensor] = {}
        for i, layer in enumerate(self.task_outputs):
            out[self.names[i]] = layer(related[i])
        return out


class DBMTL(RankModel):
    """Multi-task DBMTL on torchrec embeddings."""

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        cfg, where = self.model_config.dbmtl, "model_config.dbmtl"
        group = self.only_group(where)
        bottom, width = self._bottom(cfg, where, self.group_dim(group))
        split: nn.Module = Replicate(len(self.tasks))
        if cfg.HasField("expert_mlp"):
            gate = cfg.gate_mlp if cfg.HasField("gate_mlp") else None
            split = MMoEModule(
                width,
                cfg.expert_mlp,
                cfg.num_expert,
                len(self.tasks),
                gate,
                where,
                [t.name for t in self.tasks],
            )
            width = split.output_dim
        task_mlps: list[nn.Module] = []
        dims = []
        for t, task in zip(cfg.task_towers, self.tasks):
            mlp = MLP(width, t.mlp, f"{task.where}.mlp") if t.HasField("mlp") else None
            task_mlps.append(mlp if mlp is not None else nn.Identity())
            dims.append(mlp.output_dim if mlp is not None else width)
        relation = BayesTaskRelation(
            dims,
            self._relations(cfg),
            [
                t.relation_mlp if t.HasField("relation_mlp") else None
                for t in cfg.task_towers
            ],
            [t.where for t in self.tasks],
        )
        outputs = [
            output_layer(d, task) for d, task in zip(relation.output_dims, self.tasks)
        ]
        names = [t.name for t in self.tasks]
        self.head = DBMTLHead(group, bottom, split, task_mlps, relation, outputs, names)

    @staticmethod
    def _bottom(cfg, where: str, width: int) -> tuple[nn.Module, int]:
        layers: list[nn.Module] = []
        if cfg.HasField("mask_net"):
            masknet = MaskNetModule(width, cfg.mask_net, f"{where}.mask_net")
            layers.append(masknet)
            width = masknet.output_dim
        if cfg.HasField("bottom_mlp"):
            bottom = MLP(width, cfg.bottom_mlp, f"{where}.bottom_mlp")
            layers.append(bottom)
            width = bottom.output_dim
        return nn.Sequential(*layers) if layers else nn.Identity(), width

    def _relations(self, cfg) -> list[list[int]]:
        """Per task, the indices of the earlier towers its relation reads."""
        index = {t.name: i for i, t in enumerate(self.tasks)}
        out = []
        for i, (t, task) in enumerate(zip(cfg.task_towers, self.tasks)):
            rel = []
            for j, name in enumerate(t.relation_tower_names):
                at = f"{task.where}.relation_tower_names[{j}]"
                if not t.HasField("relation_mlp"):
                    raise ConfigError(
                        "relation_tower_names without relation_mlp",
                        at,
                        "add relation_mlp",
                    )
                if index.get(name, i) >= i:
                    raise ConfigError(
                        f'relation tower "{name}" is not an earlier task tower',
                        at,
                        "name towers listed before this one in task_towers",
                    )
                rel.append(index[name])
            out.append(rel)
        return out
