"""Pipeline config: load (text or proto-JSON), edit, validate, save, hash.

The format is TorchEasyRec's ``pipeline.config`` (protobuf text format), so an
existing config parses unchanged. Parse errors become one-line ConfigErrors with
the file, line and column; ``validate`` reports every remaining problem at once
(checks in config_validate.py, edits in config_edit.py).
"""

from __future__ import annotations

import difflib
import hashlib
import json
import logging
import re
from collections.abc import Iterator

from google.protobuf import descriptor_pool, json_format, text_format
from google.protobuf.message import Message

from tzrec.config_compat import check_data_source, check_fg_mode, warn_no_effect
from tzrec.config_coverage import field_sites, is_rejected
from tzrec.config_edit import apply_edit_config_json
from tzrec.config_validate import collect_problems, feature_name_of, in_use
from tzrec.protos import pipeline_pb2
from tzrec.utils.errors import ConfigError

__all__ = [
    "UNSUPPORTED",
    "UNSUPPORTED_ON_CPU",
    "apply_edit_config_json",
    "config_hash",
    "feature_name_of",
    "load_pipeline_config",
    "save_pipeline_config",
    "validate",
]

logger = logging.getLogger(__name__)

_POOL = descriptor_pool.Default()
_UNKNOWN_FIELD = re.compile(r'Message type "([\w.]+)" has no field named "(\w+)"')
_BAD_ENUM = re.compile(
    r'Enum type "([\w.]+)" has no value (?:named|with number) (\S+?)\.?$'
)
_JSON_BAD_ENUM = re.compile(r"Invalid enum value (\S+) for enum type ([\w.]+)")
_TOKEN = re.compile(r"\"[^\"\n]*\"?|'[^'\n]*'?|[\w.+-]+|\S")


# Reasons shared by several UNSUPPORTED entries.
_WEIGHTED_SEQ = "use a weighted id_feature in a DEEP group"
_NOT_IMPL = "not implemented"
_USE_ADAGRAD = "use adagrad_optimizer, rowwise_adagrad_optimizer or sgd_optimizer"
_USE_ADAM = "use adam_optimizer, adamw_optimizer, adagrad_optimizer or sgd_optimizer"
_EMA = "dense EMA is not implemented"
_TS = "use save_checkpoints_steps"

# What parses (TorchEasyRec's schema) but is not implemented yet: field path
# (dotted names, no indices; repeated fields are walked) -> reason. A path is
# reported when in use: a set oneof member or message, a non-empty list, or a
# scalar set to a non-default value. Delete a line when its feature lands.
UNSUPPORTED: dict[str, str] = {
    "feature_configs.sequence_id_feature.weighted": _WEIGHTED_SEQ,
    "feature_configs.sequence_feature.features.id_feature.weighted": _WEIGHTED_SEQ,
    "model_config.pepnet.domain_input_name": "per-domain task towers are not "
    "implemented; remove it",
    "model_config.pepnet.task_domain_num": "per-domain task towers are not "
    "implemented; remove it",
    "model_config.rocket_launching.l2_regularization": "TorchEasyRec does not "
    "apply it either; remove it",
    "model_config.feature_groups.sequence_encoders.hstu_encoder": "use din_encoder, "
    "simple_attention, pooling_encoder, multi_window_din_encoder or "
    "self_attention_encoder",
    "data_config.input_fields_str": "use input_fields { input_name: ... }",
    "train_config.sparse_optimizer.lars_sgd_optimizer": _USE_ADAGRAD,
    "train_config.sparse_optimizer.lamb_optimizer": _USE_ADAGRAD,
    "train_config.sparse_optimizer.partial_rowwise_lamb_optimizer": _USE_ADAGRAD,
    "train_config.sparse_optimizer.partial_rowwise_adam_optimizer": _USE_ADAGRAD,
    "train_config.sparse_optimizer.adadelta_optimizer": _USE_ADAGRAD,
    "train_config.sparse_optimizer.rmsprop_optimizer": _USE_ADAGRAD,
    "train_config.dense_optimizer.adadelta_optimizer": _USE_ADAM,
    "train_config.dense_optimizer.rmsprop_optimizer": _USE_ADAM,
    "train_config.dense_optimizer.part_optimizers": "one optimizer for all params",
    "train_config.dense_optimizer.ema": _EMA,
    "train_config.save_checkpoints_timestamp_interval": _TS,
    "train_config.save_checkpoints_timestamps": _TS,
    "train_config.fine_tune_ckpt_param_map": "parameters restore by their own names",
    "train_config.grad_scaler": "only BF16 mixed precision, which needs no scaler",
    "eval_config.use_dense_ema": _EMA,
    "export_config.use_dense_ema": _EMA,
    "export_config.mixed_precision": "export in FP32",
}


