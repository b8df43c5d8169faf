"""``python -m tzrec.tools.runs`` on two real training runs (see conftest)."""

from __future__ import annotations

import json
import os
import re
import struct

import pytest

from tests.unit.tools.runs_helpers import EDITS_A, EDITS_B, runs_cli, runs_inproc
from tzrec import config as config_lib
from tzrec.checkpoint.manager import list_complete
from tzrec.export import select_checkpoint

pytestmark = pytest.mark.slow


def export_choice(model_dir) -> int:
    """The step ``python -m tzrec.export`` would export from this run."""
    config = config_lib.load_pipeline_config(str(model_dir / "pipeline.config"))
    config.model_dir = str(model_dir)
    assert config.export_config.exporter_type == "best"
    return select_checkpoint(config).step


def eval_steps(model_dir) -> list[int]:
    with open(model_dir / "train_eval_result.jsonl") as f:
        return [json.loads(line)["global_step"] for line in f if line.strip()]


def ok(result) -> str:
    code, out, err = result
    assert code == 0, err
    return out


def test_show_text_marks_the_step_export_picks(two_runs):
    proc = runs_cli("show", str(two_runs.a))  # the real entry point, once
    out = ok((proc.returncode, proc.stdout, proc.stderr))
    best = export_choice(two_runs.a)
    assert re.search(r"^status\s+finished at step 16", out, re.M)
    assert re.search(r"^batch\s+128 x 1 rank\(s\) = 128 rows", out, re.M)
    header = next(line for line in out.splitlines() if " step  epoch" in line)
    assert "auc" in header and "loss_binary_cross_entropy" in header
    starred = [line for line in out.splitlines() if line.startswith("  *")]
    assert len(starred) == 1 and starred[0].split()[1] == str(best)
    # every evaluation is a row; columns line up under the header
    section = out.split(header)[1].split("\n\n")[0].splitlines()[2:]
    rows = [line for line in section if re.match(r"^  [ *]\s+\d+\s+\d", line)]
    assert [int(r[3:].split()[0]) for r in rows] == eval_steps(two_runs.a)
    assert len({len(r) for r in rows}) == 1
    on_disk = [s for s, _ in list_complete(str(two_runs.a))]
    section = out.split("\ncheckpoints: ")[1].split("\n\n")[0]
    ckpt_lines = [line for line in section.splitlines() if "model.ckpt-" in line]
    assert [int(line.split()[0]) for line in ckpt_lines] == on_disk
    assert "latest" in ckpt_lines[-1]
    assert "best" in next(line for line in ckpt_lines if line.split()[0] == str(best))
    assert re.search(r"checkpoints\s+[\d.]+ s\s+\d+%\s+\d saves, .* MB/s", out)
    assert "{" not in out  # tables, not dict dumps


def test_show_json_agrees_with_the_files(two_runs, capsys):
    data = json.loads(ok(runs_inproc(capsys, "show", str(two_runs.a), "--json")))
    assert data["status"]["state"] == "finished"
    assert data["best"]["step"] == export_choice(two_runs.a)
    assert data["best"]["metric"] == "auc" and data["best"]["has_checkpoint"]
    steps = eval_steps(two_runs.a)
    assert [e["global_step"] for e in data["evaluations"]] == steps == [4, 8, 12, 16]
    assert [e["samples"] for e in data["evaluations"]] == [s * 128 for s in steps]
    ckpts = data["checkpoints"]
    assert [c["step"] for c in ckpts] == [s for s, _ in list_complete(str(two_runs.a))]
    assert len(ckpts) <= 3  # keep_checkpoint_max 2, plus the best if older
    for c in ckpts:
        files = json.load(open(os.path.join(c["path"], "DONE")))["files"]
        assert c["bytes"] == sum(files.values()) > 0
    listed = [(a["kind"], a["step"]) for a in data["artifacts"]]
    assert listed == [("checkpoint", c["step"]) for c in ckpts]
    tl = data["timeline"]
    assert tl["num_evals"] == 4 and tl["num_checkpoints"] == 4
    assert tl["launches"] == 1 and tl["checkpoint_bytes"] > 0
    assert 0 < tl["eval_seconds"] + tl["checkpoint_seconds"] < tl["wall_seconds"]
    assert tl["checkpoint_mb_per_s"] > 0


def test_compare_text(two_runs, capsys):
    out = ok(runs_inproc(capsys, "compare", str(two_runs.a), str(two_runs.b)))
    assert re.search(r"^  A\s+\S+run_a\s+finished", out, re.M)
    assert re.search(r"^  B\s+\S+run_b\s+finished", out, re.M)
    assert "best and last value per metric (Δ = run - A)" in out
    auc_rows = out.split("auc by step")[1].split("\n\n")[0].splitlines()[3:]
    assert [int(r.split()[0]) for r in auc_rows] == [4, 8, 12, 16]
    # batch sizes differ, so samples get their own alignment
    assert "auc by samples seen" in out
    diff = out.split("config differences")[1]
    assert "data_config.batch_size" in diff and "128" in diff and "64" in diff
    assert "train_config.dense_optimizer.adam_optimizer.lr" in diff
    assert "{" not in out


