"""``--edit_config_json``: change config fields by dotted path.

TorchEasyRec's syntax: a JSON object ``{"train_config.num_steps": 500}`` whose
keys are dotted paths with optional selectors on repeated fields: ``[i]``,
``[a:b]``, ``[:]`` and ``[field=value]`` (also ``!=``, ``<``, ``<=``, ``>``,
``>=``). Keys (and string values) may join several edits with ``;``, and a
non-JSON string ``"a.b:1;c.d:2"`` is accepted too.

Values are converted to the field's type. A list replaces a repeated field; a
dict merges into a message; a string for a message is text format (it replaces
the message, as in TorchEasyRec); ``null`` clears a field.
"""

from __future__ import annotations

import difflib
import json
import operator
import re
from collections.abc import Callable
from typing import Any

from google.protobuf import text_format
from google.protobuf.descriptor import FieldDescriptor
from google.protobuf.message import Message

from tzrec.config.proto_fields import AnyFieldDescriptor, feature_name_of
from tzrec.protos import feature_pb2, pipeline_pb2
from tzrec.utils.errors import ConfigError

_FD = FieldDescriptor
_INT_RANGE = {
    _FD.CPPTYPE_INT32: (-(2**31), 2**31 - 1),
    _FD.CPPTYPE_INT64: (-(2**63), 2**63 - 1),
    _FD.CPPTYPE_UINT32: (0, 2**32 - 1),
    _FD.CPPTYPE_UINT64: (0, 2**64 - 1),
}
_OPS: dict[str, Callable[[Any, Any], bool]] = {
    ">=": operator.ge,
    "<=": operator.le,
    "!=": operator.ne,
    "=": operator.eq,
    ">": operator.gt,
    "<": operator.lt,
}
_COND = re.compile(r"\s*([\w.]+)\s*(>=|<=|!=|=|>|<)\s*(.*?)\s*")
_SEGMENT = re.compile(r"\s*(\w+)\s*(?:\[(.*)\])?\s*")
_Target = tuple[Message, AnyFieldDescriptor, "int | None", str]


def apply_edit_config_json(
    config: pipeline_pb2.EasyRecConfig, edits: str | dict[str, Any]
) -> pipeline_pb2.EasyRecConfig:
    """Applies ``--edit_config_json`` edits in place.

    Args:
        config: the parsed config.
        edits: a dict of dotted path -> value, its JSON text, or a
            ``"path:value;path:value"`` string.

    Returns:
        ``config``, edited.

    Raises:
        ConfigError: a path that does not exist, a selector that matches
            nothing, or a value that cannot be converted; names the path.

    """
    for key, value in _edit_pairs(edits):
        for msg, fd, index, here in _resolve(config, key):
            _assign(msg, fd, index, value, f"edit_config_json: {here}")
    return config


def _edit_pairs(edits: str | dict[str, Any]) -> list[tuple[str, Any]]:
    if isinstance(edits, str):
        text = edits.strip()
        if text.startswith(("{", "[")):
            try:
                edits = json.loads(text)
            except json.JSONDecodeError as e:
                raise ConfigError(
                    f"bad JSON: {e.msg} at column {e.colno}",
                    "edit_config_json",
                    'write {"path": value, ...}',
                ) from e
        else:
            edits = dict(_split_key_value(p) for p in _split_top(text, ";") if p)
    if not isinstance(edits, dict):
        raise ConfigError(
            "must be a JSON object", "edit_config_json", 'write {"path": value}'
        )
    pairs = []
    for key, value in edits.items():
        keys = [k.strip() for k in _split_top(key, ";")]
        if len(keys) == 1:
            pairs.append((keys[0], value))
            continue
        values = _split_top(value, ";") if isinstance(value, str) else value
        if not isinstance(values, list) or len(values) != len(keys):
            raise ConfigError(
                f"{len(keys)} paths joined by ';' need as many ';'-joined values",
                f"edit_config_json: {key}",
            )
        pairs += zip(keys, [v.strip() if isinstance(v, str) else v for v in values])
    return pairs