def _reject_everywhere(keys: tuple[str, ...], reason: str) -> None:
    """Adds every path of the ``MessageName.field`` keys to UNSUPPORTED.

    Paths already under an UNSUPPORTED entry are skipped (reported once).
    """
    for site in field_sites(pipeline_pb2.EasyRecConfig.DESCRIPTOR):
        if site.key in keys and not is_rejected(site.path, UNSUPPORTED):
            UNSUPPORTED[site.path] = reason


def _each(messages: tuple[str, ...], fields: tuple[str, ...]) -> tuple[str, ...]:
    return tuple(f"{m}.{f}" for m in messages for f in fields)


# Metrics not implemented, wherever metrics are configured (model or towers).
_reject_everywhere(
    ("MetricConfig.multiclass_auc", "TrainMetricConfig.multiclass_auc"), "use auc"
)
_reject_everywhere(
    _each(
        ("MetricConfig", "TrainMetricConfig"), ("recall_at_k", "xauc", "grouped_xauc")
    )
    + ("TrainMetricConfig.grouped_auc", "TrainMetricConfig.normalized_entropy"),
    _NOT_IMPL,
)
# Per-optimizer clipping flags (TorchEasyRec's) are not implemented; dense
# clipping is train_config.grad_clipping.
_reject_everywhere(
    _each(
        ("SGDOptimizer", "AdagradOptimizer", "AdamOptimizer", "AdamWOptimizer")
        + ("RowWiseAdagradOptimizer",),
        ("gradient_clipping",),
    ),
    "use train_config.grad_clipping (dense parameters)",
)
_reject_everywhere(
    _each(
        ("SGDOptimizer", "AdagradOptimizer", "AdamOptimizer", "AdamWOptimizer")
        + ("RowWiseAdagradOptimizer",),
        ("max_gradient",),
    ),
    "per-optimizer clipping is not implemented; use train_config.grad_clipping",
)
# fbgemm's fused SGD for embedding tables has no momentum.
UNSUPPORTED["train_config.sparse_optimizer.sgd_optimizer.momentum"] = (
    "fused embedding SGD has no momentum; use adagrad_optimizer"
)
# TorchEasyRec feature options tzrec does not implement.
_FEATURES = ("IdFeature", "RawFeature", "ComboFeature", "LookupFeature")
_reject_everywhere(
    _each(_FEATURES, ("zch", "dynamicemb")),
    "use hash_bucket_size or num_buckets (fixed-size tables)",
)
_reject_everywhere(_each(_FEATURES, ("use_mask",)), "feature masking " + _NOT_IMPL)
_reject_everywhere(
    _each(_FEATURES, ("autodis", "mlp")), "use boundaries or the raw value"
)
_reject_everywhere(
    _each(_FEATURES, ("embedding_constraints",)),
    "tzrec plans embedding sharding itself",
)
_reject_everywhere(
    _each(_FEATURES, ("sequence_fields",)), "name the columns with expression"
)
_reject_everywhere(
    _each(_FEATURES, ("fg_encoded_default_value",)),
    "nulls are filled with default_value; set default_value instead",
)
_reject_everywhere(
    _each(_FEATURES, ("default_bucketize_value",)),
    "out-of-vocabulary ids go to bucket 1 (0 is the default value)",
)
_reject_everywhere(
    _each(_FEATURES, ("stub_type",)), "FG-DAG intermediate features " + _NOT_IMPL
)
_reject_everywhere(_each(_FEATURES, ("data_type",)), "embeddings are FP32")
_reject_everywhere(_each(_FEATURES, ("asset_dir",)), "give vocab_file its full path")
_reject_everywhere(
    ("LookupFeature.value_separator",), "lookup maps are read from map columns"
)
_reject_everywhere(("ModelConfig.kernel",), "tzrec runs PYTORCH kernels")
# TorchEasyRec feature types tzrec has no implementation of yet.
_NEW_KINDS = ("match", "expr", "overlap", "tokenize", "custom", "bool_mask", "combine")
_FEATURE_KINDS = tuple(f"{k}_feature" for k in _NEW_KINDS) + ("kv_dot_product",)
_reject_everywhere(
    _each(("FeatureConfig", "SeqFeatureConfig"), _FEATURE_KINDS)
    + _each(("FeatureConfig",), tuple(f"sequence_{k}" for k in _FEATURE_KINDS)),
    "feature type " + _NOT_IMPL + "; use id, raw, combo or lookup features",
)
_reject_everywhere(
    ("FeatureConfig.sequence_combo_feature", "FeatureConfig.sequence_lookup_feature")
    + ("SeqFeatureConfig.combo_feature", "SeqFeatureConfig.lookup_feature"),
    "sequences of combo/lookup features are " + _NOT_IMPL,
)
_DATA_CHANGE = "changes which rows a batch holds; " + _NOT_IMPL
UNSUPPORTED.update(
    {
        "train_config.is_profiling": "profile with scripts/profile_train.py",
        "train_config.global_embedding_constraints": "tzrec plans embedding "
        "sharding itself",
        "train_config.save_checkpoints_timestamp_quorum": _TS,
        "train_config.delta_embedding_dump_config": _NOT_IMPL,
        "eval_config.evaluator_type": "evaluation during training uses the "
        "latest checkpoint; export_config.exporter_type picks the best",
        "export_config.export_format": "export writes TorchScript",
        "data_config.fg_encoded_multival_sep": "multi-value string columns are "
        "split by each feature's separator; set separator instead (Parquet "
        "list columns need none)",
        "data_config.drop_remainder": _DATA_CHANGE,
        "data_config.min_batch_size": _DATA_CHANGE,
        "data_config.sample_mask_prob": _DATA_CHANGE,
        "data_config.negative_sample_mask_prob": _DATA_CHANGE,
        "data_config.force_base_data_group": _DATA_CHANGE,
        "data_config.sample_cost_field": _DATA_CHANGE,
        "data_config.batch_cost_size": _DATA_CHANGE,
    }
)
for _sampler in (
    "negative_sampler",
    "negative_sampler_v2",
    "hard_negative_sampler",
    "hard_negative_sampler_v2",
    "tdm_sampler",
):
    UNSUPPORTED[f"data_config.{_sampler}"] = (
        "negative sampling is for retrieval models, which tzrec does not have"
    )

