"""The pieces behind the one-line errors: worker errors, full disks, logs."""

from __future__ import annotations

import errno
import subprocess
import sys
import textwrap

import torch
from torch.utils.data import DataLoader, IterableDataset

from tests.cli import REPO
from tzrec.utils import failures
from tzrec.utils.errors import DataError


class _BadRows(IterableDataset):
    def __iter__(self):
        yield torch.zeros(1)
        raise DataError("label is NaN or missing", 'column "label"', "drop them")


def test_error_from_a_loader_worker_keeps_its_one_line():
    loader = DataLoader(_BadRows(), batch_size=None, num_workers=1)
    try:
        list(loader)
    except DataError as e:
        assert e.one_line() == 'label is NaN or missing (column "label"): drop them'
        assert "Traceback" in e.detail  # kept for --debug
    else:
        raise AssertionError("the worker's DataError was not raised")


def test_storage_error_finds_the_first_failure_and_its_file():
    try:
        try:
            try:
                raise OSError(errno.EFBIG, "File too large")
            except OSError as e:
                raise OSError(e.errno, e.strerror, "/d/train_eval_result.jsonl") from e
        except OSError:
            raise OSError(errno.EFBIG, "File too large", "/d/events.jsonl") from None
    except OSError as last:
        found = failures.storage_error(last)
    # ``from None`` hides the cause from the traceback, not from __context__.
    assert found.filename == "/d/train_eval_result.jsonl"
    assert failures.storage_error(ValueError("no")) is None
    line = failures.storage_message(found)
    assert line.startswith("error: cannot write: File too large (/d/train_eval_")
    assert "--continue_train" in line


def _run_limited(code: str, limit: int) -> subprocess.CompletedProcess:
    """Runs ``code`` with a file-size limit and SIGXFSZ ignored."""
    prelude = textwrap.dedent(
        f"""
        import resource, signal
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
        resource.setrlimit(resource.RLIMIT_FSIZE, ({limit}, {limit}))
        """
    )
    return subprocess.run(
        [sys.executable, "-c", prelude + textwrap.dedent(code)],
        capture_output=True,
        text=True,
        cwd=REPO,
        timeout=120,
    )


def test_failed_append_leaves_the_file_as_it_was(tmp_path):
    path = tmp_path / "log.jsonl"
    path.write_text('{"global_step": 1, "auc": 0.5}\n')
    old = path.read_bytes()
    proc = _run_limited(
        f"""
        from tzrec.monitor.events import append_json_line
        try:
            append_json_line({str(path)!r}, {{"global_step": 2, "auc": 0.7}})
        except OSError as e:
            print(e.errno, e.filename)
        """,
        limit=len(old) + 10,  # room for part of the new line only
    )
    assert proc.stdout.split() == [str(errno.EFBIG), str(path)], proc.stderr
    assert path.read_bytes() == old


def test_log_file_that_cannot_grow_warns_once(tmp_path):
    proc = _run_limited(
        f"""
        from tzrec.utils.logging import setup_logging
        log = setup_logging({str(tmp_path)!r}, 0)
        for i in range(30):
            log.info("line %d %s", i, "x" * 40)
        print("still running")
        """,
        limit=300,
    )
    assert proc.returncode == 0, proc.stderr
    assert "still running" in proc.stdout
    assert "Traceback" not in proc.stderr
    warnings = [x for x in proc.stderr.splitlines() if x.startswith("warning:")]
    assert len(warnings) == 1 and "rank0.log" in warnings[0]


def test_eval_data_equal_to_train_data_is_said(tiny_data, caplog):
    from tests.integration.hardening.helpers import train_flags
    from tzrec import train_eval

    train = str(tiny_data / "train")
    flags = train_flags(tiny_data, tiny_data / "md", train=train, eval_=train + "/")
    args = train_eval.build_parser().parse_args(flags)
    with caplog.at_level("WARNING", logger="tzrec"):
        train_eval.load_resolved_config(args)
    (record,) = [r for r in caplog.records if "eval_input_path" in r.getMessage()]
    assert "is the train_input_path" in record.getMessage()


def test_worker_killed_from_outside_is_not_a_bug():
    gone = RuntimeError(
        "DataLoader worker (pid(s) 4242) exited unexpectedly: killed by signal"
    )
    assert (
        failures.worker_killed(gone)
        == "DataLoader worker (pid(s) 4242) exited unexpectedly"
    )
    assert failures.worker_killed(RuntimeError("shape mismatch")) is None
    line = failures.worker_killed_message(failures.worker_killed(gone))
    assert (
        line.startswith("error: DataLoader worker (pid(s) 4242) exited")
        and "\n" not in line
    )
