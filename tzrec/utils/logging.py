"""The ``tzrec`` logger: console on rank 0, a DEBUG file per rank."""

from __future__ import annotations

import logging
import os
import sys

from tzrec.run_dir.names import LOG_DIR
from tzrec.utils.errors import ConfigError

LOGGER_NAME = "tzrec"
_MARK = "_tzrec_handler"
_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")


def console_level() -> int:
    """The console level from the ``LOG_LEVEL`` environment variable (INFO)."""
    name = os.environ.get("LOG_LEVEL", "INFO").strip().upper() or "INFO"
    if name not in _LEVELS:
        raise ConfigError(
            f"unknown log level {name!r}",
            "environment variable LOG_LEVEL",
            f"use one of {', '.join(_LEVELS)}",
        )
    return getattr(logging, name)


def setup_logging(model_dir: str | None, rank: int) -> logging.Logger:
    """Configures the ``tzrec`` logger; calling it again replaces its handlers.

    Rank 0 logs to the console at ``LOG_LEVEL`` (INFO by default); other ranks
    only at WARNING and above, so a job prints one progress stream. With a
    ``model_dir`` every rank also writes everything (DEBUG) to
    ``model_dir/log/rank<r>.log``.

    Args:
        model_dir: the run's folder, or None for console only.
        rank: this process's global rank.

    Returns:
        The ``tzrec`` logger.
    """
    level = console_level()  # before touching handlers: may raise
    logger = logging.getLogger(LOGGER_NAME)
    for handler in list(logger.handlers):
        if getattr(handler, _MARK, False):
            logger.removeHandler(handler)
            handler.close()
    if rank != 0:
        level = max(level, logging.WARNING)
    console = logging.StreamHandler()
    console.setLevel(level)
    console.setFormatter(
        logging.Formatter("%(asctime)s %(levelname)s %(message)s", "%H:%M:%S")
    )
    handlers: list[logging.Handler] = [console]
    if model_dir:
        log_dir = os.path.join(model_dir, LOG_DIR)
        os.makedirs(log_dir, exist_ok=True)
        file = _FileHandler(os.path.join(log_dir, f"rank{rank}.log"))
        file.setLevel(logging.DEBUG)
        file.setFormatter(
            logging.Formatter(
                f"%(asctime)s rank{rank} %(levelname)s %(name)s:%(lineno)d %(message)s"
            )
        )
        handlers.append(file)
    for handler in handlers:
        setattr(handler, _MARK, True)
        logger.addHandler(handler)
    logger.setLevel(min(h.level for h in handlers))
    # Our handlers print everything; passing records to the root logger too
    # would print them twice wherever a library configured the root.
    logger.propagate = False
    return logger


class _FileHandler(logging.FileHandler):
    """A FileHandler that stops, with one warning, when its file cannot be written.

    logging's default prints a traceback for every record that fails to be
    written (a full disk fails them all); the run's own writes report the
    full disk as one error line.
    """

    def handleError(self, record: logging.LogRecord) -> None:  # noqa: N802
        if self.level > logging.CRITICAL:
            return
        self.setLevel(logging.CRITICAL + 1)  # drop every later record
        err = sys.exc_info()[1]
        print(
            f"warning: stopped writing {self.baseFilename}: {err}",
            file=sys.stderr,
            flush=True,
        )