# Checked only where torch.cuda.is_available() is False.
UNSUPPORTED_ON_CPU: dict[str, str] = {
    "train_config.sparse_optimizer.adam_optimizer": "fbgemm's CPU kernels lack Adam "
    "for embedding tables; " + _USE_ADAGRAD + " (adam works on CUDA)",
}


def validate(config: pipeline_pb2.EasyRecConfig) -> None:
    """Checks a parsed config; raises one ConfigError listing every problem.

    Call it after ``--edit_config_json`` and CLI overrides (``--model_dir`` may
    come from the command line).

    Args:
        config: the config to check.

    Raises:
        ConfigError: with ``problems`` holding one entry per problem, each
            naming its field path; UNSUPPORTED entries read "not supported yet".

    """
    p = collect_problems(config)
    check_data_source(config, p)
    check_fg_mode(config, p)
    table = dict(UNSUPPORTED)
    if not _cuda_available():
        table.update(UNSUPPORTED_ON_CPU)
    for path, reason in table.items():
        for where in find_in_use(config, path):
            if where not in p.invalid:
                p.add(where, "not supported yet", reason)
    if not p.errors:
        warn_no_effect(config)
    if p.errors:
        n = len(p.errors)
        raise ConfigError(
            f"{n} problems in the config", "pipeline config", "", p.errors
        )


