"""The one way tests start tzrec's CLIs: a subprocess runner, torchrun, flags.

Both tiers import from here: ``run_cli`` (``python -m <module>``, waited
for), ``run_in_process`` (the same entry point called in the test's own
process, for errors raised before training: no interpreter or torch import
per case) and ``start_cli`` (``run_cli`` in the background),
``torchrun_cmd``/``run_torchrun`` (``python -m torch.distributed.run`` on a
free port) and ``train_args`` (``tzrec.train_eval`` flags for a config and a
data folder). Children get the parent's environment without a rendezvous a
torchrun parent left behind and without ``TZREC_*``/``LOG_LEVEL`` settings
(a failpoint or debug flag reaches a child only when a test passes it).
"""

from __future__ import annotations

import contextlib
import importlib
import io
import json
import logging
import os
import socket
import subprocess
import sys
import threading
import warnings
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
QUICKSTART_CONFIG = REPO / "experiments" / "deepfm_synthetic.config"
# Four features and a small DeepFM: the catalogue's and most CLI tests' config.
TINY_CONFIG = REPO / "tests" / "configs" / "tiny.config"

# Shrinks the quickstart config to a few seconds of training.
TINY_EDITS = {
    "train_config.num_epochs": 0,
    "train_config.num_steps": 40,
    "train_config.save_checkpoints_steps": 20,
    "train_config.log_step_count_steps": 10,
    "data_config.batch_size": 256,
    "data_config.num_workers": 0,
}

_DIST_VARS = ("MASTER_ADDR", "MASTER_PORT", "RANK", "WORLD_SIZE", "LOCAL_RANK")


def child_env(env: Mapping[str, str] | None = None) -> dict[str, str]:
    """The environment for a child: inherited minus rendezvous and TZREC_*."""
    inherited = {
        k: v
        for k, v in os.environ.items()
        if k not in _DIST_VARS and not k.startswith("TZREC_") and k != "LOG_LEVEL"
    }
    return {**inherited, "PYTHONUNBUFFERED": "1", **(env or {})}


