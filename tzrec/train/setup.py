"""Builds what a run needs from the config: features, model, optimizer, data."""

from __future__ import annotations

import dataclasses
import random

import numpy as np
import torch
from torch import nn
from torchrec.distributed import DistributedModelParallel
from torchrec.optim.keyed import CombinedOptimizer

from tzrec.datasets.batch import BatchBuilder
from tzrec.datasets.dataset import TzrecDataset, create_dataloader
from tzrec.features.build import build_features
from tzrec.features.feature import BaseFeature
from tzrec.models.build import build_model
from tzrec.models.model import RankModel
from tzrec.optim.build import apply_sparse_optimizer, build_optimizer
from tzrec.protos import pipeline_pb2
from tzrec.train.embedding_constraints import table_constraints
from tzrec.train.sharding import create_plan, table_names
from tzrec.train.table_memory import check_table_memory
from tzrec.utils.dist import DistInfo
from tzrec.utils.quiet import quiet_third_party


@dataclasses.dataclass
class ModelParts:
    """The model as built and as wrapped for (sharded) training."""

    features: list[BaseFeature]
    model: RankModel
    dmp: nn.Module
    optimizer: CombinedOptimizer | None
    plan: object = None


def seed_everything(seed: int) -> None:
    """Seeds Python, numpy and torch."""
    random.seed(seed)
    np.random.seed(seed % (2**32))
    torch.manual_seed(seed)


def build_model_parts(
    config: pipeline_pb2.EasyRecConfig, dist_info: DistInfo, with_optimizer: bool = True
) -> ModelParts:
    """Features, the model, its DistributedModelParallel wrapper and optimizer."""
    seed_everything(config.train_config.seed)
    features = build_features(config.feature_configs)
    model = build_model(config, features, device=torch.device("meta"))
    sparse_kind = None
    if with_optimizer:
        apply_sparse_optimizer(model, config.train_config.sparse_optimizer)
        sparse_kind = config.train_config.sparse_optimizer.WhichOneof("optimizer")
    check_table_memory(model, sparse_kind, dist_info)  # before any allocation
    with quiet_third_party():
        tables = table_constraints(features, config.train_config, table_names(model))
        plan = create_plan(model, dist_info, tables)
        dmp = DistributedModelParallel(model, device=dist_info.device, plan=plan)
    optimizer = build_optimizer(dmp, config.train_config) if with_optimizer else None
    return ModelParts(features, model, dmp, optimizer, plan)


def build_dataset(
    config: pipeline_pb2.EasyRecConfig,
    parts: ModelParts,
    input_path: str,
    dist_info: DistInfo,
    for_eval: bool,
    extra_fields: list[str] | None = None,
) -> TzrecDataset:
    """The rank's dataset over ``input_path``."""
    dc = config.data_config
    builder = BatchBuilder(
        parts.features,
        list(dc.label_fields),
        list(dc.sample_weight_fields),
        extra_fields,
        sparse_groups=parts.model.embedding_group.sparse_groups,
        sequence_groups=parts.model.embedding_group.aligned_sequences,
        mask_prob=0.0 if for_eval else dc.sample_mask_prob,
        seed=config.train_config.seed + dist_info.rank,
    )
    batch_size = (dc.eval_batch_size or dc.batch_size) if for_eval else dc.batch_size
    return TzrecDataset(
        input_path,
        dc,
        builder,
        batch_size,
        dist_info.rank,
        dist_info.world_size,
        dc.num_workers,
        shuffle=dc.shuffle and not for_eval,
        shuffle_buffer_size=dc.shuffle_buffer_size,
        seed=config.train_config.seed,
    )


def loader_for(dataset: TzrecDataset, config: pipeline_pb2.EasyRecConfig):
    """A DataLoader with the configured pinning."""
    return create_dataloader(dataset, pin_memory=config.data_config.pin_memory)
