import itertools
import json
import os

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv
import pyarrow.dataset as ds
import pytest

from tzrec.datasets import synthetic, synthetic_truth
from tzrec.tools import make_synthetic_data

N, N_EVAL, SEED = 5000, 400, 7


def _read(d, split, fmt="parquet"):
    if fmt == "parquet":
        return ds.dataset(str(d / split), format="parquet").to_table()
    convert = pacsv.ConvertOptions(column_types=synthetic.SCHEMA)
    files = sorted((d / split).glob("part-*.csv"))
    return pa.concat_tables(pacsv.read_csv(f, convert_options=convert) for f in files)


def _brute_auc(scores, labels):
    pos, neg = scores[labels == 1], scores[labels == 0]
    diff = pos[:, None] - neg[None, :]
    return ((diff > 0).sum() + 0.5 * (diff == 0).sum()) / (len(pos) * len(neg))


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    d = tmp_path_factory.mktemp("syn")
    meta = synthetic.generate(str(d), N, N_EVAL, seed=SEED, num_files=2)
    return d, meta


def test_schema_types_and_ranges(data):
    d, meta = data
    t = _read(d, "train")
    assert t.schema == synthetic.SCHEMA
    assert len(t) == N and len(_read(d, "eval")) == N_EVAL
    assert meta["columns"] == {f.name: str(f.type) for f in synthetic.SCHEMA}
    assert sorted(p.name for p in (d / "train").iterdir()) == [
        "part-00000.parquet",
        "part-00001.parquet",
    ]
    for col, card in meta["cardinalities"].items():
        if col in ("item_history", "tags"):
            sep = meta["separators"][col]
            tokens = pc.list_flatten(pc.split_pattern(t[col], sep))
            tokens = pc.filter(tokens, pc.not_equal(tokens, ""))
            ids = tokens.cast(pa.int64()).to_numpy()
            lengths = pc.list_value_length(pc.split_pattern(t[col], sep))
            assert pc.max(lengths).as_py() <= 20
        else:
            ids = t[col].drop_null().to_numpy()
        assert ids.min() >= 0 and ids.max() < card, col
    counts = np.bincount(t["cat_2"].drop_null().to_numpy())
    assert counts.max() > 0.01 * N  # Zipf: a head id is frequent ...
    assert (counts > 0).sum() > 300  # ... and the tail is long
    assert np.all(t["conversion"].to_numpy() <= t["label"].to_numpy())
    assert set(np.unique(t["label"].to_numpy())) == {0, 1}
    assert (t["price"].to_numpy() > 0).all()
    assert pc.max(pc.list_value_length(pc.split_pattern(t["tags"], "\x1d"))).as_py()


def test_null_fractions(data):
    d, _ = data
    t = _read(d, "train")
    for col in synthetic.INT_COLUMNS:
        assert 0.02 < t[col].null_count / N < 0.45, col
    cat_nulls = [t[c].null_count / N for c in synthetic.CAT_COLUMNS]
    assert sum(f > 0.01 for f in cat_nulls) >= 4
    assert max(cat_nulls) < 0.35
    for col in ("label", "conversion", "user_id", "item_id", "item_history", "tags"):
        assert t[col].null_count == 0, col
    assert pc.sum(pc.equal(t["item_history"], "")).as_py() > 0


def test_rates_in_range(data):
    _, meta = data
    assert 0.2 < meta["positive_rate"] < 0.3
    assert 0.15 < meta["eval_positive_rate"] < 0.35  # only 400 rows
    assert 0.0 < meta["conversion_rate"] < 0.5 * meta["positive_rate"]
    assert 0.7 < meta["oracle_auc"] < 0.9
    assert 0.6 < meta["oracle_auc_conversion"] < 0.95


def test_oracle_auc_handles_ties():
    rng = np.random.default_rng(0)
    scores = rng.integers(0, 5, 300).astype(float)  # many ties
    labels = rng.random(300) < 0.3
    got = synthetic.oracle_auc(scores, labels)
    assert got == pytest.approx(_brute_auc(scores, labels), abs=1e-12)
    assert synthetic.oracle_auc(np.array([0.5, 0.5]), np.array([0, 1])) == 0.5
    assert np.isnan(synthetic.oracle_auc(np.array([0.1, 0.2]), np.array([1, 1])))


def test_meta_oracle_auc_matches_true_probabilities(data):
    d, meta = data
    # Redraw the eval rows' true probabilities from the same seeded stream.
    truth = synthetic_truth.draw_truth(SEED)
    rng = np.random.default_rng([SEED, 2, 0, 0])
    rows = synthetic_truth.draw_rows(truth, rng, N_EVAL)
    p, q = synthetic_truth.probabilities(truth, rows)
    labels = _read(d, "eval")["label"].to_numpy()
    np.testing.assert_array_equal(labels, rng.random(N_EVAL) < p)
    assert meta["oracle_auc"] == pytest.approx(_brute_auc(p, labels), abs=1e-12)
    conv = _read(d, "eval")["conversion"].to_numpy()
    brute = _brute_auc(p * q, conv)
    assert meta["oracle_auc_conversion"] == pytest.approx(brute, abs=1e-12)


