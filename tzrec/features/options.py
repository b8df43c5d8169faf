"""Per-feature options every feature type shares, checked when features are built.

- ``data_type``: ``FP32`` (default) or ``FP16`` embedding storage; FP16 tables
  hold half-precision weights and give float32 embeddings to the model.
- ``dynamicemb``: NVIDIA's dynamic (hash-table) embeddings need CUDA and the
  ``dynamicemb`` package, which tzrec does not ship: refused with the reason.
- ``zch``: managed-collision (zero-collision hash) tables: see
  tzrec.features.zch.
"""

from __future__ import annotations

from tzrec.features.zch import check_zch
from tzrec.utils.errors import ConfigError

DATA_TYPES = ("FP32", "FP16")


def check_data_type(config, where: str) -> None:  # noqa: ANN001
    """Raises a ConfigError for a ``data_type`` other than FP32 / FP16."""
    fields = config.DESCRIPTOR.fields_by_name
    if "data_type" in fields and config.data_type.upper() not in DATA_TYPES:
        raise ConfigError(
            f'data_type "{config.data_type}" is not supported',
            f"{where}.data_type",
            "use FP32 or FP16",
        )


def check_options(config, where: str) -> None:  # noqa: ANN001
    """Raises a ConfigError for an option value tzrec cannot honour.

    Config validation reports ``dynamicemb`` and ``zch`` through
    tzrec.config.UNSUPPORTED; these checks guard features built from a config
    that skipped validation.
    """
    fields = config.DESCRIPTOR.fields_by_name
    check_data_type(config, where)
    if "dynamicemb" in fields and config.HasField("dynamicemb"):
        raise ConfigError(
            "dynamicemb is not supported yet: NVIDIA dynamic embeddings need CUDA "
            "and the dynamicemb package, which tzrec does not ship",
            f"{where}.dynamicemb",
            "use hash_bucket_size (a fixed-size table) or zch",
        )
    if "zch" in fields and config.HasField("zch"):
        check_zch(config, f"{where}.zch")
