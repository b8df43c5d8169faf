"""Checksummed checkpoints and exports, predict's output, and the smaller cases.

A same-size byte flip in any checkpoint file kind is refused by the command
that would use it (eval, export, predict, --continue_train, fine-tune) with
one line naming the file; nothing in model_dir changes.
"""

from __future__ import annotations

import json
import shutil
import signal

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from tests.cli import TINY_CONFIG, run_cli, run_in_process
from tests.integration.hardening.helpers import (
    assert_intact,
    assert_one_error,
    record_line,
    snapshot,
    train_flags,
)

CKPT = "model.ckpt-10"


def _flip(path) -> None:
    """Flips one byte in the middle of the file: its size stays the same."""
    raw = bytearray(path.read_bytes())
    raw[len(raw) // 2] ^= 0x40
    path.write_bytes(bytes(raw))


def _config_flags(model_dir) -> list[str]:
    return ["--pipeline_config_path", str(model_dir / "pipeline.config")]


def _eval(model_dir, tiny_data, tmp_path):
    return run_in_process("tzrec.eval", *_config_flags(model_dir))


def _export(model_dir, tiny_data, tmp_path):
    flags = [*_config_flags(model_dir), "--export_dir", str(tmp_path / "exp")]
    return run_in_process("tzrec.export", *flags)


def _predict(model_dir, tiny_data, tmp_path):
    return run_in_process(
        "tzrec.predict",
        *_config_flags(model_dir),
        "--predict_input_path",
        str(tiny_data / "eval"),
        "--predict_output_path",
        str(tmp_path / "p.parquet"),
    )


def _resume(model_dir, tiny_data, tmp_path):
    flags = train_flags(tiny_data, model_dir, "--continue_train")
    return run_in_process("tzrec.train_eval", *flags)


# (command, damaged file): every command once; every file kind is checked
# in-process by tests/unit/checkpoint/test_checksums.py (fine-tune there too).
CASES = {
    "eval_model_data": (_eval, "model/__0_0.distcp"),
    "export_optimizer_data": (_export, "optimizer/__0_0.distcp"),
    "predict_model_metadata": (_predict, "model/.metadata"),
    "resume_train_state": (_resume, "train_state.pt"),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_checksum_mismatch(case, tiny_data, run_copy, tmp_path):
    command, rel = CASES[case]
    model_dir, _ = run_copy
    _flip(model_dir / CKPT / rel)
    before = snapshot(model_dir)
    proc = command(model_dir, tiny_data, tmp_path)
    assert_one_error(
        proc,
        "checkpoint file is corrupt (xxh3_64",
        f"{CKPT}/{rel})",
        "no earlier complete checkpoint",
    )
    assert_intact(before, model_dir)
    assert not (tmp_path / "exp").exists() and not (tmp_path / "p.parquet").exists()


@pytest.fixture(scope="module")
def exported(protected_run, tmp_path_factory):
    """A copy of the protected run exported once; listed in its artifacts.json."""
    root = tmp_path_factory.mktemp("exported")
    model_dir = root / "run"
    shutil.copytree(protected_run, model_dir)
    config = model_dir / "pipeline.config"
    config.write_text(config.read_text().replace(str(protected_run), str(model_dir)))
    proc = _export(model_dir, None, root)
    assert proc.returncode == 0, proc.stderr[-2000:]
    listed = json.loads((model_dir / "artifacts.json").read_text())["artifacts"]
    assert [(e["kind"], e["step"]) for e in listed] == [
        ("checkpoint", 10),
        ("export", 10),
    ]
    return root / "exp"


def test_corrupt_export_file(exported, tiny_data, tmp_path):
    damaged = tmp_path / "exp"
    shutil.copytree(exported, damaged)
    _flip(damaged / "scripted_model.pt")
    proc = run_in_process(
        "tzrec.predict",
        "--scripted_model_path",
        str(damaged),
        "--predict_input_path",
        str(tiny_data / "eval"),
        "--predict_output_path",
        str(tmp_path / "p.parquet"),
    )
    assert_one_error(
        proc, "export file is corrupt (xxh3_64", "exp/scripted_model.pt)", "export"
    )
    assert not (tmp_path / "p.parquet").exists()


def test_missing_checkpoint_file(run_copy):
    model_dir, _ = run_copy
    (model_dir / CKPT / "model" / ".metadata").unlink()
    before = snapshot(model_dir)
    proc = run_in_process("tzrec.eval", *_config_flags(model_dir))
    assert_one_error(
        proc,
        "checkpoint file is missing",
        f"{CKPT}/model/.metadata",
        "no earlier complete checkpoint",
    )
    assert_intact(before, model_dir)


def test_predict_output_is_its_input(exported, tiny_data, tmp_path):
    data = tmp_path / "data"
    shutil.copytree(tiny_data / "eval", data)
    (source,) = data.glob("*.parquet")
    before = source.read_bytes()
    proc = run_in_process(
        "tzrec.predict",
        "--scripted_model_path",
        str(exported),
        "--predict_input_path",
        str(data),
        "--predict_output_path",
        str(source),
        "--overwrite",
    )
    assert_one_error(
        proc, "--predict_output_path is one of the input files", source.name
    )
    assert source.read_bytes() == before


def test_predict_output_exists(exported, tiny_data, tmp_path):
    out = tmp_path / "old.parquet"
    out.write_bytes(b"earlier predictions")
    proc = run_in_process(
        "tzrec.predict",
        "--scripted_model_path",
        str(exported),
        "--predict_input_path",
        str(tiny_data / "eval"),
        "--predict_output_path",
        str(out),
    )
    assert_one_error(proc, "output file already exists", "old.parquet", "--overwrite")
    assert out.read_bytes() == b"earlier predictions"


def test_duplicate_column_name(train_table, tiny_data, tmp_path):
    doubled = pa.Table.from_arrays(
        [*train_table.columns, train_table.column("cat_4")],
        names=[*train_table.column_names, "cat_4"],
    )
    data = tmp_path / "d"
    data.mkdir()
    pq.write_table(doubled, data / "part-0.parquet")
    proc = run_in_process(
        "tzrec.train_eval", *train_flags(tiny_data, tmp_path / "md", train=data)
    )
    assert_one_error(
        proc, 'column "cat_4" appears 2 times', "d/part-0.parquet", "unique column"
    )
    assert not (tmp_path / "md").exists()


def test_config_not_utf8(tiny_data, tmp_path):
    config = tmp_path / "c.config"
    config.write_bytes(TINY_CONFIG.read_bytes().replace(b"label", b"l\xe4bel", 1))
    flags = train_flags(tiny_data, tmp_path / "md", config=config)
    proc = run_in_process("tzrec.train_eval", *flags)
    assert_one_error(
        proc, "not UTF-8 text (byte 0xe4", "c.config", "save the file as UTF-8"
    )


def test_fine_tune_checkpoint_missing(tiny_data, run_copy, tmp_path):
    model_dir, _ = run_copy
    flags = ["--fine_tune_checkpoint", str(model_dir / "model.ckpt-99")]
    proc = run_in_process(
        "tzrec.train_eval", *train_flags(tiny_data, tmp_path / "md"), *flags
    )
    assert_one_error(proc, "checkpoint path does not exist", "model.ckpt-99")


def test_model_dir_flag_empty(tiny_data, tmp_path):
    flags = train_flags(tiny_data, tmp_path / "md")
    flags[flags.index("--model_dir") + 1] = ""
    proc = run_in_process("tzrec.train_eval", *flags)
    assert_one_error(proc, "--model_dir is empty", "command line")


def test_sigterm_during_startup(tiny_data, tmp_path):
    proc = run_cli(
        "tzrec.train_eval",
        *train_flags(tiny_data, tmp_path / "md"),
        env={"TZREC_FAILPOINT": "startup::term"},
    )
    assert proc.returncode == 128 + signal.SIGTERM, proc.stderr[-2000:]
    lines = [x for x in proc.stderr.splitlines() if x.startswith("error:")]
    assert lines == ["error: interrupted (SIGTERM)"] and "Traceback" not in proc.stderr
    record_line(lines[0])
