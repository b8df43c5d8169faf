"""RawFeature normalizers, missing values and sequences, hand-computed."""

import numpy as np
import pyarrow as pa
import pytest

from tests.unit.features.helpers import feature
from tzrec.features.normalizer import parse_normalizer
from tzrec.utils.errors import ConfigError, DataError


def _raw(extra: str):
    return feature(f'raw_feature {{ feature_name: "x" {extra} }}')


def test_log10_normalizer_with_threshold_and_default():
    f = _raw('normalizer: "method=log10,threshold=1e-10,default=-10"')
    out = f.encode_dense({"x": pa.array([100.0, 0.0, None, 0.001])})
    # missing -> default_value 0 -> below threshold -> -10
    np.testing.assert_allclose(out[:, 0], [2.0, -10.0, -10.0, -3.0], rtol=1e-6)


def test_zscore_and_minmax():
    z = _raw('normalizer: "method=zscore,mean=1,standard_deviation=2"')
    np.testing.assert_allclose(
        z.encode_dense({"x": pa.array([3.0, 1.0])})[:, 0], [1, 0]
    )
    m = _raw('normalizer: "method=minmax,min=0,max=4"')
    np.testing.assert_allclose(
        m.encode_dense({"x": pa.array([1.0, 4.0])})[:, 0], [0.25, 1]
    )


def test_normalizer_then_boundaries():
    f = _raw(
        'normalizer: "method=log10" boundaries: [0, 1] embedding_dim: 4 '
        'default_value: "1"'
    )
    # log10: 0.5 -> -0.30 (bucket 0), 5 -> 0.70 (1), 50 -> 1.70 (2), missing -> 1 -> 0
    sv = f.encode_sparse({"x": pa.array([0.5, 5.0, 50.0, None])})
    assert sv.values.tolist() == [0, 1, 2, 1]


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("method=expression,expr=open(x)", 'unknown function "open"'),
        ("method=log2", 'unknown normalizer method "log2"'),
        ("method=zscore,mean=1,std=2", "unknown normalizer key"),
        ("method=zscore,standard_deviation=0", "standard_deviation is 0"),
        ("method=minmax,min=1", "needs max"),
        ("method=minmax,min=2,max=1", "max > min"),
        ("method=log10,threshold=abc", "not a number"),
    ],
)
def test_bad_normalizers_are_config_errors(text, message):
    with pytest.raises(ConfigError, match=message):
        parse_normalizer(text, "feature x.normalizer")


def test_nan_and_empty_are_missing_and_bad_text_is_a_data_error():
    f = _raw('default_value: "-1"')
    out = f.encode_dense({"x": pa.array(["2.5", "", None, "nan"])})
    assert out[:, 0].tolist() == [2.5, -1.0, -1.0, -1.0]
    with pytest.raises(DataError, match='unparseable number.*column "x"'):
        f.encode_dense({"x": pa.array(["abc"])})


def test_sequence_raw_dense_is_padded_per_position():
    f = feature(
        'sequence_raw_feature { feature_name: "p" sequence_length: 3 '
        'default_value: "-1" }'
    )
    assert not f.is_sparse and f.is_sequence
    values, lengths = f.encode_sequence_dense(
        {"p": pa.array(["1;2;3;4", "", "5;;6", None])}
    )
    assert values.shape == (4, 3, 1)
    # Row 2's empty middle position takes the default; rows 1 and 3 are empty.
    assert values[:, :, 0].tolist() == [[1, 2, 3], [0, 0, 0], [5, -1, 6], [0, 0, 0]]
    assert lengths.tolist() == [3, 0, 3, 0]


def test_sequence_raw_value_dim_two():
    f = feature(
        'sequence_raw_feature { feature_name: "e" sequence_length: 2 value_dim: 2 '
        'separator: "," }'
    )
    values, lengths = f.encode_sequence_dense({"e": pa.array(["1,2;3,4"])})
    assert values.tolist() == [[[1, 2], [3, 4]]]
    with pytest.raises(DataError, match="expected value_dim=2"):
        f.encode_sequence_dense({"e": pa.array(["1,2,3"])})


def test_sequence_raw_bucketized_gives_one_id_per_position():
    f = feature(
        'sequence_raw_feature { feature_name: "p" sequence_length: 4 '
        "boundaries: [2.5] embedding_dim: 4 }"
    )
    sv = f.encode_sparse({"p": pa.array(["1;3", "9"])})
    assert sv.values.tolist() == [0, 1, 1]
    assert sv.lengths.tolist() == [2, 1]
