"""Per-table sharding constraints: ``embedding_constraints`` and the global ones.

TorchEasyRec's semantics: a feature's ``embedding_constraints`` apply to its
table; a table without them gets ``train_config.global_embedding_constraints``
(when set); each constraint limits the sharding types and compute kernels the
torchrec planner may choose, an empty list limiting nothing. tzrec keeps every
table's optimizer fused into its backward, so the planner never picks
``data_parallel`` or the ``dense`` kernel (they would need a dense gradient and
a dense optimizer step over every row); asking for either is "not supported
yet". The UVM and key-value kernels exist only on CUDA.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Iterable
from typing import Any

from tzrec.utils.errors import ConfigError

# torchrec's ShardingType / EmbeddingComputeKernel values (plain strings, so
# config validation needs no torchrec). What the planner may pick when nothing
# constrains a table:
DEFAULT_SHARDING_TYPES = ("table_wise", "row_wise", "column_wise", "table_row_wise")
DEFAULT_COMPUTE_KERNELS = ("fused",)

SHARDING_TYPES = (
    "data_parallel",
    "table_wise",
    "column_wise",
    "row_wise",
    "table_row_wise",
    "table_column_wise",
    "grid_shard",
)
COMPUTE_KERNELS = ("dense", "fused", "fused_uvm", "fused_uvm_caching", "key_value")
_CUDA_KERNELS = ("fused_uvm", "fused_uvm_caching", "key_value")
_NOT_FUSED = "tables keep their optimizer fused into the backward"


@dataclasses.dataclass(frozen=True)
class TableConstraint:
    """The sharding types and compute kernels the planner may use for a table."""

    sharding_types: tuple[str, ...] = DEFAULT_SHARDING_TYPES
    compute_kernels: tuple[str, ...] = DEFAULT_COMPUTE_KERNELS


def constraint_problems(cfg: Any, where: str, cuda: bool) -> list[ConfigError]:
    """What is wrong with one ParameterConstraints message (empty when valid).

    Args:
        cfg: the ParameterConstraints message.
        where: its field path.
        cuda: whether CUDA is available (UVM and key-value kernels need it).
    """
    p: list[ConfigError] = []
    for i, t in enumerate(cfg.sharding_types):
        at = f"{where}.sharding_types[{i}]"
        if t not in SHARDING_TYPES:
            p.append(
                ConfigError(f'unknown sharding type "{t}"', at, _one_of(SHARDING_TYPES))
            )
        elif t == "data_parallel":
            p.append(
                ConfigError(
                    "data_parallel is not supported yet",
                    at,
                    _NOT_FUSED + "; use table_wise or row_wise",
                )
            )
    for i, k in enumerate(cfg.compute_kernels):
        at = f"{where}.compute_kernels[{i}]"
        if k not in COMPUTE_KERNELS:
            p.append(
                ConfigError(
                    f'unknown compute kernel "{k}"', at, _one_of(COMPUTE_KERNELS)
                )
            )
        elif k == "dense":
            p.append(
                ConfigError(
                    "the dense kernel is not supported yet",
                    at,
                    _NOT_FUSED + "; use fused",
                )
            )
        elif k in _CUDA_KERNELS and not cuda:
            p.append(ConfigError(f"{k} needs CUDA", at, "use fused on CPU"))
    return p


def _one_of(known: tuple[str, ...]) -> str:
    usable = [k for k in known if k not in ("data_parallel", "dense")]
    return "use one of " + ", ".join(usable)


def _constraint(cfg: Any) -> TableConstraint:
    return TableConstraint(
        tuple(cfg.sharding_types) or DEFAULT_SHARDING_TYPES,
        tuple(cfg.compute_kernels) or DEFAULT_COMPUTE_KERNELS,
    )


def table_constraints(
    features: Iterable[Any], train_config: Any, table_names: Iterable[str]
) -> dict[str, TableConstraint]:
    """The constraint of every table in ``table_names``.

    Args:
        features: built features (each with ``config`` and ``table``).
        train_config: for ``global_embedding_constraints``.
        table_names: the model's tables.

    Returns:
        Table name -> constraint: the feature's own when it sets
        ``embedding_constraints`` (the first feature of a shared table that
        sets them; they also cover the table's wide copy), else the global
        ones, else tzrec's defaults.
    """
    from tzrec.modules.embedding import WIDE_PREFIX  # late: torch

    default = (
        _constraint(train_config.global_embedding_constraints)
        if train_config.HasField("global_embedding_constraints")
        else TableConstraint()
    )
    own: dict[str, TableConstraint] = {}
    for f in features:
        table = f.table
        cfg = f.config
        if table is None or table.name in own:
            continue
        if cfg.DESCRIPTOR.fields_by_name.get("embedding_constraints") and cfg.HasField(
            "embedding_constraints"
        ):
            own[table.name] = _constraint(cfg.embedding_constraints)
            own[WIDE_PREFIX + table.name] = own[table.name]
    return {name: own.get(name, default) for name in table_names}


_UNPLANNABLE = re.compile(
    r"No available sharding type and compute kernel combination after applying "
    r"user provided constraints for (\S+)\."
)


def unplannable_error(e: RuntimeError, device: str) -> Exception:
    """The planner's "no combination left" error as a ConfigError; else ``e``."""
    m = _UNPLANNABLE.search(str(e))
    if m is None:
        return e
    return ConfigError(
        f"no sharding type and compute kernel of the constraints is available on "
        f"{device} for table {m.group(1)}",
        "embedding_constraints / train_config.global_embedding_constraints",
        "on CPU tables shard table_wise, column_wise or table_column_wise with "
        "the fused kernel",
    )
