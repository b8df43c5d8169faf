"""Small facts about config messages that several config modules ask."""

from __future__ import annotations

from typing import TYPE_CHECKING, TypeAlias

from google.protobuf.descriptor import Descriptor, FieldDescriptor
from google.protobuf.message import Message

from tzrec.protos import feature_pb2

if TYPE_CHECKING:
    from google._upb import _message as _upb

# A message's DESCRIPTOR is the pure-Python class or upb's (whichever backend
# protobuf loaded at import); both have the attributes tzrec reads.
AnyDescriptor: TypeAlias = "Descriptor | _upb.Descriptor"
AnyFieldDescriptor: TypeAlias = "FieldDescriptor | _upb.FieldDescriptor"

# The messages a FeatureConfig (or a sequence_feature's sub-feature) holds.
FeatureMessage: TypeAlias = (
    feature_pb2.IdFeature
    | feature_pb2.RawFeature
    | feature_pb2.ComboFeature
    | feature_pb2.LookupFeature
    | feature_pb2.MatchFeature
    | feature_pb2.ExprFeature
    | feature_pb2.OverlapFeature
    | feature_pb2.TokenizeFeature
    | feature_pb2.CustomFeature
    | feature_pb2.KvDotProduct
    | feature_pb2.BoolMaskFeature
    | feature_pb2.CombineFeature
)


def feature_name_of(feature_config: feature_pb2.FeatureConfig) -> str:
    """The name of a feature config, whichever oneof member holds it.

    Args:
        feature_config: one ``feature_configs`` entry.

    Returns:
        ``feature_name``, or ``sequence_name`` for a ``sequence_feature``; ""
        when the entry is empty.

    """
    kind = feature_config.WhichOneof("feature")
    if kind is None:
        return ""
    sub = getattr(feature_config, kind)
    return sub.sequence_name if kind == "sequence_feature" else sub.feature_name


def in_use(msg: Message, name: str) -> bool:
    """True for a set message, a non-empty list, or a non-default scalar.

    Args:
        msg: the message holding the field.
        name: the field name.

    Returns:
        Whether the field is in use.

    """
    fd = msg.DESCRIPTOR.fields_by_name[name]
    if fd.is_repeated:
        return len(getattr(msg, name)) > 0
    if not msg.HasField(name):
        return False
    return fd.cpp_type == fd.CPPTYPE_MESSAGE or getattr(msg, name) != fd.default_value
