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

import json
import operator
import re
from collections.abc import Callable
from typing import Any

from google.protobuf.descriptor import FieldDescriptor
from google.protobuf.message import Message

from tzrec.config.edit_values import (
    assign,
    convert,
    field_named,
    is_map,
    split_top,
    type_name,
    unquote,
)
from tzrec.config.proto_fields import AnyFieldDescriptor, feature_name_of
from tzrec.protos import feature_pb2, pipeline_pb2
from tzrec.utils.errors import ConfigError

_FD = FieldDescriptor
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
            assign(msg, fd, index, value, f"edit_config_json: {here}")
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
            edits = dict(_split_key_value(p) for p in split_top(text, ";") if p)
    if not isinstance(edits, dict):
        raise ConfigError(
            "must be a JSON object", "edit_config_json", 'write {"path": value}'
        )
    pairs = []
    for key, value in edits.items():
        keys = [k.strip() for k in split_top(key, ";")]
        if len(keys) == 1:
            pairs.append((keys[0], value))
            continue
        values = split_top(value, ";") if isinstance(value, str) else value
        if not isinstance(values, list) or len(values) != len(keys):
            raise ConfigError(
                f"{len(keys)} paths joined by ';' need as many ';'-joined values",
                f"edit_config_json: {key}",
            )
        pairs += zip(keys, [v.strip() if isinstance(v, str) else v for v in values])
    return pairs


def _split_key_value(part: str) -> tuple[str, str]:
    pieces = split_top(part, ":", maxsplit=1)
    if len(pieces) != 2:
        raise ConfigError(
            f'"{part}" is not path:value', "edit_config_json", "write a.b:1;c.d:2"
        )
    return pieces[0].strip(), pieces[1].strip()


def _resolve(config: Message, key: str) -> list[_Target]:
    """Finds the (message, field, index, concrete path) targets of a path."""
    segments = split_top(key, ".")
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
            fd = field_named(msg, name, f"edit_config_json: {key}")
            here = f"{prefix}.{name}" if prefix else name
            if selector is None:
                targets.append((msg, fd, None, here))
            elif not fd.is_repeated or is_map(fd):
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
        raise ConfigError(f"{here} is a {type_name(fd)}, not a message", where)
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
        return _OPS[op](feature_name_of(element), unquote(raw))
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
        value = convert(fd, unquote(raw), where)
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
