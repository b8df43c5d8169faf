"""Batch order through real DataLoader workers: resume at any batch, shuffle.

Each row carries its row number as an id, so a batch's ids say exactly which
rows it holds and in which order.
"""

import random

import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq
import pytest
from google.protobuf import text_format

from tzrec.datasets.batch import BatchBuilder
from tzrec.datasets.dataset import TzrecDataset, create_dataloader, share_of_worker
from tzrec.features.build import build_features
from tzrec.protos import data_pb2, feature_pb2
from tzrec.utils.errors import DataError

ROWS = 203
SEED = random.SystemRandom().randrange(10**6)


def _write(tmp_path, kind):
    t = pa.table({"user": pa.array(range(ROWS), pa.int64()), "label": [0] * ROWS})
    if kind == "parquet":
        pq.write_table(t.slice(0, 120), tmp_path / "a.parquet", row_group_size=25)
        pq.write_table(t.slice(120), tmp_path / "b.parquet", row_group_size=30)
        return data_pb2.DataConfig(
            dataset_type=data_pb2.ParquetDataset, label_fields=["label"]
        )
    pacsv.write_csv(t.slice(0, 90), tmp_path / "a.csv")
    pacsv.write_csv(t.slice(90, 60), tmp_path / "b.csv")
    pacsv.write_csv(t.slice(150), tmp_path / "c.csv")
    return data_pb2.DataConfig(
        dataset_type=data_pb2.CsvDataset, label_fields=["label"], with_header=True
    )


def _dataset(tmp_path, kind, workers, **kw):
    dc = _write(tmp_path, kind)
    text = 'id_feature { feature_name: "user" num_buckets: 1000 embedding_dim: 4 }'
    f = build_features([text_format.Parse(text, feature_pb2.FeatureConfig())])
    return TzrecDataset(
        str(tmp_path), dc, BatchBuilder(f, ["label"]), 8, num_workers=workers, **kw
    )


def _ids(ds, epoch=0, skip=0):
    ds.epoch, ds.skip_batches = epoch, skip
    return [b.sparse["deep"].values().tolist() for b in create_dataloader(ds)]


def test_share_of_worker_rotates_by_the_consumed_batches():
    assert [share_of_worker(w, 2, 61) for w in range(2)] == [1, 0]
    assert [share_of_worker(w, 3, 61) for w in range(3)] == [1, 2, 0]
    assert [share_of_worker(w, 3, 63) for w in range(3)] == [0, 1, 2]
    assert share_of_worker(0, 0, 7) == 0


@pytest.mark.parametrize(
    ("workers", "shuffle"), [(1, False), (2, False), (2, True), (3, True)]
)
def test_resume_at_every_batch_continues_the_same_order(tmp_path, workers, shuffle):
    # Odd and even skips alike: the loader must not restart at worker 0's share.
    ds = _dataset(
        tmp_path, "parquet", workers, shuffle=shuffle, shuffle_buffer_size=3, seed=SEED
    )
    full = _ids(ds, epoch=1)
    assert sorted(sum(full, [])) == list(range(ROWS)), f"seed {SEED}"
    rng = random.Random(SEED)
    skips = {1, len(full) - 1, rng.randrange(1, len(full) // 2) * 2 + 1}
    for skip in sorted(skips):
        assert _ids(ds, epoch=1, skip=skip) == full[skip:], f"skip {skip} seed {SEED}"


def test_shuffle_changes_the_order_each_epoch_and_keeps_every_row(tmp_path):
    ds = _dataset(tmp_path, "parquet", 2, shuffle=True, shuffle_buffer_size=4, seed=3)
    epochs = [_ids(ds, epoch=e) for e in range(3)]
    for ids in epochs:
        assert sorted(sum(ids, [])) == list(range(ROWS))
    assert epochs[0] != epochs[1] != epochs[2]
    assert _ids(ds, epoch=1) == epochs[1]  # the same epoch, the same order
    plain = _dataset(tmp_path, "parquet", 2)
    assert _ids(plain, epoch=0) == _ids(plain, epoch=1)
    assert _ids(plain) != epochs[0]


def test_shuffle_reorders_files_and_mixes_rows_within_a_window(tmp_path):
    ds = _dataset(tmp_path, "csv", 0, shuffle=True, shuffle_buffer_size=2, seed=11)
    orders = [_ids(ds, epoch=e) for e in range(6)]
    firsts = {ids[0][0] // 90 if ids[0][0] < 150 else 2 for ids in orders}
    assert len(firsts) > 1, "the file read first never changes"
    for ids in orders:
        assert sorted(sum(ids, [])) == list(range(ROWS))
        # A window holds 2 batches: 16 rows, all from one stretch of 16 rows
        # of the epoch's file order (mixed inside, never across windows).
        window = sorted(ids[0] + ids[1])
        assert window != ids[0] + ids[1]
    seeds = {
        str(_ids(_dataset(tmp_path, "csv", 0, shuffle=True, seed=s))) for s in (1, 2)
    }
    assert len(seeds) == 2


def test_shuffle_buffer_size_zero_reorders_row_groups_only(tmp_path):
    ds = _dataset(tmp_path, "parquet", 0, shuffle=True, shuffle_buffer_size=0, seed=5)
    ids = sum(_ids(ds), [])
    assert sorted(ids) == list(range(ROWS)) and ids != list(range(ROWS))
    # Row groups of 25 / 30 rows stay whole and in order inside.
    runs = [ids[0]] + [b for a, b in zip(ids, ids[1:]) if b != a + 1]
    assert all(r in (0, 25, 50, 75, 100, 120, 150, 180) for r in runs), runs


def test_a_resume_with_another_layout_is_warned(tmp_path, caplog):
    from tzrec.train.state import TrainState
    from tzrec.train.trainer import warn_if_layout_changed

    saved = _dataset(tmp_path, "parquet", 0).layout()
    state = TrainState.from_dict(
        TrainState(step=5, batch_in_epoch=5, data_layout=saved).to_dict()
    )
    (tmp_path / "two").mkdir()
    with caplog.at_level("WARNING", logger="tzrec"):
        warn_if_layout_changed(state, _dataset(tmp_path / "two", "parquet", 2), "ckpt")
    assert "another data layout (num_workers 1 -> 2)" in caplog.text
    caplog.clear()
    warn_if_layout_changed(state, _dataset(tmp_path / "two", "parquet", 0), "ckpt")
    assert caplog.text == ""


@pytest.mark.parametrize("shuffle", [False, True])
def test_a_bad_row_is_located_in_its_file_when_shuffled(tmp_path, shuffle):
    ds = _dataset(tmp_path, "parquet", 0, shuffle=shuffle, seed=SEED)
    labels = [0] * 83 + [None] + [0] * 36  # row 83 of a.parquet (120 rows)
    t = pa.table({"user": pa.array(range(120), pa.int64()), "label": labels})
    pq.write_table(t, tmp_path / "a.parquet", row_group_size=25)
    ds.reader = type(ds.reader)(ds.reader.files, ds.reader.columns)
    with pytest.raises(DataError, match=r"row index 83 of .*a\.parquet"):
        for epoch in range(3):
            _ids(ds, epoch=epoch)
