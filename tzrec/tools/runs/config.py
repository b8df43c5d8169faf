"""Config differences between runs, as dotted paths ``--edit_config_json`` takes.

Repeated messages are addressed by name where they have one
(``feature_configs[feature_name=cat_0]``, ``feature_groups[group_name=deep]``)
so an inserted feature does not shift every later path, else by index.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from google.protobuf.descriptor import FieldDescriptor
from google.protobuf.message import Message

if TYPE_CHECKING:
    # The stubs type a message's DESCRIPTOR as either backend's descriptor.
    from google._upb._message import FieldDescriptor as UpbFieldDescriptor

from tzrec.config import feature_name_of
from tzrec.protos import feature_pb2

# Left out of diffs: always differs between runs and says nothing.
IGNORED = ("model_dir",)
UNSET = "(unset)"
_KEY_FIELDS = ("feature_name", "group_name", "tower_name", "name", "input_name")


def _scalar(fd: FieldDescriptor | UpbFieldDescriptor, value: Any) -> Any:
    if fd.type == FieldDescriptor.TYPE_ENUM:
        assert fd.enum_type is not None  # set on every enum field
        item = fd.enum_type.values_by_number.get(value)
        return item.name if item is not None else value
    if fd.type in (FieldDescriptor.TYPE_FLOAT, FieldDescriptor.TYPE_DOUBLE):
        return float(f"{value:.7g}")  # float32 noise: 0.0020000000949 -> 0.002
    return value


def _element_key(element: Message) -> tuple[str, str] | None:
    if isinstance(element, feature_pb2.FeatureConfig):
        name = feature_name_of(element)
        return ("feature_name", name) if name else None
    for key in _KEY_FIELDS:
        fd = element.DESCRIPTOR.fields_by_name.get(key)
        if fd is not None and not fd.is_repeated and element.HasField(key):
            return key, str(getattr(element, key))
    return None


def _selectors(elements: Sequence[Message]) -> list[str]:
    """``[key=value]`` per element when every element has a unique key."""
    keys = [_element_key(e) for e in elements]
    values = [k[1] for k in keys if k is not None]
    if None in keys or len(set(values)) != len(values):
        return [f"[{i}]" for i in range(len(elements))]
    return [f"[{k}={v}]" for k, v in keys]  # type: ignore[misc]


def flatten(msg: Message, prefix: str = "") -> dict[str, Any]:
    """Set fields of ``msg`` as ``{dotted.path: value}``.

    An empty sub-message that is set (``constant_learning_rate {}``) maps to
    ``{}`` so choosing it still shows.
    """
    out: dict[str, Any] = {}
    for fd, value in msg.ListFields():
        path = f"{prefix}{fd.name}"
        entry = fd.message_type  # None unless the field holds messages
        is_msg = entry is not None
        if fd.is_repeated and entry is not None and not entry.GetOptions().map_entry:
            for sel, element in zip(_selectors(list(value)), value):
                sub = flatten(element, f"{path}{sel}.")
                out.update(sub or {f"{path}{sel}": "{}"})
        elif fd.is_repeated:
            out[path] = [_scalar(fd, v) for v in value] if not is_msg else str(value)
        elif is_msg:
            out.update(flatten(value, f"{path}.") or {path: "{}"})
        else:
            out[path] = _scalar(fd, value)
    return out


_SEGMENT = re.compile(r"(\w+)(?:\[([^\]]*)\])?(?:\.|$)")


def _find(elements: Sequence[Message], selector: str) -> Message | None:
    if selector.isdigit():
        i = int(selector)
        return elements[i] if i < len(elements) else None
    key, _, value = selector.partition("=")
    return next((e for e in elements if _element_key(e) == (key, value)), None)


def _default(config: Message, path: str) -> Any:
    """What ``config`` holds at ``path`` when flatten did not list it.

    A plain optional scalar inside messages the config does have reads as
    its proto default; anything else (an absent element, an unset oneof
    member or sub-message) is ``(unset)``.
    """
    msg = config
    parts = _SEGMENT.findall(path)
    for i, (name, selector) in enumerate(parts):
        fd = msg.DESCRIPTOR.fields_by_name.get(name)
        if fd is None:
            return UNSET
        last = i == len(parts) - 1
        if selector:
            element = _find(getattr(msg, name), selector)
            if element is None or last:
                return UNSET
            msg = element
        elif last:
            plain = (
                not fd.is_repeated and fd.cpp_type != FieldDescriptor.CPPTYPE_MESSAGE
            )
            if not plain or fd.containing_oneof is not None:
                return UNSET
            return _scalar(fd, fd.default_value)
        elif fd.cpp_type != FieldDescriptor.CPPTYPE_MESSAGE or not msg.HasField(name):
            return UNSET
        else:
            msg = getattr(msg, name)
    return UNSET


def config_diff(configs: Sequence[Message | None]) -> list[dict[str, Any]]:
    """Fields whose value differs between any two configs.

    Args:
        configs: one config per run (None: unreadable, skipped).

    Returns:
        ``[{"path": str, "values": [value per run]}]`` sorted by path; a
        field one run leaves unset shows its proto default, or ``(unset)``.
    """
    flats = [flatten(c) if c is not None else None for c in configs]
    if all(c is None for c in configs):
        return []
    paths = sorted({p for f in flats if f is not None for p in f})
    out = []
    for path in paths:
        if path.split("[", 1)[0].split(".", 1)[0] in IGNORED:
            continue
        values = [
            UNSET
            if c is None or f is None
            else f[path]
            if path in f
            else _default(c, path)
            for c, f in zip(configs, flats)
        ]
        if any(v != values[0] for v in values[1:]):
            out.append({"path": path, "values": values})
    return out


def fmt_config_value(value: Any) -> str:
    """A diff cell: lists comma-joined, bools lower-case, floats short."""
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, float):
        return f"{value:g}"
    if isinstance(value, list):
        return "[" + ", ".join(fmt_config_value(v) for v in value) + "]"
    return str(value)
