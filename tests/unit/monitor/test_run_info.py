import json
import logging
import os
import subprocess

import pytest

import tzrec
from tzrec.monitor.run_info import git_revision, write_run_info
from tzrec.run_dir import names
from tzrec.utils.errors import ConfigError
from tzrec.utils.logging import setup_logging


def test_run_json_and_version(tmp_path):
    info = write_run_info(str(tmp_path / "run"), config_hash="h1", world_size=4)
    on_disk = json.loads((tmp_path / "run" / names.RUN_INFO_FILE).read_text())
    assert on_disk == info
    for key in (
        "torch_version",
        "torchrec_version",
        "python_version",
        "host",
        "argv",
        "start_time",
    ):
        assert on_disk[key]
    assert on_disk["world_size"] == 4 and on_disk["config_hash"] == "h1"
    assert (
        tmp_path / "run" / names.VERSION_FILE
    ).read_text() == tzrec.__version__ + "\n"
    assert not [p for p in os.listdir(tmp_path / "run") if p.endswith(".tmp")]


def test_git_revision(tmp_path):
    assert git_revision(str(tmp_path)) is None  # not a repository
    subprocess.run(["git", "init", "-q", str(tmp_path)], check=True)
    (tmp_path / "f").write_text("x")
    env = dict(
        os.environ,
        GIT_AUTHOR_NAME="t",
        GIT_AUTHOR_EMAIL="t@t",
        GIT_COMMITTER_NAME="t",
        GIT_COMMITTER_EMAIL="t@t",
    )
    subprocess.run(["git", "-C", str(tmp_path), "add", "f"], check=True)
    subprocess.run(
        ["git", "-C", str(tmp_path), "commit", "-qm", "m"], check=True, env=env
    )
    rev = git_revision(str(tmp_path))
    assert rev and len(rev) == 40
    (tmp_path / "f").write_text("y")
    assert git_revision(str(tmp_path)) == rev + "-dirty"


@pytest.fixture
def restore_tzrec_logger():
    logger = logging.getLogger("tzrec")
    saved = (list(logger.handlers), logger.level, logger.propagate)
    yield
    for h in list(logger.handlers):
        if h not in saved[0]:
            logger.removeHandler(h)
            h.close()
    logger.level, logger.propagate = saved[1], saved[2]


def test_setup_logging_rank0_console_and_debug_file(
    tmp_path, restore_tzrec_logger, monkeypatch
):
    monkeypatch.delenv("LOG_LEVEL", raising=False)
    logger = setup_logging(str(tmp_path), rank=0)
    logger = setup_logging(str(tmp_path), rank=0)  # idempotent
    ours = [h for h in logger.handlers if getattr(h, "_tzrec_handler", False)]
    assert len(ours) == 2
    console = next(h for h in ours if not isinstance(h, logging.FileHandler))
    assert console.level == logging.INFO
    logging.getLogger("tzrec.train").debug("detail only in the file")
    logger.info("hello")
    for h in ours:
        h.flush()
    text = (tmp_path / "log" / "rank0.log").read_text()
    assert (
        "detail only in the file" in text and "hello" in text and "rank0 DEBUG" in text
    )


def test_setup_logging_other_ranks_and_log_level(
    tmp_path, restore_tzrec_logger, monkeypatch
):
    monkeypatch.setenv("LOG_LEVEL", "debug")
    logger = setup_logging(str(tmp_path), rank=1)
    console = next(
        h
        for h in logger.handlers
        if getattr(h, "_tzrec_handler", False)
        and not isinstance(h, logging.FileHandler)
    )
    assert console.level == logging.WARNING  # non-zero ranks stay quiet
    assert (tmp_path / "log" / "rank1.log").exists()
    logger = setup_logging(None, rank=0)
    (console,) = [h for h in logger.handlers if getattr(h, "_tzrec_handler", False)]
    assert console.level == logging.DEBUG
    monkeypatch.setenv("LOG_LEVEL", "chatty")
    with pytest.raises(ConfigError, match="LOG_LEVEL"):
        setup_logging(None, rank=0)
