"""Peak resident memory of this process and its children while a case runs."""

from __future__ import annotations

import threading

import psutil


def rss_mb() -> float:
    """Resident MiB of this process plus its live children (DataLoader workers)."""
    proc = psutil.Process()
    total = proc.memory_info().rss
    for child in proc.children(recursive=True):
        try:
            total += child.memory_info().rss
        except psutil.NoSuchProcess:
            pass
    return total / 2**20


class PeakRss:
    """Samples :func:`rss_mb` every ``interval`` seconds inside a ``with`` block.

    ``getrusage``'s maximum is process-wide and never falls, so it cannot
    tell one case from the one before it in the same process; sampling can.
    """

    def __init__(self, interval: float = 0.05) -> None:
        self.interval = interval
        self.peak_mb = 0.0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while True:
            self.peak_mb = max(self.peak_mb, rss_mb())
            if self._stop.wait(self.interval):
                return

    def __enter__(self) -> PeakRss:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()
        self.peak_mb = max(self.peak_mb, rss_mb())
