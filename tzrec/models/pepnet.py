"""PEPNet (Parameter and Embedding Personalized Network, Chang et al., 2023).

Groups: ``main_group_name`` (default "all") is the main input;
``domain_group_name``, when set, feeds EPNet's gate over the main embedding;
``uia_group_name``, when set, feeds PPNet's per-task gated MLPs (see
tzrec.modules.pepnet). Each task's tower (``task_towers``: optional ``mlp``,
output layer) reads its PPNet output, or the (EPNet-scaled) main embedding.
"""

import torch
from torch import Tensor, nn

from tzrec.models.model import RankModel
from tzrec.modules.pepnet import EPNet, PPNet
from tzrec.modules.task_tower import TaskTowers
from tzrec.utils.errors import ConfigError

_WHERE = "model_config.pepnet"


class _NoEPNet(nn.Module):
    def forward(self, main: Tensor, domain: Tensor) -> Tensor:
        return main


class _NoPPNet(nn.Module):
    def forward(self, main: Tensor, uia: Tensor) -> list[Tensor]:
        return [main]


class PEPNetHead(nn.Module):
    """PEPNet after the embedding lookup (TorchScript-compatible)."""

    main: str
    domain: str
    uia: str
    num_task: int
    has_epnet: bool
    has_ppnet: bool

    def __init__(
        self,
        groups: tuple[str, str, str],
        epnet: EPNet | None,
        ppnet: PPNet | None,
        towers: TaskTowers,
    ) -> None:
        super().__init__()
        self.main, self.domain, self.uia = groups
        self.epnet = epnet if epnet is not None else _NoEPNet()
        self.ppnet = ppnet if ppnet is not None else _NoPPNet()
        self.has_epnet = epnet is not None
        self.has_ppnet = ppnet is not None
        self.towers = towers
        self.num_task = len(towers.names)

    def forward(self, groups: dict[str, list[Tensor]]) -> dict[str, Tensor]:
        """Raw outputs ``[B, num_class]`` by task name."""
        x = torch.cat(groups[self.main], dim=1)
        if self.has_epnet:
            x = self.epnet(x, torch.cat(groups[self.domain], dim=1))
        if self.has_ppnet:
            inputs = self.ppnet(x, torch.cat(groups[self.uia], dim=1))
        else:
            inputs = [x for _ in range(self.num_task)]
        return self.towers(inputs)


class PEPNet(RankModel):
    """Multi-task PEPNet on torchrec embeddings."""

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        cfg = self.model_config.pepnet
        if cfg.HasField("domain_input_name"):
            raise ConfigError(
                "domain_input_name (per-domain task towers) is not supported yet",
                f"{_WHERE}.domain_input_name",
                "remove it (and task_domain_num)",
            )
        main = cfg.main_group_name
        self.require_group(main)
        width = self.group_dim(main)
        epnet = ppnet = None
        if cfg.HasField("domain_group_name"):
            self.require_group(cfg.domain_group_name)
            hidden = cfg.epnet_hidden_unit or width
            epnet = EPNet(
                width, self.group_dim(cfg.domain_group_name), hidden, cfg.epnet_gamma
            )
        if cfg.HasField("uia_group_name"):
            self.require_group(cfg.uia_group_name)
            ppnet = PPNet(
                width,
                self.group_dim(cfg.uia_group_name),
                len(self.tasks),
                list(cfg.ppnet_hidden_units),
                cfg.ppnet_activation,
                list(cfg.ppnet_dropout_ratio),
                cfg.ppnet_gamma,
                _WHERE,
            )
            width = ppnet.output_dim
        towers = TaskTowers(
            width,
            [t.name for t in self.tasks],
            [t.mlp if t.HasField("mlp") else None for t in cfg.task_towers],
            [t.num_class for t in self.tasks],
            [t.where for t in self.tasks],
        )
        groups = (main, cfg.domain_group_name, cfg.uia_group_name)
        self.head = PEPNetHead(groups, epnet, ppnet, towers)