def test_deterministic_for_a_seed_and_differs_across_seeds(data, tmp_path):
    d, meta = data
    again = synthetic.generate(str(tmp_path / "a"), N, N_EVAL, seed=SEED, num_files=2)
    assert again == meta
    assert _read(tmp_path / "a", "train").equals(_read(d, "train"))
    assert _read(tmp_path / "a", "eval").equals(_read(d, "eval"))
    other = synthetic.generate(str(tmp_path / "b"), N, N_EVAL, seed=SEED + 1)
    assert other["oracle_auc"] != meta["oracle_auc"]
    a, b = _read(d, "train"), _read(tmp_path / "b", "train")
    assert not a["cat_0"].equals(b["cat_0"])
    assert not a["item_history"].equals(b["item_history"])


def test_csv_and_parquet_agree(tmp_path):
    p = synthetic.generate(str(tmp_path / "p"), 2000, 300, seed=3, num_files=2)
    c = synthetic.generate(
        str(tmp_path / "c"), 2000, 300, seed=3, num_files=2, fmt="csv"
    )
    assert c["train_files"] == ["train/part-00000.csv", "train/part-00001.csv"]
    assert (tmp_path / "c/train/part-00000.csv").read_text().startswith('"label",')
    for key in ("positive_rate", "oracle_auc", "oracle_auc_conversion"):
        assert p[key] == c[key]
    for split in ("train", "eval"):
        a = _read(tmp_path / "p", split)
        b = _read(tmp_path / "c", split, "csv")
        assert b.equals(a), split


def test_second_run_is_skipped_and_changed_args_regenerate(tmp_path):
    d = tmp_path / "d"
    meta = synthetic.generate(str(d), 1000, 100, seed=1)
    files = sorted((d / "train").iterdir()) + [d / "eval/part-00000.parquet"]
    stamps = [os.stat(f).st_mtime_ns for f in files + [d / "meta.json"]]
    assert synthetic.generate(str(d), 1000, 100, seed=1) == meta
    assert [os.stat(f).st_mtime_ns for f in files + [d / "meta.json"]] == stamps
    assert synthetic.existing_meta(str(d), 1000, 100, seed=1) == meta
    assert synthetic.existing_meta(str(d), 1000, 100, seed=2) is None
    # Fewer files: stale parts of the earlier run must go.
    synthetic.generate(str(d), 1000, 100, seed=1, num_files=2)
    assert len(list((d / "train").iterdir())) == 2
    # A missing file means the data is incomplete: regenerate.
    (d / "train/part-00001.parquet").unlink()
    assert synthetic.existing_meta(str(d), 1000, 100, seed=1, num_files=2) is None
    synthetic.generate(str(d), 1000, 100, seed=1, num_files=2)
    assert (d / "train/part-00001.parquet").is_file()


def test_killed_run_leaves_no_file_under_its_final_name(tmp_path, monkeypatch):
    d = tmp_path / "d"
    real = synthetic.draw_rows
    calls = itertools.count()

    def dies_on_second_chunk(*args):
        if next(calls) == 1:
            raise KeyboardInterrupt
        return real(*args)

    monkeypatch.setattr(synthetic, "CHUNK_ROWS", 300)
    monkeypatch.setattr(synthetic, "draw_rows", dies_on_second_chunk)
    with pytest.raises(KeyboardInterrupt):
        synthetic.generate(str(d), 1000, 100, seed=1, num_files=2)
    assert not (d / "meta.json").exists()
    assert [p.name for p in (d / "train").glob("part-*")] == []
    assert list((d / "train").glob(".part-00000.parquet.tmp*"))
    monkeypatch.setattr(synthetic, "draw_rows", real)
    meta = synthetic.generate(str(d), 1000, 100, seed=1, num_files=2)
    assert sorted(p.name for p in (d / "train").iterdir()) == [
        "part-00000.parquet",
        "part-00001.parquet",
    ]
    assert json.loads((d / "meta.json").read_text()) == meta


def test_cli(tmp_path, capsys):
    d = str(tmp_path / "cli")
    argv = ["--output_dir", d, "--num_rows", "500", "--num_files", "1"]
    assert make_synthetic_data.main(argv) == 0
    assert "wrote 500 train rows" in capsys.readouterr().out
    assert make_synthetic_data.main(argv) == 0
    assert "not regenerating" in capsys.readouterr().out
    assert json.loads((tmp_path / "cli/meta.json").read_text())["num_eval_rows"] == 50
    assert make_synthetic_data.main(["--output_dir", d, "--num_rows", "0"]) == 2
    err = capsys.readouterr().err
    assert err == "error: bad value 0 (--num_rows): pass an integer >= 1\n"
    with pytest.raises(SystemExit) as e:
        make_synthetic_data.main(argv + ["--num_rowz", "3"])
    assert e.value.code == 2
    with pytest.raises(SystemExit):
        make_synthetic_data.main(argv + ["--format", "tsv"])


def test_criteo_int_ranges_reach_tens_of_millions(tmp_path):
    d = tmp_path / "criteo"
    meta = synthetic.generate(str(d), 200_000, 100, seed=1, int_ranges="criteo")
    assert meta["int_ranges"] == "criteo"
    t = _read(d, "train")
    wide = t["int_4"].drop_null().to_numpy()
    assert 3_000 < np.median(wide) < 50_000 and wide.max() > 5_000_000
    assert np.median(t["int_9"].drop_null().to_numpy()) < 5  # most stay small
    assert 0.7 < meta["oracle_auc"] < 0.9  # still calibrated
    # The small-range data under the same seed is other data, not a cache hit.
    assert synthetic.existing_meta(str(d), 200_000, 100, seed=1) is None
    with pytest.raises(synthetic.ConfigError, match="int_ranges"):
        synthetic.generate(str(tmp_path / "x"), 10, 1, int_ranges="huge")
