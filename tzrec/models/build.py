"""Model registry: ``model_config``'s oneof -> model class (imported on use)."""

from __future__ import annotations

import importlib
import importlib.util

import torch

from tzrec.features.feature import BaseFeature
from tzrec.models.model import AUTOCAST_DTYPES, RankModel
from tzrec.protos import pipeline_pb2
from tzrec.utils.errors import ConfigError

# oneof name -> "module:Class"; a module that does not exist yet means the
# model is not supported yet.
MODELS: dict[str, str] = {
    "deepfm": "tzrec.models.deepfm:DeepFM",
    "wide_and_deep": "tzrec.models.wide_and_deep:WideAndDeep",
    "dlrm": "tzrec.models.dlrm:DLRM",
    "multi_tower": "tzrec.models.multi_tower:MultiTower",
    "multi_tower_din": "tzrec.models.multi_tower_din:MultiTowerDIN",
    "dcn_v1": "tzrec.models.dcn_v1:DCNV1",
    "dcn_v2": "tzrec.models.dcn_v2:DCNV2",
    "xdeepfm": "tzrec.models.xdeepfm:XDeepFM",
    "mask_net": "tzrec.models.mask_net:MaskNet",
    "simple_multi_task": "tzrec.models.simple_multi_task:SimpleMultiTask",
    "mmoe": "tzrec.models.mmoe:MMoE",
    "dbmtl": "tzrec.models.dbmtl:DBMTL",
    "ple": "tzrec.models.ple:PLE",
    "dc2vr": "tzrec.models.dc2vr:DC2VR",
    "pepnet": "tzrec.models.pepnet:PEPNet",
    "rocket_launching": "tzrec.models.rocket_launching:RocketLaunching",
    "wukong": "tzrec.models.wukong:WuKong",
}


def model_class(kind: str | None) -> type[RankModel]:
    """The class of a ``model_config`` oneof name.

    Raises:
        ConfigError: unknown or not yet implemented model.
    """
    path = MODELS.get(kind or "")
    cls = None
    if path is not None:
        module, name = path.split(":")
        try:
            cls = getattr(importlib.import_module(module), name)
        except ModuleNotFoundError as e:
            if e.name != module:
                raise
    if cls is None:
        raise ConfigError(
            f"model {kind} is not supported yet",
            "model_config",
            f"use one of {', '.join(supported_models())}",
        )
    return cls


def supported_models() -> list[str]:
    """Model names whose implementation is present."""
    return [k for k, p in MODELS.items() if importlib.util.find_spec(p.split(":")[0])]


def build_model(
    config: pipeline_pb2.EasyRecConfig,
    features: list[BaseFeature],
    device: torch.device | None = None,
) -> RankModel:
    """Builds the configured model (embedding tables on ``device``).

    ``train_config.mixed_precision`` (BF16) makes the model's forward run
    under autocast; predictions and losses stay float32.
    """
    cls = model_class(config.model_config.WhichOneof("model"))
    model = cls(
        config.model_config,
        features,
        list(config.data_config.label_fields),
        list(config.data_config.sample_weight_fields),
        device,
    )
    precision = config.train_config.mixed_precision
    if precision:  # validation accepts only the AUTOCAST_DTYPES keys
        model.autocast_dtype = AUTOCAST_DTYPES[precision]
    return model
