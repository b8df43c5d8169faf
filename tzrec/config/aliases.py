"""Field names TorchEasyRec's own examples use that its schema spells otherwise.

TorchEasyRec's ``examples/dlrm_criteo.config`` has, at some commits, EasyRec's
DLRM names ``bot_mlp`` / ``top_mlp`` where TorchEasyRec's schema and model read
``dense_mlp`` / ``final``. tzrec accepts both spellings and moves the EasyRec
ones to TorchEasyRec's fields right after parsing, so everything downstream
(validation, the model, the saved ``pipeline.config``) sees one spelling.
"""

from __future__ import annotations

from tzrec.protos import pipeline_pb2
from tzrec.utils.errors import ConfigError

# (alias, TorchEasyRec's field)
_DLRM_ALIASES = (("bot_mlp", "dense_mlp"), ("top_mlp", "final"))


def resolve_aliases(config: pipeline_pb2.EasyRecConfig) -> None:
    """Moves EasyRec-era alias fields to TorchEasyRec's names, in place.

    Raises:
        ConfigError: both an alias and its TorchEasyRec field are set.
    """
    mc = config.model_config
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
