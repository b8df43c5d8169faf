"""The model ``python -m tzrec.predict`` scores with, and the features it reads.

Loaded from an export directory (the TorchScript model) or from a pipeline
config and checkpoint (the eager model); either way a :class:`Predictor`, with
the model's files verified against their checksums first.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from typing import Any

from tzrec.run_dir import names
from tzrec.utils.errors import ConfigError


class Predictor:
    """A model that scores Batches, with the features that encode its input.

    Attributes:
        config: the pipeline config (features, data options).
        features: the configured features.
        sparse_groups: KJT group -> feature keys, as the model reads them.
        run: Batch -> {"logits", "probs"} tensors.
        outputs: the output names the model returns.
        source: what was loaded, for the log.
    """

    def __init__(
        self,
        config: Any,
        features: list,
        sparse_groups: dict[str, list[str]],
        run: Callable[[Any], dict[str, Any]],
        outputs: list[str],
        source: str,
    ) -> None:
        self.config = config
        self.features = features
        self.sparse_groups = sparse_groups
        self.run = run
        self.outputs = outputs
        self.source = source


def load_scripted(
    export_dir: str, device: Any, edit_config_json: str | None = None
) -> Predictor:
    """The exported TorchScript model and its config's features."""
    from tzrec import config as config_lib
    from tzrec.checkpoint.files import validate_checkpoint
    from tzrec.export.exporter import META_FILE, SCRIPTED_FILE
    from tzrec.export.inference_model import scripted_inputs
    from tzrec.features.build import build_features

    model_file = os.path.join(export_dir, SCRIPTED_FILE)
    meta_file = os.path.join(export_dir, META_FILE)
    for path in (model_file, meta_file, os.path.join(export_dir, names.MARKER)):
        if not os.path.isfile(path):
            raise ConfigError(
                "not an export directory (file missing)",
                path,
                "pass a directory written by python -m tzrec.export",
            )
    validate_checkpoint(export_dir)
    with open(meta_file, encoding="utf-8") as f:
        meta = json.load(f)
    config = config_lib.load_pipeline_config(
        os.path.join(export_dir, names.PIPELINE_CONFIG), edit_config_json
    )
    model = _jit_load(model_file, device)

    def run(batch: Any) -> dict[str, Any]:
        return model(*scripted_inputs(batch))

    inputs = meta["inputs"]
    groups = {g: list(k) for g, k in inputs["sparse"].items()}
    used = {k for keys in groups.values() for k in keys}
    used |= {d["name"] for d in inputs["dense"]}
    features = _used(build_features(config.feature_configs), used)
    return Predictor(config, features, groups, run, inputs["outputs"], model_file)


def _used(features: list, names: set[str]) -> list:
    """The features the model reads: input columns of others are not needed."""
    return [f for f in features if f.name in names]


def _jit_load(path: str, device: Any) -> Any:
    import warnings

    import torch

    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", ".*torch.jit.*deprecated", DeprecationWarning)
        model = torch.jit.load(path, map_location=device)
    return model.eval()


def load_checkpoint_model(
    config_path: str,
    checkpoint_path: str | None,
    device: Any,
    edit_config_json: str | None = None,
) -> Predictor:
    """The eager model of a pipeline config, loaded from a checkpoint."""
    from tzrec import config as config_lib
    from tzrec.checkpoint.manager import resolve_checkpoint_path
    from tzrec.export.eager import load_eager_model

    config = config_lib.load_pipeline_config(config_path, edit_config_json)
    config_lib.validate(config)
    _, ckpt = resolve_checkpoint_path(checkpoint_path or config.model_dir)
    features, model, _ = load_eager_model(config, ckpt, device)
    groups = model.embedding_group.sparse_groups
    used = {m for members in model.embedding_group.groups.values() for m in members}
    features = _used(features, used)
    outputs = model.output_names()
    return Predictor(config, features, groups, model.predict, outputs, ckpt)
