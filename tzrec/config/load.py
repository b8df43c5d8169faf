"""Pipeline config files: load (text or proto-JSON), save, hash.

The format is TorchEasyRec's ``pipeline.config`` (protobuf text format), so an
existing config parses unchanged. Parse errors become one-line ConfigErrors with
the file, line and column; checks run later, in :func:`tzrec.config.validate`.
"""

from __future__ import annotations

import difflib
import hashlib
import json
import logging
import re

from google.protobuf import descriptor_pool, json_format, text_format

from tzrec.config.aliases import resolve_aliases
from tzrec.config.edit import apply_edit_config_json
from tzrec.protos import pipeline_pb2
from tzrec.utils.errors import ConfigError

logger = logging.getLogger(__name__)

_POOL = descriptor_pool.Default()
_UNKNOWN_FIELD = re.compile(r'Message type "([\w.]+)" has no field named "(\w+)"')
_BAD_ENUM = re.compile(
    r'Enum type "([\w.]+)" has no value (?:named|with number) (\S+?)\.?$'
)
_JSON_BAD_ENUM = re.compile(r"Invalid enum value (\S+) for enum type ([\w.]+)")
_TOKEN = re.compile(r"\"[^\"\n]*\"?|'[^'\n]*'?|[\w.+-]+|\S")


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
    resolve_aliases(config)
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

    atomic_write(path, config_text(config))


def config_hash(config: pipeline_pb2.EasyRecConfig) -> str:
    """First 12 hex chars of the sha256 of the config's text format.

    Args:
        config: the config to hash.

    Returns:
        A stable identifier of the config's content.

    """
    return hashlib.sha256(config_text(config).encode("utf-8")).hexdigest()[:12]


def config_text(config: pipeline_pb2.EasyRecConfig) -> str:
    """The config in text format, as ``pipeline.config`` holds it.

    Text format prints fields in number order and map keys sorted, so the text
    (and :func:`config_hash`) is deterministic.
    """
    return text_format.MessageToString(config, as_utf8=True)
