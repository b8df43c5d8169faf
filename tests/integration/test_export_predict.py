"""python -m tzrec.export and python -m tzrec.predict on a tiny real run."""

from __future__ import annotations

import json
import math
import os
import shutil
import subprocess
import sys

import numpy as np
import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq
import pytest
import torch

from tests.cli import run_in_process
from tzrec import config as config_lib
from tzrec import export as export_cli
from tzrec import predict as predict_cli
from tzrec.utils.cli import run_main

pytestmark = pytest.mark.slow  # every test here shares a ~10 s training run

# No final MLP, a table shared by two features, a mean-pooled multi-value
# feature, a bucketized and a dense raw feature: the other DeepFM branches.
CONFIG = """
train_input_path: "{root}/train"
eval_input_path: "{root}/eval"
model_dir: "{root}/md"
train_config {{
  sparse_optimizer {{ adagrad_optimizer {{ lr: 0.05 }} constant_learning_rate {{}} }}
  dense_optimizer {{ adam_optimizer {{ lr: 0.003 }} constant_learning_rate {{}} }}
  num_steps: 30
  log_step_count_steps: 10
  save_checkpoints_steps: 10
}}
data_config {{
  batch_size: 128 dataset_type: ParquetDataset label_fields: "label" num_workers: 0
}}
feature_configs {{ id_feature {{
  feature_name: "c0" num_buckets: 100 embedding_dim: 8 embedding_name: "ids" }} }}
feature_configs {{ id_feature {{
  feature_name: "c1" hash_bucket_size: 100 embedding_dim: 8 embedding_name: "ids" }} }}
feature_configs {{ id_feature {{
  feature_name: "tags" vocab_list: ["a", "b", "c"] embedding_dim: 8
  pooling: "mean" }} }}
feature_configs {{ raw_feature {{
  feature_name: "i0" boundaries: [1, 2, 4] embedding_dim: 8 }} }}
feature_configs {{ raw_feature {{ feature_name: "x" }} }}
model_config {{
  feature_groups {{ group_name: "wide" group_type: WIDE
    feature_names: ["c0", "c1", "tags"] }}
  feature_groups {{ group_name: "deep" group_type: DEEP
    feature_names: ["c0", "c1", "tags", "i0", "x"] }}
  feature_groups {{ group_name: "fm" group_type: DEEP
    feature_names: ["c0", "c1", "tags", "i0"] }}
  deepfm {{ deep {{ hidden_units: [16, 8] }} }}
  losses {{ binary_cross_entropy {{}} }}
  metrics {{ auc {{}} }}
}}
"""


def make_table(rows: int, seed: int, start: int = 0) -> pa.Table:
    """Rows with a learnable label; ``id`` numbers the rows from ``start``."""
    rng = np.random.default_rng(seed)
    c0 = rng.integers(0, 100, rows)
    c1 = rng.integers(0, 30, rows)
    i0 = rng.poisson(2, rows).astype(float)
    logit = (c0 % 7 - 3) * 0.6 + (c1 % 5 - 2) * 0.5 + 0.3 * np.log1p(i0)
    label = (rng.random(rows) < 1 / (1 + np.exp(-logit))).astype(np.int64)
    tags = np.array(["a\x1db", "c", "", "b\x1dc\x1da"])[rng.integers(0, 4, rows)]
    return pa.table(
        {
            "id": [f"r{start + i}" for i in range(rows)],
            "c0": c0,
            "c1": [f"u{v}" for v in c1],
            "tags": tags,
            "i0": i0,
            "x": rng.normal(size=rows),
            "label": label,
        }
    )


