"""Shared CLI plumbing: unknown flags, exit codes, one-line errors."""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from tests.cli import REPO
from tzrec.utils.cli import make_parser, run_main
from tzrec.utils.errors import ConfigError

SCRIPT = textwrap.dedent(
    """
    from tzrec.utils.cli import make_parser, run_main

    parser = make_parser("demo", "a demo entry point")
    parser.add_argument("--pipeline_config_path", required=True)
    parser.add_argument("--model_dir")
    run_main(lambda args: print("ran", args.model_dir), parser)
    """
)


def _parser() -> argparse.ArgumentParser:
    parser = make_parser("demo", "a demo entry point")
    parser.add_argument("--pipeline_config_path")
    parser.add_argument("--model_dir")
    return parser


def _run(
    main, argv: list[str], capsys: pytest.CaptureFixture[str]
) -> tuple[int, str, str]:
    with pytest.raises(SystemExit) as info:
        run_main(main, _parser(), argv)
    out, err = capsys.readouterr()
    return info.value.code, out, err


def test_unknown_flag_in_a_subprocess(tmp_path: Path) -> None:
    script = tmp_path / "demo.py"
    script.write_text(SCRIPT)
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    env.pop("TZREC_DEBUG", None)
    proc = subprocess.run(
        [
            sys.executable,
            str(script),
            "--pipeline_config_path",
            "p",
            "--modle_dir",
            "m",
        ],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
    )
    assert proc.returncode == 2
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1, proc.stderr
    assert lines[0].startswith("error: unknown flag --modle_dir")
    assert "did you mean --model_dir?" in lines[0]
    assert proc.stdout == ""


def test_good_flags_run_main_and_exit_zero(capsys: pytest.CaptureFixture) -> None:
    code, out, err = _run(
        lambda a: print("dir", a.model_dir), ["--model_dir", "d"], capsys
    )
    assert (code, out, err) == (0, "dir d\n", "")


def test_return_value_is_exit_code(capsys: pytest.CaptureFixture) -> None:
    assert _run(lambda a: 3, [], capsys)[0] == 3


def test_prefix_of_a_flag_is_rejected(capsys: pytest.CaptureFixture) -> None:
    code, _, err = _run(lambda a: None, ["--model_di", "d"], capsys)
    assert code == 2
    assert err == (
        "error: unknown flag --model_di (command line): did you mean --model_dir?\n"
    )


def test_flag_with_equals_sign(capsys: pytest.CaptureFixture) -> None:
    code, _, err = _run(lambda a: None, ["--pipline_config_path=x"], capsys)
    assert code == 2 and "unknown flag --pipline_config_path " in err
    assert "did you mean --pipeline_config_path?" in err


def test_stray_positional_is_rejected(capsys: pytest.CaptureFixture) -> None:
    code, _, err = _run(lambda a: None, ["stray"], capsys)
    assert code == 2 and "unexpected argument 'stray'" in err


def test_missing_required_flag_is_one_line(capsys: pytest.CaptureFixture) -> None:
    parser = make_parser("demo", "d")
    parser.add_argument("--pipeline_config_path", required=True)
    with pytest.raises(SystemExit) as info:
        run_main(lambda a: None, parser, [])
    err = capsys.readouterr().err
    assert info.value.code == 2
    assert err.count("\n") == 1 and "--pipeline_config_path" in err


def _config_error(args: argparse.Namespace) -> None:
    raise ConfigError("bad value", "train_config.num_steps", "use a number")


def test_user_error_is_one_line_without_traceback(
    capsys: pytest.CaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("TZREC_DEBUG", raising=False)
    code, _, err = _run(_config_error, [], capsys)
    assert code == 2
    assert err == "error: bad value (train_config.num_steps): use a number\n"


def test_debug_flag_and_env_show_traceback(
    capsys: pytest.CaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("TZREC_DEBUG", raising=False)
    code, _, err = _run(_config_error, ["--debug"], capsys)
    assert code == 2 and "Traceback" in err and err.endswith("use a number\n")
    monkeypatch.setenv("TZREC_DEBUG", "1")
    code, _, err = _run(_config_error, [], capsys)
    assert code == 2 and "Traceback" in err


def test_ctrl_c_exits_130(capsys: pytest.CaptureFixture) -> None:
    def interrupted(args: argparse.Namespace) -> None:
        raise KeyboardInterrupt

    code, _, err = _run(interrupted, [], capsys)
    assert code == 130 and err.count("\n") == 1 and "interrupted" in err


def test_bug_keeps_traceback_and_exits_1(capsys: pytest.CaptureFixture) -> None:
    def buggy(args: argparse.Namespace) -> None:
        raise ZeroDivisionError("oops")

    code, _, err = _run(buggy, [], capsys)
    assert code == 1
    assert "Traceback" in err and "ZeroDivisionError: oops" in err


def test_help_exits_zero(capsys: pytest.CaptureFixture) -> None:
    code, out, _ = _run(lambda a: None, ["--help"], capsys)
    assert code == 0 and "--debug" in out and "--model_dir" in out
