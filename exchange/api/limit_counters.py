"""The rate limits' counters in one process: limits' ``MemoryStorage``, swept for expired keys
at most once a second.

``MemoryStorage`` starts a new ``threading.Timer`` 10 ms ahead on every count when none is
running. Under load that is a new thread every 10 ms in each worker, each waking to take the
GIL from the requests: about a fifth of a worker's samples in bench/ingest.py's profile. The
fixed-window counts the hub uses do not need it: ``get`` drops an expired key before each count
(limits' ``incr``), so a count is as exact without the sweep. The sweep only frees the keys no
longer counted, which once a second does as well.
"""

from __future__ import annotations

import threading
import time
from typing import Any, Final

from limits.storage import MemoryStorage

SCHEME: Final = "exchange-memory"
"""The storage URI's scheme (``exchange-memory://``)."""

SWEEP_EVERY: Final = 1.0
"""Seconds between two sweeps of the expired keys, at least."""


class SweptMemoryStorage(MemoryStorage):
    """``MemoryStorage`` whose expiry sweep starts at most every ``SWEEP_EVERY`` seconds."""

    # Registers the scheme with limits (its StorageRegistry).
    STORAGE_SCHEME = [SCHEME]  # noqa: RUF012 (declared so by limits)

    def __init__(self, uri: str | None = None, wrap_exceptions: bool = False, **options: Any):
        self._next_sweep = 0.0
        self._sweep_lock = threading.Lock()
        super().__init__(uri, wrap_exceptions=wrap_exceptions, **options)

    def _MemoryStorage__schedule_expiry(self) -> None:
        # limits calls its private ``__schedule_expiry`` on every count; this replaces it
        # (tests/exchange/test_limit_counters.py fails if limits stops calling it).
        now = time.monotonic()
        with self._sweep_lock:
            if now < self._next_sweep or self.timer.is_alive():
                return
            self._next_sweep = now + SWEEP_EVERY
            sweep = self._MemoryStorage__expire_events  # type: ignore[attr-defined]
            self.timer = threading.Timer(0.01, sweep)
            self.timer.daemon = True
            self.timer.start()
