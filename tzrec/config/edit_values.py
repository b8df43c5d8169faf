"""``--edit_config_json`` values: converted to the field's type and assigned.

Also the small text helpers the path parser in :mod:`tzrec.config.edit` shares
with the value parser (top-level splitting, unquoting, field lookup).
"""

from __future__ import annotations

import difflib
import json
from typing import Any

from google.protobuf import text_format
from google.protobuf.descriptor import FieldDescriptor
from google.protobuf.message import Message

from tzrec.config.proto_fields import AnyFieldDescriptor
from tzrec.utils.errors import ConfigError

_FD = FieldDescriptor
_INT_RANGE = {
    _FD.CPPTYPE_INT32: (-(2**31), 2**31 - 1),
    _FD.CPPTYPE_INT64: (-(2**63), 2**63 - 1),
    _FD.CPPTYPE_UINT32: (0, 2**32 - 1),
    _FD.CPPTYPE_UINT64: (0, 2**64 - 1),
}


def split_top(text: str, sep: str, maxsplit: int = -1) -> list[str]:
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


def unquote(raw: str) -> str:
    """``raw`` without one pair of surrounding quotes, if it has them."""
    return raw[1:-1] if len(raw) >= 2 and raw[0] == raw[-1] and raw[0] in "\"'" else raw


def is_map(fd: AnyFieldDescriptor) -> bool:
    """Whether ``fd`` is a map field (repeated entries of a map_entry message)."""
    return fd.message_type is not None and fd.message_type.GetOptions().map_entry


def field_named(msg: Message, name: str, where: str) -> AnyFieldDescriptor:
    """The field of ``msg`` called ``name`` (or with that JSON name).

    Raises:
        ConfigError: no such field; names the closest one.

    """
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


def assign(
    msg: Message, fd: AnyFieldDescriptor, index: int | None, value: Any, where: str
) -> None:
    """Sets ``msg.<fd>`` (element ``index`` of it, if given) to ``value``.

    A list replaces a repeated field, a dict merges into a message, a string
    for a message is text format that replaces it, and None clears the field.
    """
    is_msg = fd.cpp_type == _FD.CPPTYPE_MESSAGE
    if index is not None:
        items = getattr(msg, fd.name)
        if is_msg:
            _assign_message(items[index], value, where)
        else:
            items[index] = convert(fd, value, where)
    elif value is None:
        msg.ClearField(fd.name)
    elif is_map(fd):
        _assign_map(getattr(msg, fd.name), fd, value, where)
    elif fd.is_repeated:
        _assign_list(getattr(msg, fd.name), fd, value, where)
    elif is_msg:
        sub = getattr(msg, fd.name)
        sub.SetInParent()
        _assign_message(sub, value, where)
    else:
        setattr(msg, fd.name, convert(fd, value, where))


def _assign_message(sub: Message, value: Any, where: str) -> None:
    if isinstance(value, dict):
        for k, v in value.items():
            assign(sub, field_named(sub, k, where), None, v, f"{where}.{k}")
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
        converted = [convert(fd, v, f"{where}[{i}]") for i, v in enumerate(values)]
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
        return [unquote(x.strip()) for x in split_top(inner, ",")] if inner else []


def _assign_map(items: Any, fd: AnyFieldDescriptor, value: Any, where: str) -> None:
    if not isinstance(value, dict):
        raise ConfigError(f"{fd.name} needs a dict, got {value!r}", where)
    entry = fd.message_type
    assert entry is not None  # a map field's entries are messages
    key_fd, value_fd = (entry.fields_by_name[n] for n in ("key", "value"))
    converted = {
        convert(key_fd, k, where): convert(value_fd, v, f"{where}.{k}")
        for k, v in value.items()
    }
    items.clear()
    items.update(converted)


def type_name(fd: AnyFieldDescriptor) -> str:
    """The proto type of ``fd`` as written in messages, e.g. ``int32``."""
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


def convert(fd: AnyFieldDescriptor, value: Any, where: str) -> Any:
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
            f"cannot set {value!r}: {fd.name} is {type_name(fd)}", where, fix
        ) from e


def _convert_enum(fd: AnyFieldDescriptor, value: Any) -> int:
    enum = fd.enum_type
    if enum is None or isinstance(value, bool):
        raise ValueError
    if isinstance(value, str) and not value.strip().lstrip("-").isdigit():
        return enum.values_by_name[value.strip()].number
    return enum.values_by_number[int(value)].number