@pytest.fixture(scope="module")
def run(tmp_path_factory) -> str:
    """A finished train_eval run with checkpoints at 10, 20 and 30."""
    root = str(tmp_path_factory.mktemp("exprun"))
    for split, rows, seed in (("train", 2400, 0), ("eval", 600, 1)):
        os.makedirs(f"{root}/{split}")
        pq.write_table(make_table(rows, seed), f"{root}/{split}/part-0.parquet")
    os.makedirs(f"{root}/pred")  # predict input: two files, order matters
    pq.write_table(make_table(250, 2, 0), f"{root}/pred/part-0.parquet")
    pq.write_table(make_table(163, 3, 250), f"{root}/pred/part-1.parquet")
    with open(f"{root}/p.config", "w") as f:
        f.write(CONFIG.format(root=root))
    proc = run_in_process(
        "tzrec.train_eval", "--pipeline_config_path", f"{root}/p.config"
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    return root


def cli(module, argv: list[str], capsys) -> tuple[int, str]:
    """Runs a CLI in-process; returns (exit code, stderr)."""
    with pytest.raises(SystemExit) as exit_info:
        run_main(module.main, module.build_parser(), argv)
    return exit_info.value.code, capsys.readouterr().err


@pytest.fixture(scope="module")
def exported(run) -> str:
    """The latest checkpoint exported (exporter_type default: latest)."""
    out = f"{run}/exp"
    argv = ["--pipeline_config_path", f"{run}/md/pipeline.config"]
    with pytest.raises(SystemExit) as exit_info:
        run_main(
            export_cli.main, export_cli.build_parser(), [*argv, "--export_dir", out]
        )
    assert exit_info.value.code == 0
    return out


def pred_input(run: str) -> pa.Table:
    return pq.read_table(f"{run}/pred")


def predict(run: str, capsys, *argv: str) -> None:
    code, err = cli(predict_cli, ["--predict_input_path", f"{run}/pred", *argv], capsys)
    assert code == 0, err[-2000:]


def test_export_contents_and_scripted_model_without_tzrec(run, exported, tmp_path):
    assert sorted(os.listdir(exported)) == [
        "DONE",
        "meta.json",
        "pipeline.config",
        "scripted_model.pt",
    ]
    meta = json.load(open(f"{exported}/meta.json"))
    assert meta["global_step"] == 30 and meta["selected_by"] == "latest"
    assert meta["checkpoint_path"] == f"{run}/md/model.ckpt-30"
    assert meta["inputs"]["sparse"] == {
        "deep": ["c0", "c1", "tags", "i0"],
        "wide": ["c0", "c1", "tags"],
    }
    assert meta["inputs"]["dense"] == [{"name": "x", "dim": 1}]
    config = config_lib.load_pipeline_config(f"{exported}/pipeline.config")
    assert config.model_dir == f"{run}/md"

    # Expected outputs from the eager model of the checkpoint, two batch sizes.
    from tzrec.datasets.batch import BatchBuilder
    from tzrec.export.eager import load_eager_model
    from tzrec.export.inference_model import scripted_inputs

    features, model, _ = load_eager_model(config, meta["checkpoint_path"])
    builder = BatchBuilder(
        features, [], require_labels=False, sparse_groups=meta["inputs"]["sparse"]
    )
    cases = []
    for n in (3, 17):
        batch = builder.build(pred_input(run).slice(0, n))
        with torch.no_grad():
            cases.append((scripted_inputs(batch), model.predict(batch)))
    torch.save(cases, tmp_path / "cases.pt")
    code = f"""
import sys, torch
m = torch.jit.load({exported + "/scripted_model.pt"!r})
for (dense, values, lengths), want in torch.load({str(tmp_path / "cases.pt")!r}):
    got = m(dense, values, lengths)
    for k in ("logits", "probs"):
        assert got[k].shape == want[k].shape, (k, got[k].shape)
        assert torch.allclose(got[k], want[k], atol=1e-6), k
assert not [n for n in sys.modules if n.startswith(("tzrec", "torchrec"))]
print("ok")
"""
    proc = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        timeout=120,
    )
    assert proc.returncode == 0 and "ok" in proc.stdout, proc.stderr[-2000:]


def test_predict_exported_equals_checkpoint_mode(run, exported, tmp_path, capsys):
    out_s, out_c = f"{tmp_path}/s.parquet", f"{tmp_path}/c/c.parquet"
    common = ["--reserved_columns", "id,label", "--output_columns", "probs,logits"]
    predict(run, capsys, "--scripted_model_path", exported,
            "--predict_output_path", out_s, "--batch_size", "97",
            "--predict_threads", "3", *common)  # fmt: skip
    predict(run, capsys, "--pipeline_config_path", f"{run}/md/pipeline.config",
            "--checkpoint_path", f"{run}/md/model.ckpt-30",
            "--predict_output_path", out_c, "--batch_size", "64",
            "--predict_threads", "0", *common)  # fmt: skip
    src = pred_input(run)
    scripted, eager = pq.read_table(out_s), pq.read_table(out_c)
    for t in (scripted, eager):
        assert t.column_names == ["id", "label", "probs", "logits"]
        assert t.num_rows == src.num_rows == 413
        assert t["id"].to_pylist() == src["id"].to_pylist()  # input order
        assert t["label"].to_pylist() == src["label"].to_pylist()
    p_s, p_c = scripted["probs"].to_numpy(), eager["probs"].to_numpy()
    np.testing.assert_allclose(p_s, p_c, atol=1e-6)
    logits = scripted["logits"].to_numpy()
    np.testing.assert_allclose(p_s, 1 / (1 + np.exp(-logits)), atol=1e-6)
    assert p_s.std() > 0.05  # real scores, not a constant
    assert not [n for n in os.listdir(tmp_path) if n.startswith(".tmp")]


