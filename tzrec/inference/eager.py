"""The trained model, unsharded and in eval mode, loaded from a checkpoint.

A checkpoint holds the ``DistributedModelParallel`` state dict saved through
``torch.distributed.checkpoint``; DCP reassembles sharded tables into the
plain model's full tensors by key, so no process group is needed. If the
saved keys carry a wrapper prefix (``_dmp_wrapped_module.``, ``module.``),
the plain model is nested under empty modules of those names so its keys
match, and the checkpoint manager's strict check still applies.
"""

from __future__ import annotations

import os
from typing import Any

import torch
from torch import nn

from tzrec.features.build import build_features
from tzrec.features.feature import BaseFeature
from tzrec.models.build import build_model
from tzrec.models.model import RankModel
from tzrec.protos import pipeline_pb2

_WRAPPER_PREFIXES = (
    "",
    "_dmp_wrapped_module.",
    "module.",
    "_dmp_wrapped_module.module.",
)


def saved_model_keys(ckpt_path: str) -> set[str]:
    """Tensor keys of the model state saved in a checkpoint (metadata only)."""
    from tzrec.checkpoint.manager import saved_model_keys as saved_keys

    return saved_keys(ckpt_path)


def key_prefix(live: set[str], saved: set[str]) -> str:
    """The wrapper prefix that makes ``live`` keys the ``saved`` ones.

    Returns "" when no known prefix fits better (the strict load then names
    the differences).
    """
    best, best_hits = "", -1
    for prefix in _WRAPPER_PREFIXES:
        hits = sum(1 for k in live if prefix + k in saved)
        if hits > best_hits:
            best, best_hits = prefix, hits
    return best


def _nest(model: nn.Module, prefix: str) -> nn.Module:
    """``model`` under empty modules named by ``prefix``'s dotted parts."""
    for name in reversed([p for p in prefix.split(".") if p]):
        outer = nn.Module()
        outer.add_module(name, model)
        model = outer
    return model


def load_weights(model: nn.Module, ckpt_path: str) -> dict[str, Any]:
    """Loads a complete checkpoint's weights into an unsharded model, strictly.

    Args:
        model: the plain model (built with ``device=cpu``, no DMP).
        ckpt_path: a ``model.ckpt-N`` directory.

    Returns:
        The checkpoint's train state (``step``, ``epoch``, ...).

    Raises:
        CheckpointError: missing, corrupt, or not matching the model.

    """
    from tzrec.checkpoint.manager import CheckpointManager, validate_checkpoint

    validate_checkpoint(ckpt_path)
    prefix = key_prefix(set(model.state_dict()), saved_model_keys(ckpt_path))
    manager = CheckpointManager(os.path.dirname(os.path.abspath(ckpt_path)))
    saved = manager.restore(ckpt_path, _nest(model, prefix))
    return saved.get("train_state", saved)


def load_eager_model(
    config: pipeline_pb2.EasyRecConfig,
    ckpt_path: str,
    device: torch.device | None = None,
) -> tuple[list[BaseFeature], RankModel, dict[str, Any]]:
    """Builds the configured model unsharded and loads a checkpoint into it.

    Args:
        config: the run's (validated) pipeline config.
        ckpt_path: a complete ``model.ckpt-N`` directory.
        device: where to put the loaded model (CPU by default).

    Returns:
        (features, the model in eval mode, the checkpoint's train state).

    """
    features = build_features(config.feature_configs)
    model = build_model(config, features, device=torch.device("cpu"))
    state = load_weights(model, ckpt_path)
    model.eval()
    if device is not None and device.type != "cpu":
        model.to(device)
    return features, model, state
