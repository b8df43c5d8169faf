"""``make_synthetic_data --from_config``: the columns a config reads, real labels."""

import json

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from tests.cli import REPO
from tzrec import config as config_lib
from tzrec.datasets.batch import BatchBuilder
from tzrec.datasets.synthetic_from_config import generate_from_config, oracle_auc
from tzrec.features.build import build_features
from tzrec.tools import make_synthetic_data

CONFIG = REPO / "tests" / "configs" / "teasyrec" / "feature_shapes.config"


@pytest.fixture(scope="module")
def generated(tmp_path_factory):
    out = tmp_path_factory.mktemp("from_config")
    config = config_lib.load_pipeline_config(str(CONFIG))
    meta = generate_from_config(config, str(out), 3000, 1000, seed=3)
    return config, out, meta


def _table(out, split):
    return pq.read_table(out / split / "part-0.parquet")


def test_column_types_follow_the_features(generated):
    _, out, _ = generated
    t = _table(out, "train")
    assert t.num_rows == 3000
    types = {f.name: f.type for f in t.schema}
    assert types["uid"] == pa.int64()  # num_buckets ids
    assert types["city"] == pa.string()  # hashed tokens
    assert set(t["gender"].to_pylist()) <= {"f", "m", "u"}  # vocabulary
    assert pa.types.is_floating(types["price"])
    assert pa.types.is_map(types["cat_scores"])
    assert pa.types.is_integer(types["cat_ids"].item_type)  # discrete lookup
    tags = t["tags"].to_pylist()[0].split("\x1d")
    assert len(tags) == 3  # multi-value ids
    assert all(":" in tok for tok in t["kw"].to_pylist()[0].split("\x1d"))
    assert all(len(v.split("\x1d")) == 3 for v in t["vec"].to_pylist()[:20])
    # Sub-features of one sequence share each row's length.
    items = [len(s.split("|")) if s else 0 for s in t["click_seq__item"].to_pylist()]
    ts = [len(s.split("|")) if s else 0 for s in t["click_seq__ts"].to_pylist()]
    assert items == ts and max(items) <= 10 and max(items) > 0
    assert min(np.asarray(t["uid"])) >= 0
    for col in ("click", "buy", "w"):
        assert col in types


def test_every_feature_encodes_through_the_batch_builder(generated):
    config, out, _ = generated
    features = build_features(config.feature_configs)
    builder = BatchBuilder(
        features,
        list(config.data_config.label_fields),
        list(config.data_config.sample_weight_fields),
    )
    batch = builder.build(_table(out, "eval").slice(0, 256))
    assert batch.labels["click"].shape == (256,)
    assert set(batch.sparse["deep"].keys()) >= {"uid", "cat_bucket", "tags"}
    assert batch.dense["vec"].shape == (256, 3)


def test_labels_come_from_a_learnable_truth(generated):
    _, out, meta = generated
    for label in ("click", "buy"):
        stats = meta["eval"]["labels"][label]
        assert 0.1 < stats["positive_rate"] < 0.45, stats
        assert stats["oracle_auc"] > 0.75, stats
    written = json.loads((out / "meta.json").read_text())
    assert written["columns"]["uid"] == "int64"


def test_oracle_auc_matches_brute_force():
    rng = np.random.default_rng(0)
    p, y = rng.random(300), rng.integers(0, 2, 300)
    pos, neg = p[y == 1], p[y == 0]
    brute = (pos[:, None] > neg[None, :]).mean()
    assert oracle_auc(p, y) == pytest.approx(brute)


def test_cli_from_config(tmp_path, capsys):
    rc = make_synthetic_data.main(
        [
            "--from_config",
            str(CONFIG),
            "--output_dir",
            str(tmp_path),
            "--num_rows",
            "500",
        ]
    )
    assert rc == 0
    assert "oracle AUC" in capsys.readouterr().out
    assert _table(tmp_path, "eval").num_rows == 50


def test_cli_bad_config_is_one_line_error(tmp_path, capsys):
    bad = tmp_path / "bad.config"
    bad.write_text("data_config { label_fields: 'y' }\n")
    rc = make_synthetic_data.main(
        [
            "--from_config",
            str(bad),
            "--output_dir",
            str(tmp_path / "o"),
            "--num_rows",
            "10",
        ]
    )
    err = capsys.readouterr().err
    assert rc == 2 and err.startswith("error: no feature_configs") and "\n" == err[-1]