def _split_key_value(part: str) -> tuple[str, str]:
    pieces = _split_top(part, ":", maxsplit=1)
    if len(pieces) != 2:
        raise ConfigError(
            f'"{part}" is not path:value', "edit_config_json", "write a.b:1;c.d:2"
        )
    return pieces[0].strip(), pieces[1].strip()


def _split_top(text: str, sep: str, maxsplit: int = -1) -> list[str]:
    """Splits on ``sep`` outside brackets, braces and quotes."""
    parts: list[str] = []
    depth, quote, start = 0, "", 0
    for i, ch in enumerate(text):
        if quote:
            quote = "" if ch == quote else quote
        elif ch in "\"'":
            quote = ch
        elif ch in "[{(":
            depth += 1
        elif ch in "]})":
            depth -= 1
        elif ch == sep and depth == 0 and maxsplit != len(parts):
            parts.append(text[start:i])
            start = i + 1
    return parts + [text[start:]]


def _resolve(config: Message, key: str) -> list[_Target]:
    """Finds the (message, field, index, concrete path) targets of a path."""
    segments = _split_top(key, ".")
    current: list[tuple[Message, str]] = [(config, "")]
    for n, segment in enumerate(segments):
        m = _SEGMENT.fullmatch(segment)
        if not m:
            raise ConfigError(
                f'bad path segment "{segment}"', f"edit_config_json: {key}"
            )
        name, selector = m.group(1), m.group(2)
        last = n == len(segments) - 1
        targets: list[_Target] = []
        for msg, prefix in current:
            fd = _field(msg, name, f"edit_config_json: {key}")
            here = f"{prefix}.{name}" if prefix else name
            if selector is None:
                targets.append((msg, fd, None, here))
            elif not fd.is_repeated or _is_map(fd):
                raise ConfigError(f"{here} is not a list", f"edit_config_json: {key}")
            else:
                for i in _select(getattr(msg, name), fd, selector, here, key):
                    targets.append((msg, fd, i, f"{here}[{i}]"))
        if last:
            return targets
        current = [_descend(t, key) for t in targets]
    return []


def _descend(target: _Target, key: str) -> tuple[Message, str]:
    msg, fd, index, here = target
    where = f"edit_config_json: {key}"
    if fd.cpp_type != _FD.CPPTYPE_MESSAGE:
        raise ConfigError(f"{here} is a {_type_name(fd)}, not a message", where)
    if index is not None:
        return getattr(msg, fd.name)[index], here
    if fd.is_repeated:
        raise ConfigError(
            f"{here} is a list", where, "select elements: [i], [a:b], [field=value]"
        )
    oneof = fd.containing_oneof
    chosen = msg.WhichOneof(oneof.name) if oneof is not None else None
    if chosen not in (None, fd.name):
        # Going through would silently replace the set member of the oneof.
        raise ConfigError(
            f"{here.rpartition('.')[0] or 'config'} holds {chosen}, not {fd.name}",
            where,
        )
    return getattr(msg, fd.name), here


def _field(msg: Message, name: str, where: str) -> AnyFieldDescriptor:
    desc = msg.DESCRIPTOR
    fd = desc.fields_by_name.get(name)
    if fd is None:
        fd = next((f for f in desc.fields if f.json_name == name), None)
    if fd is None:
        names = [f.name for f in desc.fields]
        close = difflib.get_close_matches(name, names, n=1)
        fix = f'did you mean "{close[0]}"?' if close else f"valid: {', '.join(names)}"
        raise ConfigError(f'no field "{name}" in {desc.name}', where, fix)
    return fd


