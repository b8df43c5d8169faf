"""Field names TorchEasyRec's own examples use that its schema spells otherwise.

At some commits TorchEasyRec's examples use shapes its schema (as tzrec has
it) spells otherwise: ``examples/dlrm_criteo.config`` has EasyRec's DLRM names
``bot_mlp`` / ``top_mlp`` for ``dense_mlp`` / ``final``, and
``examples/masknet_criteo.config`` sets ``n_mask_blocks``, ``mask_block``,
``top_mlp`` and ``use_parallel`` on ``mask_net`` itself rather than in its
``mask_net_module``. tzrec accepts both and moves the first spelling to the
second right after parsing, so everything downstream (validation, the model,
the saved ``pipeline.config``) sees one.
"""

from __future__ import annotations

from typing import Any

from tzrec.protos import pipeline_pb2
from tzrec.utils.errors import ConfigError

# (alias, TorchEasyRec's field)
_DLRM_ALIASES = (("bot_mlp", "dense_mlp"), ("top_mlp", "final"))
_MASKNET_MODULE_FIELDS = ("n_mask_blocks", "mask_block", "top_mlp", "use_parallel")


def resolve_aliases(config: pipeline_pb2.EasyRecConfig) -> None:
    """Moves EasyRec-era alias fields to TorchEasyRec's names, in place.

    Raises:
        ConfigError: both an alias and its TorchEasyRec field are set.
    """
    mc = config.model_config
    if mc.WhichOneof("model") == "mask_net":
        _masknet_module(mc.mask_net)
    if mc.WhichOneof("model") != "dlrm":
        return
    dlrm = mc.dlrm
    for alias, field in _DLRM_ALIASES:
        if not dlrm.HasField(alias):
            continue
        if dlrm.HasField(field):
            raise ConfigError(
                f"both {alias} and {field} are set ({alias} is EasyRec's name for "
                f"{field})",
                f"model_config.dlrm.{alias}",
                f"keep only {field}",
            )
        getattr(dlrm, field).CopyFrom(getattr(dlrm, alias))
        dlrm.ClearField(alias)


def _masknet_module(masknet: Any) -> None:
    """``mask_net { n_mask_blocks ... }`` -> ``mask_net { mask_net_module {...} }``."""
    flat = [f for f in _MASKNET_MODULE_FIELDS if masknet.HasField(f)]
    if not flat:
        return
    if masknet.HasField("mask_net_module"):
        raise ConfigError(
            f"both mask_net.{flat[0]} and mask_net.mask_net_module are set",
            f"model_config.mask_net.{flat[0]}",
            "set the fields inside mask_net_module only",
        )
    module = masknet.mask_net_module
    for name in flat:
        value = getattr(masknet, name)
        if name in ("mask_block", "top_mlp"):
            getattr(module, name).CopyFrom(value)
        else:
            setattr(module, name, value)
        masknet.ClearField(name)