def find_in_use(msg: Message, path: str, prefix: str = "") -> Iterator[str]:
    """Yields the concrete paths (with indices) where ``path`` is in use.

    Args:
        msg: the message ``path`` is relative to.
        path: dotted field names without indices; repeated fields are walked.
        prefix: the concrete path of ``msg``.

    Yields:
        Paths such as ``feature_configs[3].id_feature.vocab_file``.

    Raises:
        KeyError: a name in ``path`` is not a field (a typo in a table).

    """
    name, _, rest = path.partition(".")
    fd = msg.DESCRIPTOR.fields_by_name[name]
    here = f"{prefix}.{name}" if prefix else name
    if not rest:
        if in_use(msg, name):
            yield here
    elif fd.is_repeated:
        for i, element in enumerate(getattr(msg, name)):
            yield from find_in_use(element, rest, f"{here}[{i}]")
    elif msg.HasField(name):
        yield from find_in_use(getattr(msg, name), rest, here)


def _cuda_available() -> bool:
    import torch  # late: parsing a config needs no torch

    return torch.cuda.is_available()


def load_pipeline_config(
    path: str, edit_config_json: str | dict | None = None
) -> pipeline_pb2.EasyRecConfig:
    """Reads a pipeline config; does not validate it (see ``validate``).

    Args:
        path: a text-format file, or proto-JSON when it ends in ``.json``.
        edit_config_json: optional ``--edit_config_json`` edits applied after
            parsing (see ``apply_edit_config_json``).

    Returns:
        The parsed (and edited) config.

    Raises:
        ConfigError: unreadable file, syntax error, unknown field, wrong type,
            bad enum value, or a bad edit.

    """
    try:
        with open(path, encoding="utf-8-sig") as f:  # -sig: tolerate a BOM
            text = f.read()
    except UnicodeDecodeError as e:
        raise ConfigError(
            f"pipeline config is not UTF-8 text (byte 0x{e.object[e.start]:02x} "
            f"at offset {e.start})",
            path,
            "save the file as UTF-8 (or pass the right file)",
        ) from None
    except OSError as e:
        reason = getattr(e, "strerror", None) or str(e)
        raise ConfigError(
            f"cannot read pipeline config: {reason}", path, "check the path"
        ) from e
    config = pipeline_pb2.EasyRecConfig()
    if path.endswith(".json"):
        _parse_json(text, path, config)
    else:
        _parse_text(text, path, config)
    if edit_config_json:
        apply_edit_config_json(config, edit_config_json)
    return config


def _parse_text(text: str, path: str, config: pipeline_pb2.EasyRecConfig) -> None:
    try:
        text_format.Merge(text, config)
    except text_format.ParseError as e:
        raise _text_error(e, text, path) from e
    try:  # Merge lets a later value win silently; tell the user.
        text_format.Parse(text, pipeline_pb2.EasyRecConfig())
    except text_format.ParseError as e:
        msg = _strip_prefix(e, text).rstrip(".")
        logger.warning("%s:%s: %s; the last value wins", path, e.GetLine(), msg)


def _strip_prefix(e: text_format.ParseError, text: str) -> str:
    """The parser's message without its ``L:C : 'line text': `` prefix."""
    msg = re.sub(r"^\d+:\d+ : ", "", str(e))
    line = e.GetLine()
    if line is not None and 0 < line <= len(text.splitlines()):
        quoted = f"'{text.splitlines()[line - 1]}': "
        if msg.startswith(quoted):
            msg = msg[len(quoted) :]
    return msg


def _text_error(e: text_format.ParseError, text: str, path: str) -> ConfigError:
    msg = _strip_prefix(e, text).rstrip(".")
    line, col = e.GetLine() or 0, e.GetColumn() or 1
    where = f"{path}:{line}:{col}" if line else path
    lines = text.splitlines()
    line_text = lines[line - 1] if 0 < line <= len(lines) else ""
    m = _UNKNOWN_FIELD.search(msg)
    if m:
        return _unknown_field(m.group(1), m.group(2), where, json_names=False)
    m = _BAD_ENUM.search(msg)
    if m:
        return _bad_enum(m.group(1), m.group(2), where)
    field = _field_before(line_text, col)
    if msg.startswith(("Couldn't parse", "Value out of range", "Expected string")):
        what = f"wrong type for {field}: {msg}" if field else f"wrong type: {msg}"
        fix = (
            "quote strings" if "Expected string" in msg else "give a value of its type"
        )
        return ConfigError(what, where, fix)
    token = _token_at(line_text, col)
    rest = "\n".join([line_text[col - 1 :], *lines[line:]])
    at_end = not rest[len(token) - 2 :].strip()
    if msg.startswith("Expected") and ", got" not in msg and at_end:
        token = "end of file"  # the parser points at the last token it read
    return ConfigError(
        f"syntax error at {token}: {msg}", where, "check braces, colons and quotes"
    )


