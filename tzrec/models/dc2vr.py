"""DC2VR (de-confounding conversion rate): towers that intervene on each other.

Reads one feature group: an optional ``bottom_mlp``, then (with
``expert_mlp``) an MMoE giving each task its mixture, then per task an
optional ``mlp``. A tower with ``low_rank_dim`` is moved by the mean of the
(gradient-stopped) features of its ``intervention_tower_names``, earlier
towers, in a shared low-rank space (:class:`~tzrec.modules.intervention.
Intervention`, dropout ``dropout_ratio``), before its output layer
(TorchEasyRec's DC2VR).
"""

import torch
from torch import Tensor, nn

from tzrec.models.model import RankModel
from tzrec.modules.embedding import cat_fields
from tzrec.modules.intervention import Intervention, NoIntervention
from tzrec.modules.mlp import MLP
from tzrec.modules.mmoe import MMoE as MMoEModule
from tzrec.utils.errors import ConfigError


class DC2VRHead(nn.Module):
    """DC2VR after the embedding lookup (TorchScript-compatible).

    Args:
        group: the feature group.
        bottom: ``bottom_mlp`` or Identity.
        mmoe: the MMoE, or None (every task reads the bottom output).
        task_mlps: per task its MLP or Identity.
        interventions: per task an Intervention or NoIntervention.
        sources: per task the indices of its intervening towers.
        outputs: per task its output layer.
        names: task names.
    """

    sources: list[list[int]]
    names: list[str]

    def __init__(
        self,
        group: str,
        bottom: nn.Module,
        mmoe: MMoEModule | None,
        task_mlps: list[nn.Module],
        interventions: list[nn.Module],
        sources: list[list[int]],
        outputs: list[nn.Linear],
        names: list[str],
    ) -> None:
        super().__init__()
        self.group = group
        self.bottom = bottom
        self.has_mmoe = mmoe is not None
        self.mmoe = mmoe if mmoe is not None else nn.Identity()
        self.task_mlps = nn.ModuleList(task_mlps)
        self.interventions = nn.ModuleList(interventions)
        self.sources = [list(s) for s in sources]
        self.outputs = nn.ModuleList(outputs)
        self.names = list(names)

    def forward(self, groups: dict[str, list[Tensor]]) -> dict[str, Tensor]:
        """Raw outputs ``[B, num_class]`` by task name."""
        x = self.bottom(cat_fields(groups[self.group]))
        inputs: list[Tensor] = [x] * len(self.names)
        if self.has_mmoe:
            inputs = self.mmoe(x)
        nets: list[Tensor] = []
        for i, mlp in enumerate(self.task_mlps):
            nets.append(mlp(inputs[i]))
        moved: list[Tensor] = []
        for i, intervention in enumerate(self.interventions):
            source = nets[i]
            if len(self.sources[i]) > 0:
                source = torch.stack([moved[j] for j in self.sources[i]]).mean(0)
            moved.append(intervention(nets[i], source))
        out: dict[str, Tensor] = {}
        for i, output in enumerate(self.outputs):
            out[self.names[i]] = output(moved[i])
        return out


class DC2VR(RankModel):
    """DC2VR on torchrec embeddings."""

    def __init__(self, *args, **kwargs) -> None:  # noqa: ANN002, ANN003
        super().__init__(*args, **kwargs)
        cfg, where = self.model_config.dc2vr, "model_config.dc2vr"
        group = self.only_group(where)
        self.embedding_group.fuse([group])
        width = self.group_dim(group)
        bottom: nn.Module = nn.Identity()
        if cfg.HasField("bottom_mlp"):
            bottom = MLP(width, cfg.bottom_mlp, f"{where}.bottom_mlp")
            width = bottom.output_dim
        mmoe = None
        if cfg.HasField("expert_mlp"):
            mmoe = MMoEModule(
                width,
                cfg.expert_mlp,
                cfg.num_expert,
                len(self.tasks),
                cfg.gate_mlp if cfg.HasField("gate_mlp") else None,
                where,
                [t.name for t in self.tasks],
            )
            width = mmoe.output_dim
        task_mlps: list[nn.Module] = []
        dims: list[int] = []
        for t, task in zip(cfg.task_towers, self.tasks):
            mlp = MLP(width, t.mlp, f"{task.where}.mlp") if t.HasField("mlp") else None
            task_mlps.append(mlp if mlp is not None else nn.Identity())
            dims.append(mlp.output_dim if mlp is not None else width)
        sources = _sources(cfg.task_towers)
        interventions = [
            _intervention(t, dims[i], [dims[j] for j in src], self.tasks[i].where)
            for i, (t, src) in enumerate(zip(cfg.task_towers, sources))
        ]
        outputs = [
            nn.Linear(dims[i], task.num_class) for i, task in enumerate(self.tasks)
        ]
        self.head = DC2VRHead(
            group,
            bottom,
            mmoe,
            task_mlps,
            interventions,
            sources,
            outputs,
            [t.name for t in self.tasks],
        )


def _sources(towers) -> list[list[int]]:  # noqa: ANN001
    """Per tower the indices of its ``intervention_tower_names``.

    The names were checked with the tasks (earlier towers only).
    """
    index = {t.tower_name: i for i, t in enumerate(towers)}
    return [[index[n] for n in t.intervention_tower_names] for t in towers]


def _intervention(
    tower,  # noqa: ANN001
    base_dim: int,
    source_dims: list[int],
    where: str,
) -> nn.Module:
    """The tower's Intervention (NoIntervention without sources)."""
    if not source_dims:
        return NoIntervention()
    if len(set(source_dims)) > 1:
        raise ConfigError(
            f"intervention towers have different widths {sorted(set(source_dims))}",
            f"{where}.intervention_tower_names",
            "give the named towers' mlp the same last hidden_units",
        )
    if not 0 < tower.low_rank_dim < base_dim or tower.low_rank_dim > source_dims[0]:
        raise ConfigError(
            f"low_rank_dim {tower.low_rank_dim} must be > 0, below the tower's "
            f"width {base_dim} and at most the intervening width {source_dims[0]}",
            f"{where}.low_rank_dim",
            "lower low_rank_dim or widen the towers",
        )
    return Intervention(
        base_dim, source_dims[0], tower.low_rank_dim, tower.dropout_ratio
    )
