"""glibc allocator settings for training processes.

By default glibc serves blocks above a dynamic threshold with mmap and returns
them on free, and trims the heap top; a training step's large activations then
fault their pages in afresh every step (11-15k page faults per step at batch
4096 here). Keeping freed memory cut element-wise and concat time by half and
raised end-to-end throughput 15-30% on the 2-core benchmark machine.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import logging

_logger = logging.getLogger("tzrec")
_M_TRIM_THRESHOLD = -1
_M_MMAP_THRESHOLD = -3


def keep_freed_memory() -> bool:
    """Serves big tensors from the heap and keeps freed memory (glibc only).

    Returns:
        Whether the settings were applied (False off glibc).
    """
    name = ctypes.util.find_library("c")
    try:
        libc = ctypes.CDLL(name or "libc.so.6")
        mallopt = libc.mallopt
    except (OSError, AttributeError):
        return False
    ok = mallopt(_M_MMAP_THRESHOLD, 32 * 2**20) and mallopt(_M_TRIM_THRESHOLD, 2**30)
    _logger.debug("glibc mallopt (mmap 32 MiB, trim 1 GiB): %s", bool(ok))
    return bool(ok)
