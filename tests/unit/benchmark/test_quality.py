"""Wiring of the quality benchmark: id fields, results, summary (no FuxiCTR)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from google.protobuf import text_format

from tzrec.benchmark.quality import __main__ as cli
from tzrec.benchmark.quality import fields, systems
from tzrec.protos import pipeline_pb2
from tzrec.utils.errors import ConfigError

_CONFIG = """
train_input_path: "{path}"
eval_input_path: "{path}"
data_config {{ batch_size: 4 label_fields: "label" }}
feature_configs {{ id_feature {{ feature_name: "user" num_buckets: 5 }} }}
feature_configs {{ id_feature {{ feature_name: "genres" num_buckets: 4
                                pooling: "mean" }} }}
feature_configs {{ id_feature {{ feature_name: "tags" num_buckets: 3
                                separator: "|" }} }}
feature_configs {{ raw_feature {{ feature_name: "count" boundaries: [0.5, 2.5]
                                 default_value: "-1" }} }}
"""


def _config(tmp_path: Path, feature: str = "") -> pipeline_pb2.EasyRecConfig:
    path = tmp_path / "rows.parquet"
    pq.write_table(
        pa.table(
            {
                "label": [1, 0, 1, 0],
                "user": [0, 4, None, 9],
                "genres": [[1, 2], [], None, [3, 7]],
                "tags": ["0|2", "", None, "1"],
                "count": [0.0, 1.0, None, 3.0],
            }
        ),
        path,
    )
    text = _CONFIG.format(path=path) + feature
    return text_format.Parse(text, pipeline_pb2.EasyRecConfig())


def test_load_rows_matches_the_configs_ids(tmp_path: Path) -> None:
    rows = fields.load_rows(_config(tmp_path), "train")
    by_name = {f.name: f for f in rows.fields}
    np.testing.assert_array_equal(rows.labels, [1, 0, 1, 0])
    user = by_name["user"]
    # Null and out-of-range ids go to the extra "missing" row 5.
    assert user.vocab == 6 and not user.multi
    np.testing.assert_array_equal(user.ids, [0, 4, 5, 5])
    genres = by_name["genres"]
    assert genres.multi and genres.pooling == "mean" and genres.vocab == 5
    pad = fields.PAD
    # An empty or null list and the out-of-range 7 drop out; an empty row
    # gets the missing id.
    np.testing.assert_array_equal(genres.ids, [[1, 2], [4, pad], [4, pad], [3, pad]])
    np.testing.assert_array_equal(
        by_name["tags"].ids, [[0, 2], [3, pad], [3, pad], [1, pad]]
    )
    # Buckets [.., 0.5), [0.5, 2.5), [2.5, ..); null -> default -1 -> bucket 0.
    np.testing.assert_array_equal(by_name["count"].ids, [0, 1, 0, 2])
    assert by_name["count"].vocab == 3


def test_load_rows_refuses_what_it_cannot_mirror(tmp_path: Path) -> None:
    extra = 'feature_configs { id_feature { feature_name: "h" hash_bucket_size: 9 } }'
    with pytest.raises(ConfigError, match="num_buckets"):
        fields.load_rows(_config(tmp_path, extra), "train")


def test_result_rows_and_summary() -> None:
    evals = [
        {"auc": 0.70, "logloss": 0.6},
        {"auc": 0.75, "logloss": 0.5},
        {"auc": 0.74, "logloss": 0.55},
    ]
    rows = [
        {**systems.Result("movielens", "tzrec", seed, evals, 1.0).row(), "tag": ""}
        for seed in (1, 2)
    ]
    assert rows[0]["best_auc"] == 0.75 and rows[0]["best_logloss"] == 0.5
    assert rows[0]["last_auc"] == 0.74
    table = cli._summary(rows, {"movielens": 0.80})
    assert "0.7500" in table.splitlines()[1] and "0.0500" in table.splitlines()[1]


def test_fields_npz_round_trip(tmp_path: Path) -> None:
    rows = fields.load_rows(_config(tmp_path), "train")
    specs = systems.write_fields(rows, rows, str(tmp_path / "f.npz"))
    data = np.load(tmp_path / "f.npz")
    assert [s["name"] for s in specs] == ["user", "genres", "tags", "count"]
    assert specs[1] == {"name": "genres", "vocab": 5, "multi": True, "pooling": "mean"}
    np.testing.assert_array_equal(data["eval_1"], rows.fields[1].ids)


@pytest.mark.slow
def test_reference_driver_trains_the_configs_deepfm(tmp_path: Path) -> None:
    from tzrec.benchmark.quality import reference_driver

    config = _config(tmp_path)
    for fc in config.feature_configs:
        getattr(fc, fc.WhichOneof("feature")).embedding_dim = 4
    config.model_config.deepfm.deep.hidden_units.extend([8])
    config.train_config.num_epochs = 2
    config.train_config.sparse_optimizer.adagrad_optimizer.lr = 0.01
    config.train_config.dense_optimizer.adam_optimizer.lr = 0.001
    config.data_config.shuffle = True
    rows = fields.load_rows(config, "train")
    evals, seconds = reference_driver.run(config, (rows, rows), seed=1)
    assert len(evals) == 2 and seconds > 0
    for e in evals:
        assert 0.0 <= e["auc"] <= 1.0 and e["logloss"] > 0
