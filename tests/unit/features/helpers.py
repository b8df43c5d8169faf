"""Builds features from text-format configs for the feature tests."""

from google.protobuf import text_format

from tzrec.features.build import build_features
from tzrec.protos import feature_pb2


def feature(text: str):
    """The (first) feature of one ``feature_configs`` entry."""
    return features(text)[0]


def features(*texts: str) -> list:
    """All features of the given ``feature_configs`` entries."""
    return build_features(
        [text_format.Parse(t, feature_pb2.FeatureConfig()) for t in texts]
    )
