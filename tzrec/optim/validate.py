"""Config checks of the optimizer options, embedding constraints and timestamp saves.

Called by config validation, so every problem is reported at once, before
any model is built, each naming its field.
"""

from __future__ import annotations

import logging
import re
from typing import Any

from google.protobuf.message import Message

from tzrec.optim.dense import DENSE_KINDS
from tzrec.optim.lr import schedule_problems
from tzrec.train.embedding_constraints import constraint_problems
from tzrec.utils.errors import ConfigError

_logger = logging.getLogger("tzrec")


def optim_option_problems(config: Any) -> list[ConfigError]:
    """Every problem with these options in a pipeline config (empty when valid)."""
    tc = config.train_config
    p: list[ConfigError] = []
    dense = tc.dense_optimizer
    where = "train_config.dense_optimizer"
    p += _dense_problems(dense, where)
    for i, po in enumerate(dense.part_optimizers):
        p += _part_problems(po, f"{where}.part_optimizers[{i}]")
    _warn_ignored_weight_decay(tc.sparse_optimizer)
    constraints = [
        (at, msg)
        for i, fc in enumerate(config.feature_configs)
        for at, msg in _constraints_in(fc, f"feature_configs[{i}]")
    ]
    if tc.HasField("global_embedding_constraints"):
        at = "train_config.global_embedding_constraints"
        constraints.append((at, tc.global_embedding_constraints))
    cuda = _cuda_available() if constraints else False
    for at, msg in constraints:
        p += constraint_problems(msg, at, cuda)
    p += _timestamp_problems(tc)
    return p


def _cuda_available() -> bool:
    import torch  # late: parsing a config needs no torch

    return torch.cuda.is_available()


def _dense_problems(cfg: Any, where: str) -> list[ConfigError]:
    kind = cfg.WhichOneof("optimizer")
    if kind not in DENSE_KINDS:
        return []  # reported elsewhere (missing or not supported yet)
    o = getattr(cfg, kind)
    at = f"{where}.{kind}"
    p: list[ConfigError] = []
    if kind != "sgd_optimizer" and o.eps < 0:
        p.append(ConfigError("must be >= 0", f"{at}.eps"))
    if kind == "sgd_optimizer" and o.nesterov and (o.momentum <= 0 or o.dampening):
        p.append(
            ConfigError(
                "nesterov needs momentum > 0 and dampening 0",
                f"{at}.nesterov",
                "set momentum (e.g. 0.9) and leave dampening unset",
            )
        )
    return p


def _part_problems(po: Any, where: str) -> list[ConfigError]:
    p: list[ConfigError] = []
    if not po.regex_pattern:
        p.append(
            ConfigError(
                "empty",
                f"{where}.regex_pattern",
                'a regular expression over parameter names, e.g. ".*tower.*"',
            )
        )
    else:
        try:
            re.compile(po.regex_pattern)
        except re.error as e:
            p.append(
                ConfigError(
                    f"not a regular expression: {e}",
                    f"{where}.regex_pattern",
                    "fix the pattern (Python re syntax, matched with fullmatch)",
                )
            )
    if po.WhichOneof("optimizer") is None:
        p.append(
            ConfigError(
                "no optimizer set",
                where,
                "add e.g. adam_optimizer { lr: 0.001 }",
            )
        )
    p += _dense_problems(po, where)
    kind = po.WhichOneof("learning_rate")
    if kind and kind != "constant_learning_rate":
        p += schedule_problems(kind, getattr(po, kind), f"{where}.{kind}")
    return p


def _warn_ignored_weight_decay(sparse: Any) -> None:
    if sparse.WhichOneof("optimizer") != "rowwise_adagrad_optimizer":
        return
    o = sparse.rowwise_adagrad_optimizer
    if o.weight_decay > 0 and o.weight_decay_mode == 0:
        _logger.warning(
            "[config] train_config.sparse_optimizer.rowwise_adagrad_optimizer."
            "weight_decay has no effect with weight_decay_mode NONE (as in "
            "TorchEasyRec and fbgemm); set weight_decay_mode: L2 or DECOUPLE"
        )


def _constraints_in(msg: Message, where: str) -> list[tuple[str, Any]]:
    """Every set ``embedding_constraints`` under a feature config, with its path."""
    found: list[tuple[str, Any]] = []
    for fd, value in msg.ListFields():
        if fd.message_type is None:
            continue
        items = list(value) if fd.is_repeated else [value]
        for i, item in enumerate(items):
            at = f"{where}.{fd.name}" + (f"[{i}]" if fd.is_repeated else "")
            if fd.name == "embedding_constraints":
                found.append((at, item))
            elif fd.message_type.GetOptions().map_entry is False:
                found += _constraints_in(item, at)
    return found


def _timestamp_problems(tc: Any) -> list[ConfigError]:
    used = tc.save_checkpoints_timestamp_interval > 0 or len(
        tc.save_checkpoints_timestamps
    )
    if not used:
        return []
    p: list[ConfigError] = []
    if not 0.0 < tc.save_checkpoints_timestamp_quorum <= 1.0:
        p.append(
            ConfigError(
                "must be in (0, 1]",
                "train_config.save_checkpoints_timestamp_quorum",
                "the fraction of ranks that must reach an event time, e.g. 0.5",
            )
        )
    if not tc.save_checkpoints_timestamp_field:
        p.append(
            ConfigError(
                "timestamp checkpoints need the event-time column",
                "train_config.save_checkpoints_timestamp_field",
                "name the column holding each row's Unix-epoch seconds (tzrec "
                "reads no Kafka message timestamps)",
            )
        )
    return p
