"""Batch building from real Parquet and CSV files, checked by hand."""

import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq
import pytest
from google.protobuf import text_format

from tzrec.datasets.batch import BatchBuilder
from tzrec.datasets.dataset import TzrecDataset, worker_skips
from tzrec.features.build import build_features
from tzrec.protos import data_pb2, feature_pb2
from tzrec.utils.errors import DataError

FEATURES = [
    'id_feature { feature_name: "user" num_buckets: 100 embedding_dim: 4 }',
    'id_feature { feature_name: "tags" vocab_list: ["a", "b", "c"] '
    'embedding_dim: 4 separator: "|" }',
    'raw_feature { feature_name: "price" }',
    'raw_feature { feature_name: "age" boundaries: [18, 30] embedding_dim: 4 }',
]

TABLE = pa.table(
    {
        "user": pa.array([5, 7, None, 9], pa.int64()),
        "tags": pa.array(["a|c", "", "b", "zz|a"]),
        "price": pa.array([1.0, None, 2.5, 4.0]),
        "age": pa.array([17, 18, 45, None], pa.int64()),
        "label": pa.array([1, 0, 0, 1], pa.int64()),
    }
)


def _features():
    return build_features(
        [text_format.Parse(t, feature_pb2.FeatureConfig()) for t in FEATURES]
    )


def _data_config(kind, **kw):
    dc = data_pb2.DataConfig(dataset_type=kind, label_fields=["label"], **kw)
    return dc


def _check_batch(batch):
    kjt = batch.sparse["deep"]
    assert kjt.keys() == ["user", "tags", "age"]
    # user: 5, 7, (missing), 9
    # tags: [a, c], [], [b], [zz->3 (oov), a]
    # age: 17 -> 0, 18 -> 1, 45 -> 2, missing -> 0 -> bucket 0
    assert kjt.values().tolist() == [5, 7, 9, 0, 2, 1, 3, 0, 0, 1, 2, 0]
    assert kjt.lengths().tolist() == [1, 1, 0, 1, 2, 0, 1, 2, 1, 1, 1, 1]
    assert batch.dense["price"].squeeze(1).tolist() == [1.0, 0.0, 2.5, 4.0]
    assert batch.labels["label"].tolist() == [1.0, 0.0, 0.0, 1.0]
    assert batch.batch_size == 4


def test_parquet_batch_hand_computed(tmp_path):
    pq.write_table(TABLE, tmp_path / "a.parquet")
    builder = BatchBuilder(_features(), ["label"])
    ds = TzrecDataset(str(tmp_path), _data_config(data_pb2.ParquetDataset), builder, 4)
    (batch,) = list(ds)
    _check_batch(batch)


def test_csv_batch_hand_computed(tmp_path):
    pacsv.write_csv(TABLE, tmp_path / "a.csv")
    builder = BatchBuilder(_features(), ["label"])
    dc = _data_config(data_pb2.CsvDataset, with_header=True)
    dc.input_fields.add(input_name="tags", input_type=data_pb2.STRING)
    ds = TzrecDataset(str(tmp_path / "a.csv"), dc, builder, 4)
    (batch,) = list(ds)
    _check_batch(batch)


def test_rows_split_across_shares_without_overlap(tmp_path):
    n = 103
    t = pa.table({"user": pa.array(range(n), pa.int64()), "label": [0] * n})
    pq.write_table(t.slice(0, 50), tmp_path / "a.parquet", row_group_size=16)
    pq.write_table(t.slice(50), tmp_path / "b.parquet", row_group_size=7)
    f = build_features(
        [
            text_format.Parse(
                FEATURES[0].replace("100", "1000"), feature_pb2.FeatureConfig()
            )
        ]
    )
    seen = []
    for rank in range(2):
        builder = BatchBuilder(f, ["label"])
        ds = TzrecDataset(
            str(tmp_path), _data_config(data_pb2.ParquetDataset), builder, 8, rank, 2
        )
        for b in ds:
            seen += b.sparse["deep"].values().tolist()
    assert sorted(seen) == list(range(n))


def test_worker_skips_follow_round_robin():
    # Two workers with 3 and 1 batches: order w0, w1, w0, w0.
    assert worker_skips([3, 1], 0) == [0, 0]
    assert worker_skips([3, 1], 1) == [1, 0]
    assert worker_skips([3, 1], 2) == [1, 1]
    assert worker_skips([3, 1], 3) == [2, 1]
    assert worker_skips([3, 1], 4) == [3, 1]


def test_skip_batches_resumes_exactly(tmp_path):
    n = 40
    t = pa.table({"user": pa.array(range(n), pa.int64()), "label": [0] * n})
    pq.write_table(t, tmp_path / "a.parquet", row_group_size=9)
    f = build_features(
        [
            text_format.Parse(
                FEATURES[0].replace("100", "1000"), feature_pb2.FeatureConfig()
            )
        ]
    )
    ds = TzrecDataset(
        str(tmp_path),
        _data_config(data_pb2.ParquetDataset),
        BatchBuilder(f, ["label"]),
        6,
    )
    full = [b.sparse["deep"].values().tolist() for b in ds]
    ds.skip_batches = 3
    rest = [b.sparse["deep"].values().tolist() for b in ds]
    assert rest == full[3:]


def test_nan_label_is_a_data_error(tmp_path):
    t = TABLE.set_column(4, "label", pa.array([1, None, 0, 1], pa.int64()))
    pq.write_table(t, tmp_path / "a.parquet")
    ds = TzrecDataset(
        str(tmp_path),
        _data_config(data_pb2.ParquetDataset),
        BatchBuilder(_features(), ["label"]),
        4,
    )
    with pytest.raises(DataError, match='column "label"'):
        list(ds)


def test_no_files_is_a_data_error(tmp_path):
    with pytest.raises(DataError, match="matches no data files"):
        TzrecDataset(
            str(tmp_path / "nope*"),
            _data_config(data_pb2.ParquetDataset),
            BatchBuilder(_features(), ["label"]),
            4,
        )


def test_every_rank_gets_the_same_number_of_batches(tmp_path):
    # 35 rows over 2 ranks: 17 and 18 rows; with batch 17 rank 1's extra row
    # joins its last batch instead of making a second, 1-row batch.
    n = 35
    t = pa.table({"user": pa.array(range(n), pa.int64()), "label": [0] * n})
    pq.write_table(t, tmp_path / "a.parquet")
    f = build_features(
        [
            text_format.Parse(
                FEATURES[0].replace("100", "1000"), feature_pb2.FeatureConfig()
            )
        ]
    )
    sizes, seen = [], []
    for rank in range(2):
        ds = TzrecDataset(
            str(tmp_path),
            _data_config(data_pb2.ParquetDataset),
            BatchBuilder(f, ["label"]),
            17,
            rank,
            2,
        )
        batches = list(ds)
        assert len(batches) == ds.num_batches() == 1
        sizes.append([b.batch_size for b in batches])
        seen += [v for b in batches for v in b.sparse["deep"].values().tolist()]
    assert sizes == [[17], [18]]
    assert sorted(seen) == list(range(n))
