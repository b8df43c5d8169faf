"""atomic_write: a failure at any point leaves the old file, no temporary."""

from __future__ import annotations

import os
import resource
import signal

import pytest

from tzrec.run_dir.atomic import atomic_open, atomic_write, temp_sibling


def test_replaces_the_file_and_leaves_nothing_else(tmp_path):
    path = tmp_path / "sub" / "run.json"
    atomic_write(str(path), "first\n")
    atomic_write(str(path), b"second\n")
    assert path.read_bytes() == b"second\n"
    assert os.listdir(path.parent) == ["run.json"]


def test_an_exception_mid_write_keeps_the_old_file(tmp_path):
    path = tmp_path / "pipeline.config"
    path.write_text("old")
    with pytest.raises(RuntimeError), atomic_open(str(path), "w") as f:
        f.write("new, half")
        f.flush()
        raise RuntimeError("killed while writing")
    assert path.read_text() == "old"
    assert os.listdir(tmp_path) == ["pipeline.config"]


def test_a_failed_write_keeps_the_old_file(tmp_path):
    # A real write failure: the file-size limit makes write(2) fail with EFBIG.
    path = tmp_path / "artifacts.json"
    path.write_text("old")
    soft, hard = resource.getrlimit(resource.RLIMIT_FSIZE)
    old_handler = signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
    resource.setrlimit(resource.RLIMIT_FSIZE, (1 << 20, hard))
    try:
        with pytest.raises(OSError):
            atomic_write(str(path), b"x" * (2 << 20))
    finally:
        resource.setrlimit(resource.RLIMIT_FSIZE, (soft, hard))
        signal.signal(signal.SIGXFSZ, old_handler)
    assert path.read_text() == "old"
    assert os.listdir(tmp_path) == ["artifacts.json"]


def test_temp_sibling_is_hidden_and_next_to_the_file(tmp_path):
    tmp = temp_sibling(str(tmp_path / "part-00000.parquet"))
    assert os.path.dirname(tmp) == str(tmp_path)
    assert os.path.basename(tmp).startswith(".part-00000.parquet.tmp")