def _select(
    items: Any, fd: AnyFieldDescriptor, selector: str, here: str, key: str
) -> list[int]:
    n, where = len(items), f"edit_config_json: {key}"
    sel = selector.strip()
    if re.fullmatch(r"-?\d+", sel):
        i = int(sel)
        if not -n <= i < n:
            raise ConfigError(f"index {i} out of range: {here} has {n}", where)
        return [i % n]
    cond = _COND.fullmatch(sel)
    slc = re.fullmatch(r"(-?\d*)\s*:\s*(-?\d*)", sel)
    if cond and fd.cpp_type == _FD.CPPTYPE_MESSAGE:
        path, op, raw = cond.groups()
        hits = [i for i, el in enumerate(items) if _matches(el, path, op, raw, where)]
    elif slc:
        start, stop = (int(x) if x else None for x in slc.groups())
        hits = list(range(n))[start:stop]
    else:
        raise ConfigError(
            f'bad selector "[{selector}]"', where, "use [i], [a:b], [f=v]"
        )
    if not hits:
        raise ConfigError(f"[{selector}] matches nothing in {here} ({n} items)", where)
    return hits


def _matches(element: Message, path: str, op: str, raw: str, where: str) -> bool:
    """Whether ``element.<path> <op> raw``; False where the path does not exist."""
    if path == "feature_name" and isinstance(element, feature_pb2.FeatureConfig):
        return _OPS[op](feature_name_of(element), _unquote(raw))
    msg, parts = element, path.split(".")
    for n, name in enumerate(parts):
        fd = msg.DESCRIPTOR.fields_by_name.get(name)
        if fd is None:  # look inside whichever oneof member is set
            owner = _oneof_owner(msg, name)
            if owner is None:
                return False
            msg, fd = owner, owner.DESCRIPTOR.fields_by_name[name]
        if fd.is_repeated:
            return False
        if n < len(parts) - 1:
            if fd.cpp_type != _FD.CPPTYPE_MESSAGE:
                return False
            msg = getattr(msg, name)
            continue
        value = _convert(fd, _unquote(raw), where)
        return _OPS[op](getattr(msg, name), value)
    return False


def _oneof_owner(msg: Message, name: str) -> Message | None:
    """The set oneof member of ``msg`` that has a field ``name``, if any."""
    for oneof in msg.DESCRIPTOR.oneofs:
        chosen = msg.WhichOneof(oneof.name)
        sub = getattr(msg, chosen) if chosen else None
        if isinstance(sub, Message) and name in sub.DESCRIPTOR.fields_by_name:
            return sub
    return None


def _unquote(raw: str) -> str:
    return raw[1:-1] if len(raw) >= 2 and raw[0] == raw[-1] and raw[0] in "\"'" else raw


def _is_map(fd: AnyFieldDescriptor) -> bool:
    return fd.message_type is not None and fd.message_type.GetOptions().map_entry


def _assign(
    msg: Message, fd: AnyFieldDescriptor, index: int | None, value: Any, where: str
) -> None:
    is_msg = fd.cpp_type == _FD.CPPTYPE_MESSAGE
    if index is not None:
        items = getattr(msg, fd.name)
        if is_msg:
            _assign_message(items[index], value, where)
        else:
            items[index] = _convert(fd, value, where)
    elif value is None:
        msg.ClearField(fd.name)
    elif _is_map(fd):
        _assign_map(getattr(msg, fd.name), fd, value, where)
    elif fd.is_repeated:
        _assign_list(getattr(msg, fd.name), fd, value, where)
    elif is_msg:
        sub = getattr(msg, fd.name)
        sub.SetInParent()
        _assign_message(sub, value, where)
    else:
        setattr(msg, fd.name, _convert(fd, value, where))


def _assign_message(sub: Message, value: Any, where: str) -> None:
    if isinstance(value, dict):
        for k, v in value.items():
            _assign(sub, _field(sub, k, where), None, v, f"{where}.{k}")
    elif isinstance(value, str):
        text = value.strip()
        text = text[1:-1] if text.startswith("{") and text.endswith("}") else text
        sub.Clear()
        try:
            text_format.Merge(text, sub)
        except text_format.ParseError as e:
            raise ConfigError(f"bad {sub.DESCRIPTOR.name} text: {e}", where) from e
    else:
        raise ConfigError(
            f"{sub.DESCRIPTOR.name} needs a dict or text, got {value!r}", where
        )


