"""MultiTowerDIN: MLP towers over DEEP groups plus DIN towers over SEQUENCE groups.

``towers``: one MLP per DEEP group (``input`` names the group).
``din_towers``: one DIN attention (tzrec.modules.din) per SEQUENCE group,
its query being the group's non-sequence features and its keys the group's
sequence (tzrec.modules.sequence_embedding). The towers' outputs are
concatenated and read by ``final`` (an MLP; optional here) and the output
layer.
"""

import torch
from torch import Tensor, nn

from tzrec.models.model import RankModel, output_layer
from tzrec.modules.din import DINAttention
from tzrec.modules.mlp import MLP
from tzrec.utils.errors import ConfigError

_WHERE = "model_config.multi_tower_din"


class MultiTowerDINHead(nn.Module):
    """MultiTowerDIN after the embedding lookup (TorchScript-compatible)."""

    inputs: list[str]
    din_inputs: list[str]

    def __init__(
        self,
        task: str,
        towers: dict[str, MLP],
        din_towers: dict[str, DINAttention],
        final: MLP | None,
        output: nn.Linear,
    ) -> None:
        super().__init__()
        self.task = task
        self.inputs = list(towers)
        self.towers = nn.ModuleList(towers.values())
        self.din_inputs = list(din_towers)
        self.din_towers = nn.ModuleList(din_towers.values())
        self.final = final if final is not None else nn.Identity()
        self.output = output

    def forward(self, groups: dict[str, list[Tensor]]) -> dict[str, Tensor]:
        """Raw output ``[B, num_class]`` of the task."""
        outs: list[Tensor] = []
        for i, tower in enumerate(self.towers):
            outs.append(tower(torch.cat(groups[self.inputs[i]], dim=1)))
        for i, din in enumerate(self.din_towers):
            group = groups[self.din_inputs[i]]
            outs.append(din(group[0], group[1], group[2]))
        return {self.task: self.output(self.final(torch.cat(outs, dim=1)))}


class MultiTowerDIN(RankModel):
    """Multi-tower model with DIN attention towers (TorchEasyRec's multi_tower_din)."""

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        cfg = self.model_config.multi_tower_din
        if not cfg.towers and not cfg.din_towers:
            raise ConfigError(
                "multi_tower_din has no towers", _WHERE, "add towers or din_towers"
            )
        towers: dict[str, MLP] = {}
        for i, t in enumerate(cfg.towers):
            self.require_group(t.input)
            where = f"{_WHERE}.towers[{i}].mlp"
            towers[t.input] = MLP(self.group_dim(t.input), t.mlp, where)
        dins: dict[str, DINAttention] = {}
        for i, d in enumerate(cfg.din_towers):
            self.require_group(d.input)
            where = f"{_WHERE}.din_towers[{i}]"
            query_dim, seq_dim = self.embedding_group.sequence_dims(d.input)
            if query_dim == 0:
                raise ConfigError(
                    f'SEQUENCE group "{d.input}" has no query feature',
                    where,
                    "add the candidate's features (e.g. item_id) to the group",
                )
            dins[d.input] = DINAttention(
                query_dim, seq_dim, d.attn_mlp, f"{where}.attn_mlp", d.input
            )
        width = sum(m.output_dim for m in towers.values())
        width += sum(m.output_dim for m in dins.values())
        final = None
        if cfg.HasField("final"):
            final = MLP(width, cfg.final, f"{_WHERE}.final")
            width = final.output_dim
        task = self.tasks[0]
        self.head = MultiTowerDINHead(
            task.name, towers, dins, final, output_layer(width, task)
        )