def _field_before(line_text: str, col: int | None) -> str:
    """The field name whose value starts before ``col`` on the line, if any."""
    head = line_text[: (col or 1) - 1]
    m = re.search(r"(\w+)\s*:\s*(\[[^\]]*)?$", head)
    return m.group(1) if m else ""


def _token_at(line_text: str, col: int | None) -> str:
    m = _TOKEN.search(line_text, (col or 1) - 1)
    return f'"{m.group(0)}"' if m else "end of file"


def _unknown_field(
    type_name: str, field: str, where: str, json_names: bool
) -> ConfigError:
    desc = _POOL.FindMessageTypeByName(type_name)
    names = [f.name for f in desc.fields]
    candidates = names + ([f.json_name for f in desc.fields] if json_names else [])
    close = difflib.get_close_matches(field, candidates, n=1)
    fix = f'did you mean "{close[0]}"?' if close else f"valid: {', '.join(names)}"
    return ConfigError(f'unknown field "{field}" in {desc.name}', where, fix)


def _bad_enum(type_name: str, value: str, where: str) -> ConfigError:
    desc = _POOL.FindEnumTypeByName(type_name)
    valid = ", ".join(v.name for v in desc.values)
    return ConfigError(
        f"bad enum value {value} for {desc.name}", where, f"use one of {valid}"
    )


def _parse_json(text: str, path: str, config: pipeline_pb2.EasyRecConfig) -> None:
    try:
        obj = json.loads(text)
    except json.JSONDecodeError as e:
        lines = text.splitlines()
        line_text = lines[e.lineno - 1] if 0 < e.lineno <= len(lines) else ""
        raise ConfigError(
            f"JSON syntax error at {_token_at(line_text, e.colno)}: {e.msg}",
            f"{path}:{e.lineno}:{e.colno}",
            "check commas, braces and double quotes",
        ) from e
    if not isinstance(obj, dict):
        raise ConfigError("a JSON config must be an object", path, "wrap it in {}")
    try:
        json_format.ParseDict(obj, config, ignore_unknown_fields=False)
    except json_format.ParseError as e:
        raise _json_error(str(e), path) from e


def _json_error(msg: str, path: str) -> ConfigError:
    fields = re.findall(r"Failed to parse (\w+) field: ", msg)
    rest = re.sub(r"^(Failed to parse \w+ field: )+", "", msg)
    at = re.search(r' at "?EasyRecConfig\.([\w.\[\]]+?)"?\.*(\n|$)', rest)
    field_path = at.group(1) if at else ".".join(fields)
    where = f"{path}: {field_path}" if field_path else path
    m = _UNKNOWN_FIELD.search(rest)
    if m:
        return _unknown_field(m.group(1), m.group(2), where, json_names=True)
    m = _JSON_BAD_ENUM.search(rest)
    if m:
        return _bad_enum(m.group(2), m.group(1), where)
    return ConfigError(
        f"wrong value: {rest.splitlines()[0].rstrip('.')}",
        where,
        "give a value of the field's type",
    )


def save_pipeline_config(config: pipeline_pb2.EasyRecConfig, path: str) -> None:
    """Writes the config as text format, atomically (tmp + fsync + rename).

    Args:
        config: the config to write.
        path: destination; its folder is created if missing.

    """
    from tzrec.run_dir.atomic import atomic_write

    atomic_write(path, _to_text(config))


def config_hash(config: pipeline_pb2.EasyRecConfig) -> str:
    """First 12 hex chars of the sha256 of the config's text format.

    Args:
        config: the config to hash.

    Returns:
        A stable identifier of the config's content.

    """
    return hashlib.sha256(_to_text(config).encode("utf-8")).hexdigest()[:12]


def _to_text(config: pipeline_pb2.EasyRecConfig) -> str:
    # Text format prints fields in number order and map keys sorted: deterministic.
    return text_format.MessageToString(config, as_utf8=True)