def test_predict_csv_in_and_out(run, exported, tmp_path, capsys):
    os.makedirs(tmp_path / "csv")
    pacsv.write_csv(pred_input(run), tmp_path / "csv" / "in.csv")
    out_csv, out_pq = str(tmp_path / "out.csv"), str(tmp_path / "out.parquet")
    predict(run, capsys, "--scripted_model_path", exported,
            "--predict_output_path", out_pq, "--reserved_columns", "id")  # fmt: skip
    code, err = cli(predict_cli, [
        "--scripted_model_path", exported,
        "--predict_input_path", str(tmp_path / "csv"),
        "--predict_output_path", out_csv, "--reserved_columns", "id,c0",
        "--dataset_type", "CsvDataset", "--batch_size", "50",
    ], capsys)  # fmt: skip
    assert code == 0, err[-2000:]
    assert "[predict] 413 rows" in err  # CSV: total unknown up front
    from_csv, ref = pacsv.read_csv(out_csv), pq.read_table(out_pq)
    assert from_csv.column_names == ["id", "c0", "probs"]
    assert from_csv.num_rows == ref.num_rows == 413
    assert from_csv["id"].to_pylist() == pred_input(run)["id"].to_pylist()
    assert from_csv["c0"].to_pylist() == pred_input(run)["c0"].to_pylist()
    np.testing.assert_allclose(
        from_csv["probs"].to_numpy(), ref["probs"].to_numpy(), atol=1e-6
    )


def test_predict_steps_and_flag_errors(run, exported, tmp_path, capsys):
    out = str(tmp_path / "few.parquet")
    predict(run, capsys, "--scripted_model_path", exported,
            "--predict_output_path", out, "--batch_size", "50",
            "--predict_steps", "2")  # fmt: skip
    assert pq.read_table(out).num_rows == 100
    bad = [
        ["--scripted_model_path", exported, "--output_columns", "score"],
        ["--scripted_model_path", exported, "--reserved_columns", "probs"],
        ["--scripted_model_path", exported, "--reserved_columns", "nope"],
        ["--scripted_model_path", exported, "--pipeline_config_path", "p"],
        ["--scripted_model_path", str(tmp_path)],
    ]
    for extra in bad:
        out = str(tmp_path / "bad.parquet")
        argv = ["--predict_input_path", f"{run}/pred", "--predict_output_path", out]
        argv += extra
        code, err = cli(predict_cli, argv, capsys)
        last = err.strip().splitlines()[-1]
        assert code == 2 and last.startswith("error: "), (extra, err[-500:])
    assert not os.path.exists(tmp_path / "bad.parquet")
    assert [n for n in os.listdir(tmp_path) if n.startswith(".tmp")] == []


def write_eval_log(path: str, lines: list[str]) -> None:
    with open(path, "w") as f:
        f.write("\n".join(lines))  # no newline at the end: a torn last line


def test_export_best_from_eval_log(run, tmp_path, capsys):
    md = str(tmp_path / "md")
    shutil.copytree(f"{run}/md", md)
    # Step 25 looks best but its checkpoint is incomplete (no DONE marker).
    shutil.copytree(f"{md}/model.ckpt-20", f"{md}/model.ckpt-25")
    os.unlink(f"{md}/model.ckpt-25/DONE")
    write_eval_log(f"{md}/train_eval_result.jsonl", [
        '{"global_step": 10, "auc": 0.9, "loss_binary_cross_entropy": 0.30}',
        '{"global_step": 20, "auc": 0.5, "loss_binary_cross_entropy": NaN}',
        '{"global_step": 25, "auc": 0.5, "loss_binary_cross_entropy": 0.01}',
        '{"global_step": 30, "auc": 0.6, "loss_binary_cross_entropy": 0.20}',
        '',
        '{"global_step": 40, "auc": 0.7, "loss_binary_cro',
    ])  # fmt: skip
    config = config_lib.load_pipeline_config(f"{run}/md/pipeline.config")
    config.model_dir = md
    config.export_config.exporter_type = "best"
    by_auc = export_cli.select_checkpoint(config)
    assert (by_auc.step, by_auc.value) == (10, 0.9)  # the default metric
    config.export_config.best_exporter_metric = "loss_binary_cross_entropy"
    config.export_config.metric_larger_is_better = False
    config_lib.save_pipeline_config(config, f"{tmp_path}/best.config")
    out = f"{tmp_path}/exp"
    argv = ["--pipeline_config_path", f"{tmp_path}/best.config", "--export_dir", out]
    code, err = cli(export_cli, argv, capsys)
    assert code == 0, err[-2000:]
    meta = json.load(open(f"{out}/meta.json"))
    assert meta["global_step"] == 30
    assert meta["checkpoint_path"] == f"{md}/model.ckpt-30"
    assert meta["selected_by"] == "best"
    assert meta["metric"] == "loss_binary_cross_entropy"
    assert meta["metric_value"] == pytest.approx(0.20)
    assert meta["metric_larger_is_better"] is False

    config.export_config.best_exporter_metric = "recall"  # in no line
    with pytest.raises(Exception, match='metric "recall" is in no evaluation'):
        export_cli.select_checkpoint(config)