def test_compare_json_deltas_alignment_and_config_diff(two_runs, capsys):
    data = json.loads(
        ok(runs_inproc(capsys, "compare", str(two_runs.a), str(two_runs.b), "--json"))
    )
    auc = data["metrics"]["auc"]
    a, b = auc["runs"]
    assert auc["better"] == "higher"
    assert b["delta_best"] == pytest.approx(b["best"] - a["best"])
    assert b["delta_last"] == pytest.approx(b["last"] - a["last"])
    assert a["best_step"] == export_choice(two_runs.a)
    assert data["metrics"]["loss_binary_cross_entropy"]["better"] == "lower"
    by_step = {r["step"]: r["values"] for r in data["by_step"]}
    assert sorted(by_step) == [4, 8, 12, 16]
    assert by_step[4][1] is None and by_step[8][1]["global_step"] == 8
    by_samples = {r["samples"]: r["values"] for r in data["by_samples"]}
    # A (128 rows/step) at step 4 and B (64 rows/step) at step 8 saw 512 rows
    assert by_samples[512][0]["global_step"] == 4
    assert by_samples[512][1]["global_step"] == 8
    paths = {d["path"]: d["values"] for d in data["config_diff"]}
    assert set(paths) == set(EDITS_A) | set(EDITS_B)
    assert paths["data_config.batch_size"] == [128, 64]
    assert paths["train_config.dense_optimizer.adam_optimizer.lr"] == [0.002, 0.001]


def png_size(path) -> tuple[int, int]:
    with open(path, "rb") as f:
        head = f.read(24)
    assert head[:8] == b"\x89PNG\r\n\x1a\n" and head[12:16] == b"IHDR"
    return struct.unpack(">II", head[16:24])


def test_plot_writes_a_png_with_every_panel(two_runs, tmp_path, capsys):
    out = tmp_path / "plots" / "curves.png"
    args = ("plot", str(two_runs.a), str(two_runs.b), "--output", str(out), "--json")
    drawn = json.loads(ok(runs_inproc(capsys, *args)))
    width, height = png_size(out)
    assert 800 <= width <= 3000 and 600 <= height <= 4000
    assert out.stat().st_size > 20_000
    import matplotlib.image

    pixels = matplotlib.image.imread(str(out))
    assert pixels.shape[:2] == (height, width) and pixels.std() > 0.05
    assert drawn["panels"][0] == "loss" and drawn["panels"][-1] == "throughput"
    assert "auc" in drawn["panels"]
    for run in drawn["runs"]:
        assert run["series"]["loss"] > 4 and run["series"]["throughput"] > 0
        assert run["series"]["auc"] >= len(
            eval_steps(two_runs.a if run["label"] == "A" else two_runs.b)
        )
    assert drawn["runs"][0]["best_step"] == export_choice(two_runs.a)


def test_errors_are_one_line_exit_2(two_runs, tmp_path, capsys):
    cases = {
        ("show", str(tmp_path)): "is not a tzrec run",
        ("show", str(tmp_path / "missing")): "does not exist",
        ("compare", str(two_runs.a)): "at least two",
        ("show", str(two_runs.a), "--colour"): "unknown flag --colour",
        ("plot", str(two_runs.a), "--output", str(tmp_path / "x.jpg")): ".png",
        ("compare", str(two_runs.a), str(two_runs.b), "--metrics", "auk"): "auk",
        ("sho", str(two_runs.a)): "invalid choice",
    }
    for args, words in cases.items():
        code, out, err = runs_inproc(capsys, *args)
        assert code == 2, (args, err)
        lines = err.strip().splitlines()
        assert len(lines) == 1 and lines[0].startswith("error: "), err
        assert words in lines[0], lines[0]
        assert out == ""
    proc = runs_cli("show", str(tmp_path))  # and through python -m
    assert proc.returncode == 2 and proc.stdout == ""
    assert proc.stderr.strip().splitlines() == [
        f"error: directory is not a tzrec run ({tmp_path}): pass a model_dir written "
        "by python -m tzrec.train_eval (it holds pipeline.config, events.jsonl, "
        "train_eval_result.jsonl)"
    ]


def test_show_a_run_killed_before_its_first_evaluation(two_runs, tmp_path, capsys):
    """Its status, not "no evaluations yet" or "not a tzrec run" (exit 2)."""
    fresh = tmp_path / "fresh"
    fresh.mkdir()
    (fresh / "pipeline.config").write_bytes(
        (two_runs.a / "pipeline.config").read_bytes()
    )
    started = tmp_path / "started"  # killed during start-up: its log only
    (started / "log").mkdir(parents=True)
    (started / "log" / "rank0.log").write_text("")
    for run in (fresh, started):
        out = ok(runs_inproc(capsys, "show", str(run)))
        assert re.search(r"^status\s+", out, re.M), out
        assert "evaluations: 0" in out and "checkpoints: none complete" in out


def test_show_lists_the_artifacts(two_runs, capsys):
    out = ok(runs_inproc(capsys, "show", str(two_runs.a)))
    section = out.split("artifacts (artifacts.json): ")[1].split("\n\n")[0]
    rows = [line.split() for line in section.splitlines()[3:]]
    on_disk = [s for s, _ in list_complete(str(two_runs.a))]
    assert [(r[0], int(r[1])) for r in rows] == [("checkpoint", s) for s in on_disk]
    assert all(re.fullmatch(r"[0-9a-f]{16}", r[4]) for r in rows), rows
