"""Model registry: ``model_config``'s oneof -> model class."""

from __future__ import annotations

import torch

from tzrec.features.feature import BaseFeature
from tzrec.models.deepfm import DeepFM
from tzrec.models.model import RankModel
from tzrec.protos import pipeline_pb2
from tzrec.utils.errors import ConfigError

_MODELS: dict[str, type[RankModel]] = {"deepfm": DeepFM}


def build_model(
    config: pipeline_pb2.EasyRecConfig,
    features: list[BaseFeature],
    device: torch.device | None = None,
) -> RankModel:
    """Builds the configured model (embedding tables on ``device``)."""
    kind = config.model_config.WhichOneof("model")
    cls = _MODELS.get(kind)
    if cls is None:
        raise ConfigError(
            f"model {kind} is not supported yet",
            "model_config",
            f"use one of {', '.join(_MODELS)}",
        )
    weights = list(config.data_config.sample_weight_fields)
    return cls(
        config.model_config,
        features,
        list(config.data_config.label_fields),
        weights[0] if weights else "",
        device,
    )