def run_cli(
    module: str,
    *args: str,
    env: Mapping[str, str] | None = None,
    timeout: float = 300,
    preexec_fn: Callable[[], None] | None = None,
) -> subprocess.CompletedProcess:
    """Runs ``python -m <module> args`` from the repo root; returns the result."""
    return subprocess.run(
        [sys.executable, "-m", module, *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        cwd=REPO,
        env=child_env(env),
        preexec_fn=preexec_fn,
    )


# ``python -m`` module -> the module holding its ``main`` and ``build_parser``.
_ENTRY_MODULES = {
    "tzrec.export": "tzrec.export.exporter",
    "tzrec.benchmark": "tzrec.benchmark.__main__",
}


def run_in_process(
    module: str, *args: str, env: Mapping[str, str] | None = None
) -> subprocess.CompletedProcess:
    """``run_cli``'s result for ``python -m <module> args``, run in this process.

    The entry point's ``main`` goes through the same ``run_main`` as the
    module's ``__main__`` (flags, one-line errors, exit status), with
    ``child_env``'s environment, the repo root as working directory and
    stdout/stderr captured. What a run changes in the process (environment,
    working directory, logging handlers, warning filters, thread and sys
    excepthooks, a process group) is put back afterwards, so cases do not leak
    into each other. For failures before or during set-up; a run that trains, needs a
    failpoint (read at import) or torchrun belongs in a subprocess.
    """
    if any(k.startswith("TZREC_FAILPOINT") for k in env or {}):
        raise ValueError("failpoints are read at import: use run_cli")
    from tzrec.utils.cli import run_main

    entry = importlib.import_module(_ENTRY_MODULES.get(module, module))
    out, err = io.StringIO(), io.StringIO()
    code: object = 0
    with _process_state_restored(child_env(env)):
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            try:
                run_main(entry.main, entry.build_parser(), list(args))
            except SystemExit as e:
                code = e.code
    rc = code if isinstance(code, int) else (0 if code is None else 1)
    argv = [sys.executable, "-m", module, *args]
    return subprocess.CompletedProcess(argv, rc, out.getvalue(), err.getvalue())


@contextlib.contextmanager
def _process_state_restored(env: Mapping[str, str]) -> Iterator[None]:
    """Runs the block under ``env`` in REPO; restores what a CLI run changes."""
    saved_env, saved_cwd = dict(os.environ), os.getcwd()
    loggers = [logging.getLogger(), logging.getLogger("tzrec")]
    saved_loggers = [(lg, list(lg.handlers), lg.level, lg.propagate) for lg in loggers]
    saved_hook = threading.excepthook
    saved_sys_hook = sys.excepthook
    os.environ.clear()
    os.environ.update(env)
    os.chdir(REPO)
    try:
        with warnings.catch_warnings():  # run_main's quiet_globally filters
            yield
    finally:
        os.environ.clear()
        os.environ.update(saved_env)
        os.chdir(saved_cwd)
        for lg, handlers, level, propagate in saved_loggers:
            for handler in [h for h in lg.handlers if h not in handlers]:
                lg.removeHandler(handler)
                handler.close()
            lg.setLevel(level)
            lg.propagate = propagate
        threading.excepthook = saved_hook
        sys.excepthook = saved_sys_hook
        _end_process_group()


def _end_process_group() -> None:
    """Ends a process group a failed in-process run left initialised."""
    if "tzrec.utils.dist" in sys.modules:
        from tzrec.utils.dist import shutdown_distributed

        shutdown_distributed()


def start_cli(
    module: str, *args: str, env: Mapping[str, str] | None = None, **popen: Any
) -> subprocess.Popen:
    """Starts ``python -m <module> args`` from the repo root without waiting.

    ``popen``: more ``subprocess.Popen`` arguments (``stdout``, ``text``, ...).
    """
    return subprocess.Popen(
        [sys.executable, "-m", module, *args], cwd=REPO, env=child_env(env), **popen
    )


def free_port() -> int:
    """A TCP port on 127.0.0.1 that was free a moment ago."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def torchrun_cmd(nproc: int, *target: str) -> list[str]:
    """``torchrun`` with ``nproc`` ranks on a free local port, then ``target``.

    ``target`` is what torchrun runs: ``"-m", "tzrec.train_eval", *flags`` or
    a script path and its arguments.
    """
    return [
        sys.executable,
        "-m",
        "torch.distributed.run",
        f"--nproc_per_node={nproc}",
        "--master_addr=127.0.0.1",
        f"--master_port={free_port()}",
        *target,
    ]


def run_torchrun(
    nproc: int,
    *target: str,
    env: Mapping[str, str] | None = None,
    timeout: float = 600,
) -> subprocess.CompletedProcess:
    """Runs :func:`torchrun_cmd` to the end; a hang fails through ``timeout``."""
    return subprocess.run(
        torchrun_cmd(nproc, *target),
        capture_output=True,
        text=True,
        timeout=timeout,
        cwd=REPO,
        env=child_env(env),
    )


def train_args(
    data: Path | str,
    model_dir: Path | str,
    *extra: str,
    config: Path | str = QUICKSTART_CONFIG,
    base_edits: Mapping[str, object] | None = TINY_EDITS,
    train: Path | str | None = None,
    eval_: Path | str | None = None,
    **edits: object,
) -> list[str]:
    """``tzrec.train_eval`` flags: ``config`` on ``data``'s train/eval folders.

    Args:
        data: a folder with ``train/`` and ``eval/``.
        model_dir: the run's model_dir.
        *extra: more flags, appended as given.
        config: the pipeline config (default: the quickstart's).
        base_edits: ``--edit_config_json`` edits under ``edits`` (default:
            shrink the quickstart config; None: the config as written).
        train: the training input instead of ``data/train``.
        eval_: the evaluation input instead of ``data/eval``.
        **edits: more config edits by dotted path, over ``base_edits``.
    """
    args = [
        "--pipeline_config_path",
        str(config),
        "--model_dir",
        str(model_dir),
        "--train_input_path",
        str(train or Path(data) / "train"),
        "--eval_input_path",
        str(eval_ or Path(data) / "eval"),
    ]
    all_edits = {**(base_edits or {}), **edits}
    if all_edits:
        args += ["--edit_config_json", json.dumps(all_edits)]
    return [*args, *extra]