def _assign_list(items: Any, fd: AnyFieldDescriptor, value: Any, where: str) -> None:
    values = _parse_list(value) if isinstance(value, str) else value
    values = values if isinstance(values, list) else [values]
    if fd.cpp_type == _FD.CPPTYPE_MESSAGE:
        del items[:]
        for i, v in enumerate(values):
            _assign_message(items.add(), v, f"{where}[{i}]")
    else:
        converted = [_convert(fd, v, f"{where}[{i}]") for i, v in enumerate(values)]
        del items[:]
        items.extend(converted)


def _parse_list(text: str) -> Any:
    """``"[64, 32]"`` or ``"[a, 'b']"`` -> a list; anything else -> itself."""
    text = text.strip()
    if not (text.startswith("[") and text.endswith("]")):
        return text
    try:
        return json.loads(text)
    except json.JSONDecodeError:
        inner = text[1:-1].strip()
        return [_unquote(x.strip()) for x in _split_top(inner, ",")] if inner else []


def _assign_map(items: Any, fd: AnyFieldDescriptor, value: Any, where: str) -> None:
    if not isinstance(value, dict):
        raise ConfigError(f"{fd.name} needs a dict, got {value!r}", where)
    entry = fd.message_type
    assert entry is not None  # a map field's entries are messages
    key_fd, value_fd = (entry.fields_by_name[n] for n in ("key", "value"))
    converted = {
        _convert(key_fd, k, where): _convert(value_fd, v, f"{where}.{k}")
        for k, v in value.items()
    }
    items.clear()
    items.update(converted)


def _type_name(fd: AnyFieldDescriptor) -> str:
    if fd.enum_type is not None:
        return f"enum {fd.enum_type.name}"
    names = {
        _FD.CPPTYPE_INT32: "int32",
        _FD.CPPTYPE_INT64: "int64",
        _FD.CPPTYPE_UINT32: "uint32",
        _FD.CPPTYPE_UINT64: "uint64",
        _FD.CPPTYPE_FLOAT: "float",
        _FD.CPPTYPE_DOUBLE: "double",
        _FD.CPPTYPE_BOOL: "bool",
        _FD.CPPTYPE_STRING: "string",
    }
    return names.get(fd.cpp_type, "message")


def _convert(fd: AnyFieldDescriptor, value: Any, where: str) -> Any:
    """Converts a JSON (or string) value to the scalar type of ``fd``."""
    t = fd.cpp_type
    try:
        if isinstance(value, (list, dict)) or value is None:
            raise ValueError
        if t in _INT_RANGE:
            if isinstance(value, bool) or (
                isinstance(value, float) and not value.is_integer()
            ):
                raise ValueError
            out = int(value.strip()) if isinstance(value, str) else int(value)
            low, high = _INT_RANGE[t]
            if not low <= out <= high:
                raise ValueError
            return out
        if t in (_FD.CPPTYPE_FLOAT, _FD.CPPTYPE_DOUBLE):
            if isinstance(value, bool):
                raise ValueError
            return float(value)
        if t == _FD.CPPTYPE_BOOL:
            if isinstance(value, str) and value.strip().lower() in ("true", "false"):
                return value.strip().lower() == "true"
            if isinstance(value, bool) or value in (0, 1):
                return bool(value)
            raise ValueError
        if t == _FD.CPPTYPE_ENUM:
            return _convert_enum(fd, value)
        if isinstance(value, bool):
            raise ValueError
        return str(value)
    except (ValueError, TypeError, KeyError) as e:
        fix = ""
        if fd.enum_type is not None:
            fix = "use one of " + ", ".join(v.name for v in fd.enum_type.values)
        raise ConfigError(
            f"cannot set {value!r}: {fd.name} is {_type_name(fd)}", where, fix
        ) from e


def _convert_enum(fd: AnyFieldDescriptor, value: Any) -> int:
    enum = fd.enum_type
    if enum is None or isinstance(value, bool):
        raise ValueError
    if isinstance(value, str) and not value.strip().lstrip("-").isdigit():
        return enum.values_by_name[value.strip()].number
    return enum.values_by_number[int(value)].number
