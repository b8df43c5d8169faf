"""Command-line plumbing shared by every entry point.

TorchEasyRec parses flags with ``parse_known_args``, so a misspelled flag is
silently ignored; here an unknown flag is an error that names it and suggests
the closest known one. User mistakes (TzrecError) print one line and exit 2;
anything else is a bug and keeps its traceback.
"""

from __future__ import annotations

import argparse
import contextlib
import difflib
import os
import signal
import sys
import traceback
from collections.abc import Callable, Sequence
from typing import NoReturn

from tzrec.utils import failures, supervise
from tzrec.utils.errors import ConfigError, TzrecError
from tzrec.utils.quiet import quiet_globally

EXIT_USER_ERROR = 2
EXIT_BUG = 1
EXIT_INTERRUPTED = 130
EXIT_TERMINATED = 143


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
    130 on Ctrl-C; 1 with one line when another torchrun rank is gone; 1 with
    the traceback for any other exception, which is a bug. Under torchrun the
    line is printed once per job (see :func:`tzrec.utils.failures.report`).

    Args:
        main_fn: the entry point's body, given the parsed flags.
        parser: from ``make_parser``.
        argv: flags to parse; ``sys.argv[1:]`` when None.

    """
    argv = list(sys.argv[1:] if argv is None else argv)
    debug = os.environ.get("TZREC_DEBUG", "") not in ("", "0") or "--debug" in argv
    if not debug:
        quiet_globally()
    failures.install_excepthooks()
    # Until training installs its graceful handler: SIGTERM reports like Ctrl-C.
    previous = None
    with contextlib.suppress(ValueError):  # not the main thread
        previous = signal.signal(signal.SIGTERM, _terminate)
    try:
        _run_and_exit(main_fn, parser, argv, debug)
    finally:  # in-process callers (tests) get their handler back
        if previous is not None:
            signal.signal(signal.SIGTERM, previous)


def _run_and_exit(
    main_fn: Callable[[argparse.Namespace], int | None],
    parser: argparse.ArgumentParser,
    argv: list[str],
    debug: bool,
) -> NoReturn:
    """``run_main``'s body: runs ``main_fn`` and exits with its status."""
    try:
        args = parser.parse_args(argv)
        code = main_fn(args)
        supervise.stop()
        _shutdown_distributed()
    except TzrecError as e:
        _ending()
        if debug:
            traceback.print_exc()
            if e.detail:
                print(e.detail, file=sys.stderr)
        failures.report(f"error: {e.one_line()}")
        sys.exit(EXIT_USER_ERROR)
    except (KeyboardInterrupt, Terminated) as e:
        _ending()
        what = "SIGTERM" if isinstance(e, Terminated) else "Ctrl-C"
        print(f"error: interrupted ({what})", file=sys.stderr, flush=True)
        sys.exit(EXIT_TERMINATED if isinstance(e, Terminated) else EXIT_INTERRUPTED)
    except Exception as e:
        _exit_on_exception(e, debug)
    sys.exit(code or 0)


def _ending() -> None:
    """A failing rank: peers are told, and a SIGTERM now ends it silently.

    A non-zero rank waits before reporting (``failures.report``) so that
    torchrun's SIGTERM stops it without a duplicate line.
    """
    supervise.note_exit()
    with contextlib.suppress(ValueError):
        signal.signal(signal.SIGTERM, signal.SIG_DFL)


class Terminated(BaseException):
    """SIGTERM outside training (start-up, eval, export, predict)."""


def _terminate(signum: int, frame: object) -> None:
    raise Terminated()


def _exit_on_exception(e: Exception, debug: bool) -> NoReturn:
    """Exits for an exception that is not a TzrecError (see ``run_main``)."""
    gone = supervise.lost_after(e)
    if gone is not None:  # a launcher or peer died: say which (exits)
        if debug:
            traceback.print_exc()
        supervise.stop_for(gone)
    _ending()
    full, peer = failures.storage_error(e), failures.peer_failure(e)
    killed = failures.worker_killed(e)
    if debug or (full is None and peer is None and killed is None):
        traceback.print_exc()
    if killed is not None:
        failures.report(failures.worker_killed_message(killed))
        sys.exit(EXIT_BUG)
    if full is not None:
        failures.report(failures.storage_message(full))
        sys.exit(EXIT_USER_ERROR)
    if peer is not None:
        failures.report(failures.peer_message(peer))
        sys.exit(EXIT_BUG)
    print(
        "error: internal error (the traceback above is a bug in tzrec)",
        file=sys.stderr,
        flush=True,
    )
    sys.exit(EXIT_BUG)


def _shutdown_distributed() -> None:
    """Orderly process-group teardown after a successful command (if any)."""
    if "torch.distributed" not in sys.modules:
        return
    from tzrec.utils.dist import shutdown_distributed

    shutdown_distributed()
