"""Command-line plumbing shared by every entry point.

TorchEasyRec parses flags with ``parse_known_args``, so a misspelled flag is
silently ignored; here an unknown flag is an error that names it and suggests
the closest known one. User mistakes (TzrecError) print one line and exit 2;
anything else is a bug and keeps its traceback.
"""

from __future__ import annotations

import argparse
import difflib
import errno
import logging
import os
import sys
import threading
import time
import traceback
from collections.abc import Callable, Sequence
from typing import NoReturn

from tzrec.utils.errors import ConfigError, TzrecError

EXIT_USER_ERROR = 2
EXIT_BUG = 1
EXIT_INTERRUPTED = 130
# Seconds a non-zero rank waits before reporting an error (see report_error).
PEER_GRACE_S = 10.0
# errno values of a write that failed for lack of space or a read-only disk.
STORAGE_ERRNOS = frozenset({errno.ENOSPC, errno.EDQUOT, errno.EFBIG, errno.EROFS})
_DEFAULT_THREAD_HOOK = threading.excepthook


class _Parser(argparse.ArgumentParser):
    """An ArgumentParser that raises ConfigError instead of printing usage."""

    def error(self, message: str) -> NoReturn:
        """Raises ConfigError for argparse's own errors (missing, bad type)."""
        raise ConfigError(message, "command line", f"see {self.prog} --help")

    def parse_args(  # type: ignore[override]
        self,
        args: Sequence[str] | None = None,
        namespace: argparse.Namespace | None = None,
    ) -> argparse.Namespace:
        """Parses flags; an unknown flag raises ConfigError naming it.

        Unknown flags are reported before missing required ones: a misspelled
        required flag is the cause, "required" only its symptom.
        """
        argv = list(sys.argv[1:] if args is None else args)
        unknown = [
            a
            for a in argv
            if a.startswith("--")
            and a.split("=", 1)[0] not in self._option_string_actions
        ]
        if unknown:
            raise _unknown_flag(self, unknown)
        parsed, extras = self.parse_known_args(argv, namespace)
        if extras:
            raise _unknown_flag(self, extras)
        return parsed


def _unknown_flag(parser: argparse.ArgumentParser, extras: list[str]) -> ConfigError:
    flags = [a for a in extras if a.startswith("-")]
    if not flags:
        return ConfigError(
            f"unexpected argument {extras[0]!r}",
            "command line",
            f"see {parser.prog} --help",
        )
    flag = flags[0].split("=", 1)[0]
    known = [s for s in parser._option_string_actions if s.startswith("--")]
    close = difflib.get_close_matches(flag, known, n=1, cutoff=0.6)
    fix = f"did you mean {close[0]}?" if close else f"see {parser.prog} --help"
    return ConfigError(f"unknown flag {flag}", "command line", fix)


