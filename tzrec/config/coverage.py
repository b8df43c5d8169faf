"""Which pipeline-config fields the code reads: "nothing parses and is ignored".

Every field of ``EasyRecConfig`` (every message reachable from it, every oneof
member) must be either read by the code or listed as "not supported yet" in
``tzrec.config.UNSUPPORTED``. The code's side is kept beside the code: each
package that reads config fields has a ``fields_read.py`` module whose
``FIELDS_READ`` tuple names them as ``MessageName.field_name`` (a field is read
wherever its message appears, so ``MLP.hidden_units`` covers every MLP). This
module collects those lists and finds the fields that have neither.
"""

from __future__ import annotations

import importlib
import pkgutil
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path

from google.protobuf.descriptor import FieldDescriptor

import tzrec
from tzrec.config.proto_fields import AnyDescriptor

FIELDS_READ_MODULE = "fields_read"
_PACKAGE_ROOT = Path(tzrec.__file__).parent


@dataclass(frozen=True)
class FieldSite:
    """One place a field can be set: its dotted path and its message's field.

    Attributes:
        path: dotted field names from ``EasyRecConfig``, no indices
            (``model_config.deepfm.deep.hidden_units``).
        key: ``MessageName.field_name`` (``MLP.hidden_units``).

    """

    path: str
    key: str


def field_sites(descriptor: AnyDescriptor, prefix: str = "") -> Iterator[FieldSite]:
    """Yields every field reachable from ``descriptor``, depth first.

    Map fields are one field (their entry messages are not walked); a message
    already on the current path is not entered again, so recursive messages end.

    Args:
        descriptor: the root message, usually ``EasyRecConfig.DESCRIPTOR``.
        prefix: the dotted path of ``descriptor`` (internal).

    Yields:
        One FieldSite per (path, field).

    """
    yield from _walk(descriptor, prefix, (descriptor.full_name,))


def _walk(
    desc: AnyDescriptor, prefix: str, stack: tuple[str, ...]
) -> Iterator[FieldSite]:
    for fd in desc.fields:
        path = f"{prefix}.{fd.name}" if prefix else fd.name
        yield FieldSite(path, f"{desc.name}.{fd.name}")
        sub = fd.message_type
        if fd.cpp_type != FieldDescriptor.CPPTYPE_MESSAGE or sub is None:
            continue
        if sub.GetOptions().map_entry or sub.full_name in stack:
            continue
        yield from _walk(sub, path, (*stack, sub.full_name))


def fields_read() -> dict[str, list[str]]:
    """Collects ``FIELDS_READ`` from every ``fields_read`` module under tzrec.

    Returns:
        ``MessageName.field_name`` -> the packages that declare reading it.

    """
    read: dict[str, list[str]] = {}
    for package in reading_packages():
        module = importlib.import_module(f"{package}.{FIELDS_READ_MODULE}")
        for key in module.FIELDS_READ:
            read.setdefault(key, []).append(package)
    return read


def reading_packages() -> list[str]:
    """Packages of tzrec (``tzrec`` itself included) with a fields_read module."""
    found = []
    if (_PACKAGE_ROOT / f"{FIELDS_READ_MODULE}.py").exists():
        found.append("tzrec")
    for info in pkgutil.walk_packages([str(_PACKAGE_ROOT)], prefix="tzrec."):
        if (
            info.ispkg
            and (_package_dir(info.name) / f"{FIELDS_READ_MODULE}.py").exists()
        ):
            found.append(info.name)
    return found


def _package_dir(package: str) -> Path:
    return _PACKAGE_ROOT.joinpath(*package.split(".")[1:])


def package_source(package: str) -> str:
    """The Python source a package's ``FIELDS_READ`` claims to read from.

    ``tzrec`` means its top-level modules only; a subpackage means all of its
    modules, recursively. The ``fields_read`` module itself is left out, so a
    field named only there does not count as read.

    Args:
        package: a dotted package name from ``reading_packages``.

    Returns:
        The concatenated source text.

    """
    folder = _package_dir(package)
    files = folder.glob("*.py") if package == "tzrec" else folder.rglob("*.py")
    return "\n".join(
        f.read_text(encoding="utf-8")
        for f in sorted(files)
        if f.name != f"{FIELDS_READ_MODULE}.py"
    )


def unread_names(package: str, keys: list[str]) -> list[str]:
    """Keys whose field name does not occur as a word in the package's source.

    Args:
        package: a package from ``reading_packages``.
        keys: its ``FIELDS_READ`` entries.

    Returns:
        The entries whose field name the package's code never mentions.

    """
    source = package_source(package)
    return [
        k
        for k in keys
        if not re.search(rf"\b{re.escape(k.rpartition('.')[2])}\b", source)
    ]


def uncovered(
    descriptor: AnyDescriptor,
    read: Mapping[str, object],
    unsupported: Mapping[str, str],
) -> list[str]:
    """Paths of fields that are neither read nor rejected as not supported.

    A site is covered when its key is read, or when its path or any prefix of
    its path is an ``unsupported`` entry (everything under a rejected message
    is rejected with it).

    Args:
        descriptor: the root message (``EasyRecConfig.DESCRIPTOR``).
        read: ``MessageName.field_name`` keys the code reads.
        unsupported: path -> reason, as ``tzrec.config.UNSUPPORTED``.

    Returns:
        The uncovered paths, in schema order.

    """
    missing = []
    for site in field_sites(descriptor):
        if site.key in read or is_rejected(site.path, unsupported):
            continue
        missing.append(site.path)
    return missing


def is_rejected(path: str, unsupported: Mapping[str, str]) -> bool:
    """True when ``path`` or a prefix of it is an ``unsupported`` entry."""
    parts = path.split(".")
    return any(".".join(parts[:n]) in unsupported for n in range(1, len(parts) + 1))


def unknown_keys(descriptor: AnyDescriptor, read: Mapping[str, object]) -> list[str]:
    """``read`` keys that name no field reachable from ``descriptor``."""
    known = {site.key for site in field_sites(descriptor)}
    return sorted(k for k in read if k not in known)
