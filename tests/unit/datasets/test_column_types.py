"""Real column types through the real readers: every width, encoding and null.

Each case writes one Parquet or CSV file, reads it with TzrecDataset and
compares the encoded batch with the values computed by hand.
"""

import numpy as np
import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq
import pytest
from google.protobuf import text_format

from tzrec.datasets.batch import BatchBuilder
from tzrec.datasets.dataset import TzrecDataset
from tzrec.features.build import build_features
from tzrec.protos import data_pb2, feature_pb2

BIG = [
    0,
    20_753_726,
    5_000_000_000,
    2**53 + 1,
]  # past float32's and float64's exact range


def _read(tmp_path, kind, table, features):
    feats = build_features(
        [text_format.Parse(t, feature_pb2.FeatureConfig()) for t in features]
    )
    table = table.append_column("label", pa.array([0] * table.num_rows, pa.int64()))
    if kind == "parquet":
        pq.write_table(table, tmp_path / "d.parquet")
        dc = data_pb2.DataConfig(
            dataset_type=data_pb2.ParquetDataset, label_fields=["label"]
        )
    else:
        pacsv.write_csv(table, tmp_path / "d.csv")
        dc = data_pb2.DataConfig(
            dataset_type=data_pb2.CsvDataset, label_fields=["label"], with_header=True
        )
    ds = TzrecDataset(str(tmp_path), dc, BatchBuilder(feats, ["label"]), 64)
    (batch,) = list(ds)
    return batch


RAW_CASES = {
    **{
        t: (pa.array([0, 1, None, 100], getattr(pa, t)()), [0, 1, 7, 100])
        for t in ("int8", "int16", "int32", "uint8", "uint16", "uint32")
    },
    "int64": (pa.array(BIG + [None], pa.int64()), BIG + [7]),
    "uint64": (pa.array(BIG + [2**64 - 1], pa.uint64()), BIG + [2**64 - 1]),
    "float16": (pa.array(np.array([0.5, 1.25, 65504], np.float16)), [0.5, 1.25, 65504]),
    "float32": (pa.array([0.5, None, 3e38], pa.float32()), [0.5, 7, 3e38]),
    "float64": (pa.array([0.5, None, 1e300], pa.float64()), [0.5, 7, 1e300]),
    "dictionary": (
        pa.array(BIG + [None], pa.int64()).dictionary_encode(),
        BIG + [7],
    ),
    "large_string": (
        pa.array(["1.5", None, "5000000000"], pa.large_string()),
        [1.5, 7, 5e9],
    ),
    "all_null": (pa.nulls(3), [7, 7, 7]),
}


@pytest.mark.parametrize("kind", ["parquet", "csv"])
@pytest.mark.parametrize("case", sorted(RAW_CASES))
def test_raw_feature_reads_the_column_type(tmp_path, kind, case):
    column, expected = RAW_CASES[case]
    # A CSV holds text: pyarrow infers int64, or double past int64 (uint64's
    # top values), null for an empty column; the values must come out the same.
    table = pa.table({"x": column})
    batch = _read(
        tmp_path, kind, table, ['raw_feature { feature_name: "x" default_value: "7" }']
    )
    got = batch.dense["x"].squeeze(1).numpy()
    # float16 and float32 keep the float32 the value rounds to; 1e300 is inf.
    with np.errstate(over="ignore"):
        want = np.array(expected, np.float64).astype(np.float32)
    np.testing.assert_array_equal(got, want)


def test_raw_feature_bucketizes_counts_past_float32(tmp_path):
    table = pa.table({"x": pa.array(BIG, pa.int64())})
    batch = _read(
        tmp_path,
        "parquet",
        table,
        [
            'raw_feature { feature_name: "x" boundaries: [1, 1e7, 1e9] '
            "embedding_dim: 4 }"
        ],
    )
    assert batch.sparse["deep"].values().tolist() == [0, 2, 3, 3]


def test_raw_feature_large_list_values(tmp_path):
    table = pa.table(
        {"x": pa.array([[1, 2], None, [5_000_000_000, 4]], pa.large_list(pa.int64()))}
    )
    batch = _read(
        tmp_path,
        "parquet",
        table,
        ['raw_feature { feature_name: "x" value_dim: 2 default_value: "7" }'],
    )
    assert batch.dense["x"].tolist() == [[1, 2], [7, 7], [5e9, 4]]


ID_PLAIN = pa.array([5, 2**63 - 1, 2**40], pa.int64())
ID_CASES = {
    "int64": ID_PLAIN,
    "uint64": pa.array([5, 2**63 - 1, 2**40], pa.uint64()),
    "int32": pa.array([5, 2**31 - 1, 7], pa.int32()),
    "dictionary_int": ID_PLAIN.dictionary_encode(),
    "string": pa.array(["a", "héllo", "x" * 300]),
    "large_string": pa.array(["a", "héllo", "x" * 300], pa.large_string()),
    "dictionary_string": pa.array(["a", "héllo", "x" * 300]).dictionary_encode(),
}
HASH = 'id_feature { feature_name: "x" hash_bucket_size: 1000003 embedding_dim: 4 }'


def _ids(tmp_path, kind, column, feature=HASH):
    batch = _read(tmp_path, kind, pa.table({"x": column}), [feature])
    kjt = batch.sparse["deep"]
    return kjt.values().tolist(), kjt.lengths().tolist()


@pytest.mark.parametrize("kind", ["parquet", "csv"])
@pytest.mark.parametrize("case", sorted(ID_CASES))
def test_id_feature_reads_the_column_type(tmp_path, kind, case):
    column = ID_CASES[case]
    text = "string" in case
    plain = pa.array(["a", "héllo", "x" * 300]) if text else ID_PLAIN
    if case == "int32":
        plain = pa.array([5, 2**31 - 1, 7], pa.int64())
    (tmp_path / "plain").mkdir()
    want = _ids(tmp_path / "plain", "parquet", plain)
    got = _ids(tmp_path, kind, column)
    assert got == want
    assert got[1] == [1, 1, 1]
    assert len(set(got[0])) == 3


@pytest.mark.parametrize("kind", ["parquet", "csv"])
def test_id_feature_all_null_column_takes_the_default(tmp_path, kind):
    feature = HASH.replace("embedding_dim: 4", 'embedding_dim: 4 default_value: "0"')
    ids, lengths = _ids(tmp_path, kind, pa.nulls(3), feature)
    assert lengths == [1, 1, 1] and len(set(ids)) == 1
    num = 'id_feature { feature_name: "x" num_buckets: 10 embedding_dim: 4 }'
    (tmp_path / "num").mkdir()
    assert _ids(tmp_path / "num", kind, pa.nulls(3), num) == ([], [0, 0, 0])


def test_id_feature_large_list_of_ids(tmp_path):
    column = pa.array([[1, 2**62], None, [3]], pa.large_list(pa.uint64()))
    num = 'id_feature { feature_name: "x" num_buckets: 10 embedding_dim: 4 }'
    ids, lengths = _ids(tmp_path, "parquet", column, num)
    # 2**62 is outside [0, 10): dropped from its bag, as documented.
    assert (ids, lengths) == ([1, 3], [1, 0, 1])