def make_parser(prog: str, description: str) -> argparse.ArgumentParser:
    """An argument parser that rejects unknown flags and has ``--debug``.

    Prefixes of flags are not accepted (``allow_abbrev=False``), so a flag
    either matches exactly or is reported.

    Args:
        prog: the program name shown in help and errors, e.g.
            ``python -m tzrec.train_eval``.
        description: one paragraph for ``--help``.

    Returns:
        The parser; add the entry point's own flags to it.

    """
    parser = _Parser(
        prog=prog,
        description=description,
        allow_abbrev=False,
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    parser.add_argument(
        "--debug",
        action="store_true",
        help="show the traceback of errors (also: environment TZREC_DEBUG=1)",
    )
    return parser


def run_main(
    main_fn: Callable[[argparse.Namespace], int | None],
    parser: argparse.ArgumentParser,
    argv: Sequence[str] | None = None,
) -> NoReturn:
    """Parses flags, runs ``main_fn`` and exits with a meaningful status.

    Exit status: ``main_fn``'s return value (None: 0); 2 with
    ``error: <one line>`` on stderr for a TzrecError or a write that failed
    for lack of space (traceback only with ``--debug`` or ``TZREC_DEBUG=1``);
    130 on Ctrl-C; 1 with the traceback for any other exception, which is a
    bug. Under torchrun rank 0 reports at once; another rank waits briefly
    first (see :func:`report_error`).

    Args:
        main_fn: the entry point's body, given the parsed flags.
        parser: from ``make_parser``.
        argv: flags to parse; ``sys.argv[1:]`` when None.

    """
    argv = list(sys.argv[1:] if argv is None else argv)
    debug = os.environ.get("TZREC_DEBUG", "") not in ("", "0") or "--debug" in argv
    threading.excepthook = _thread_excepthook
    try:
        args = parser.parse_args(argv)
        code = main_fn(args)
    except TzrecError as e:
        if debug:
            traceback.print_exc()
            if e.detail:
                print(e.detail, file=sys.stderr)
        report_error(e.one_line())
        sys.exit(EXIT_USER_ERROR)
    except KeyboardInterrupt:
        print("error: interrupted (Ctrl-C)", file=sys.stderr, flush=True)
        sys.exit(EXIT_INTERRUPTED)
    except Exception as e:
        full = storage_error(e)
        if full is None:  # a bug: keep everything needed to fix it
            traceback.print_exc()
            print(
                "error: internal error (the traceback above is a bug in tzrec)",
                file=sys.stderr,
                flush=True,
            )
            sys.exit(EXIT_BUG)
        if debug:
            traceback.print_exc()
        report_error(_storage_message(full))
        sys.exit(EXIT_USER_ERROR)
    sys.exit(code or 0)


def report_error(line: str) -> None:
    """Prints ``error: <line>`` once per job.

    A mistake in the config or data usually fails every rank alike. Rank 0
    prints at once and exits, and torchrun then stops the other ranks; a
    non-zero rank first waits ``PEER_GRACE_S`` so that it is stopped before
    printing a duplicate. One still alive after the wait failed alone, and
    prints its error tagged with its rank.
    """
    rank = int(os.environ.get("RANK", "0") or 0)
    if rank != 0 and int(os.environ.get("WORLD_SIZE", "1") or 1) > 1:
        logging.getLogger("tzrec").debug("error: %s", line)  # the rank's log file
        time.sleep(PEER_GRACE_S)
        line = f"[rank {rank}] {line}"
    print(f"error: {line}", file=sys.stderr, flush=True)


def storage_error(exc: BaseException | None) -> OSError | None:
    """The first write that failed for lack of space in ``exc``'s chain.

    Disk full, quota, file-size limit or a read-only file system: the
    environment, not a bug. A later failure (e.g. while closing logs) is
    raised while handling the first, which is found by following
    ``__context__``.

    Returns:
        The earliest such OSError (with the file name a wrapper of it added,
        if it has none), or None when there is none.
    """
    chain: list[OSError] = []
    seen: set[int] = set()
    while exc is not None and id(exc) not in seen:
        seen.add(id(exc))
        if isinstance(exc, OSError) and exc.errno in STORAGE_ERRNOS:
            chain.append(exc)
        exc = exc.__cause__ or exc.__context__
    if not chain:
        return None
    first = chain[-1]
    named = [
        e.filename for e in reversed(chain) if e.filename and e.errno == first.errno
    ]
    return OSError(first.errno, first.strerror, named[0] if named else None)


def _storage_message(e: OSError) -> str:
    where = e.filename or "a file in model_dir"
    return TzrecError(
        f"cannot write: {e.strerror or e}",
        str(where),
        "free disk space (or raise the quota or file-size limit) and run again; "
        "train_eval resumes from the last checkpoint with --continue_train",
    ).one_line()


def _thread_excepthook(args: threading.ExceptHookArgs) -> None:
    # TensorBoard's writer thread dies on a full disk; the main thread raises
    # the same error at its next write and reports it as one line.
    if storage_error(args.exc_value) is not None:
        return
    _DEFAULT_THREAD_HOOK(args)