def test_export_to_existing_dir_is_exit_2_and_untouched(run, tmp_path, capsys):
    out = tmp_path / "exp"
    out.mkdir()
    (out / "keep.txt").write_text("mine")
    argv = ["--pipeline_config_path", f"{run}/md/pipeline.config", "--export_dir"]
    code, err = cli(export_cli, [*argv, str(out)], capsys)
    assert code == 2
    assert err.startswith("error: export directory already exists")
    assert os.listdir(out) == ["keep.txt"] and (out / "keep.txt").read_text() == "mine"
    assert os.listdir(tmp_path) == ["exp"]  # no temporary directory left behind
    code, err = cli(export_cli, [*argv, str(tmp_path / "e2"), "--checkpoint_path",
                                 f"{run}/md/model.ckpt-99"], capsys)  # fmt: skip
    assert code == 2 and "model.ckpt-99" in err
    assert not os.path.exists(tmp_path / "e2")


def test_export_asset_files_and_additional_export_config(run, tmp_path, capsys):
    vocab, notes = tmp_path / "vocab.txt", tmp_path / "notes.json"
    vocab.write_text("a\nb\nc\n")
    notes.write_text("{}")
    out = str(tmp_path / "exp")
    base = ["--pipeline_config_path", f"{run}/md/pipeline.config"]
    code, err = cli(export_cli, [*base, "--export_dir", out,
        "--asset_files", f"{vocab},{notes}",
        "--additional_export_config", '{"cand_seq_pk": "cand_seq", "n": 2}',
    ], capsys)  # fmt: skip
    assert code == 0, err[-2000:]
    assert (tmp_path / "exp" / "vocab.txt").read_text() == "a\nb\nc\n"
    meta = json.load(open(f"{out}/meta.json"))
    assert meta["assets"] == ["notes.json", "vocab.txt"]
    assert meta["additional_export_config"] == {"cand_seq_pk": "cand_seq", "n": 2}
    bad = [
        (["--asset_files", str(tmp_path / "missing.txt")], "asset file not found"),
        (["--asset_files", f"{vocab},{vocab}"], "two export files would be named"),
        (["--additional_export_config", "{cand: 1}"], "not valid JSON"),
        (["--additional_export_config", "[1, 2]"], "not a JSON object"),
    ]
    for extra, needle in bad:
        target = str(tmp_path / "bad")
        code, err = cli(export_cli, [*base, "--export_dir", target, *extra], capsys)
        assert code == 2 and needle in err.strip().splitlines()[-1], err[-500:]
        assert not os.path.exists(target)


def test_predict_edit_config_json_and_debug_level(run, exported, tmp_path, capsys):
    out = str(tmp_path / "dbg.parquet")
    predict(run, capsys, "--scripted_model_path", exported,
            "--predict_output_path", out, "--predict_steps", "1",
            "--edit_config_json", '{"data_config.batch_size": 40}',
            "--reserved_columns", "id", "--debug_level", "1")  # fmt: skip
    got = pq.read_table(out)
    assert got.num_rows == 40  # one batch of the edited batch_size
    assert got.column_names == ["id", "probs", predict_cli.DEBUG_COLUMN]
    src = pred_input(run).slice(0, 40)
    for i in (0, 7, 39):
        parts = dict(
            p.split("=", 1) for p in got[predict_cli.DEBUG_COLUMN][i].as_py().split(";")
        )
        assert set(parts) == {"c0", "c1", "tags", "i0", "x"}
        assert parts["c0"] == str(src["c0"][i].as_py())  # num_buckets: id as given
        assert float(parts["x"]) == pytest.approx(src["x"][i].as_py(), rel=1e-5)
    code, err = cli(predict_cli, ["--predict_input_path", f"{run}/pred",
        "--predict_output_path", str(tmp_path / "e.parquet"),
        "--scripted_model_path", exported,
        "--edit_config_json", '{"data_config.batch_sise": 4}'], capsys)  # fmt: skip
    assert code == 2 and "batch_sise" in err.strip().splitlines()[-1]


