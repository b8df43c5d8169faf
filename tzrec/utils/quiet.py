"""Silences third-party warnings that users cannot act on.

torchrec's planner and DistributedModelParallel warn about their own
internals (topology construction, storage-reservation heuristics, a deprecated
DDP argument they pass themselves) on every start. tzrec's console is meant to
carry only what a user should read, so these go away; real errors still show.
"""

from __future__ import annotations

import contextlib
import logging
import warnings
from collections.abc import Iterator

_NOISY_LOGGERS = (
    "torchrec.distributed.planner.types",
    "torchrec.distributed.planner.storage_reservations",
    "torch.fx._symbolic_trace",
)


def quiet_loggers() -> None:
    """Raises the noisy third-party loggers to ERROR."""
    for name in _NOISY_LOGGERS:
        logging.getLogger(name).setLevel(logging.ERROR)


@contextlib.contextmanager
def quiet_third_party() -> Iterator[None]:
    """Hides third-party Future/Deprecation/User warnings inside the block."""
    quiet_loggers()
    with warnings.catch_warnings():
        for category in (FutureWarning, DeprecationWarning, UserWarning):
            warnings.filterwarnings("ignore", category=category, module=r"torchrec\..*")
            warnings.filterwarnings("ignore", category=category, module=r"torch\..*")
            warnings.filterwarnings("ignore", category=category, module=r"fbgemm_gpu.*")
        yield


def quiet_globally() -> None:
    """For a CLI process: the same filters as :func:`quiet_third_party`, for good."""
    quiet_loggers()
    for category in (FutureWarning, DeprecationWarning, UserWarning):
        for module in (r"torchrec\..*", r"torch\..*", r"fbgemm_gpu.*"):
            warnings.filterwarnings("ignore", category=category, module=module)