def _flip(path: str) -> None:
    """Flips one byte in the middle of a file; its size stays the same."""
    raw = bytearray(open(path, "rb").read())
    raw[len(raw) // 2] ^= 0x40
    open(path, "wb").write(bytes(raw))


def test_export_manifest_is_listed_and_verified_by_predict(
    run, exported, tmp_path, capsys
):
    marker = json.load(open(f"{exported}/DONE"))
    assert sorted(marker["checksums"]) == [
        "meta.json",
        "pipeline.config",
        "scripted_model.pt",
    ]
    manifest = json.load(open(f"{run}/md/artifacts.json"))["artifacts"]
    # Other tests export from the same run too: find this export by its path.
    exports = [e for e in manifest if e["kind"] == "export"]
    (entry,) = [e for e in exports if e["path"] == os.path.abspath(exported)]
    assert entry["step"] == 30
    assert [e["step"] for e in manifest if e["kind"] == "checkpoint"] == [10, 20, 30]
    for name in sorted(marker["checksums"]):
        damaged = tmp_path / f"exp-{name}"
        shutil.copytree(exported, damaged)
        _flip(str(damaged / name))
        out = tmp_path / "p.parquet"
        code, err = cli(predict_cli, ["--predict_input_path", f"{run}/pred",
                                      "--predict_output_path", str(out),
                                      "--scripted_model_path", str(damaged)],
                        capsys)  # fmt: skip
        lines = [x for x in err.splitlines() if x.startswith("error:")]
        assert code == 2 and len(lines) == 1, err[-1000:]
        assert lines[0].startswith("error: export file is corrupt (xxh3_64")
        assert f"exp-{name}/{name})" in lines[0] and not out.exists()


def test_predict_never_replaces_its_input_or_an_existing_file(
    run, exported, tmp_path, capsys
):
    source = f"{run}/pred/part-0.parquet"
    before = open(source, "rb").read()
    flags = ["--scripted_model_path", exported, "--predict_input_path"]
    for inp, out in ((f"{run}/pred", source), (source, source)):
        for extra in ([], ["--overwrite"]):
            argv = [*flags, inp, "--predict_output_path", out, *extra]
            code, err = cli(predict_cli, argv, capsys)
            assert code == 2, err[-500:]
            assert (
                err.strip()
                .splitlines()[-1]
                .startswith("error: --predict_output_path is one of the input files")
            )
            assert open(source, "rb").read() == before
    out = tmp_path / "p.parquet"
    out.write_bytes(b"mine")
    argv = [*flags, source, "--predict_output_path", str(out)]
    code, err = cli(predict_cli, argv, capsys)
    assert code == 2 and "error: output file already exists" in err
    assert "--overwrite" in err and out.read_bytes() == b"mine"
    code, err = cli(predict_cli, [*argv, "--overwrite"], capsys)
    assert code == 0, err[-500:]
    assert pq.read_table(out).num_rows == 250


def _checkpoint_with(run: str, model_dir: str, value: float) -> str:
    """A checkpoint of the run's model with a weight changed to ``value``.

    NaN goes into one element; a finite value fills every head weight, so the
    outputs overflow although every weight is finite.
    """
    from tzrec.checkpoint.manager import CheckpointManager
    from tzrec.export.eager import load_eager_model

    config = config_lib.load_pipeline_config(f"{run}/md/pipeline.config")
    _, model, _ = load_eager_model(config, f"{run}/md/model.ckpt-30")
    head = [p for n, p in model.named_parameters() if n.startswith("head")]
    with torch.no_grad():
        if math.isnan(value):
            head[0].view(-1)[0] = value
        else:
            for weight in head:
                weight.fill_(value)
    return CheckpointManager(model_dir).save(30, model, None, {"step": 30}).path


def test_export_refuses_non_finite_weights_and_outputs(run, tmp_path, capsys):
    argv = ["--pipeline_config_path", f"{run}/md/pipeline.config", "--export_dir"]
    for value, what in ((float("nan"), "holds 1 NaN/inf"), (1e30, "predicts")):
        ckpt = _checkpoint_with(run, str(tmp_path / f"md{value}"), value)
        out = tmp_path / f"exp{value}"
        code, err = cli(export_cli, [*argv, str(out), "--checkpoint_path", ckpt],
                        capsys)  # fmt: skip
        lines = [x for x in err.splitlines() if x.startswith("error:")]
        assert code == 2 and len(lines) == 1, err[-1000:]
        assert what in lines[0] and "NaN/inf" in lines[0], lines[0]
        assert not out.exists()
