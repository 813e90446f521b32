"""The rate limits' in-process counters (``api.limit_counters``): a count is as exact as
limits' own ``MemoryStorage``'s, and counting under load starts one sweep thread a second at
most, not one every 10 ms.
"""

from __future__ import annotations

import threading
import time
from typing import Any

import pytest
from limits import parse
from limits.storage import MemoryStorage, storage_from_string
from limits.strategies import FixedWindowRateLimiter

from exchange.api import limit_counters
from exchange.api.limit_counters import SweptMemoryStorage


def test_the_scheme_names_the_swept_storage() -> None:
    assert isinstance(storage_from_string(f"{limit_counters.SCHEME}://"), SweptMemoryStorage)


@pytest.mark.parametrize("storage", [MemoryStorage, SweptMemoryStorage])
def test_counts_and_expiry_are_those_of_limits_memory_storage(storage: type) -> None:
    limiter = FixedWindowRateLimiter(storage())
    limit = parse("3/second")
    assert [limiter.hit(limit, "partner:a") for _ in range(4)] == [True, True, True, False]
    assert limiter.hit(limit, "partner:b"), "another key counts apart"
    time.sleep(1.05)
    assert limiter.hit(limit, "partner:a"), "the window passed: counted afresh"


def test_counting_under_load_starts_at_most_one_sweep_a_second(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    started: list[float] = []
    real = threading.Timer

    def counted(*args: Any, **kwargs: Any) -> threading.Timer:
        started.append(time.monotonic())
        return real(*args, **kwargs)

    monkeypatch.setattr(threading, "Timer", counted)
    storage = SweptMemoryStorage()
    limiter = FixedWindowRateLimiter(storage)
    limit = parse("1000000/second")
    started.clear()
    begin = time.monotonic()
    while time.monotonic() - begin < 0.5:
        limiter.hit(limit, "partner:a")
        time.sleep(0.001)
    assert len(started) == 1, "one sweep in half a second of counting"
    # limits' own storage, the same half second: a sweep thread every 10 ms or so.
    plain = FixedWindowRateLimiter(MemoryStorage())
    started.clear()
    begin = time.monotonic()
    while time.monotonic() - begin < 0.5:
        plain.hit(limit, "partner:a")
        time.sleep(0.001)
    assert len(started) > 10, "limits still schedules its sweep on every count"


def test_expired_keys_are_swept() -> None:
    storage = SweptMemoryStorage()
    storage.incr("partner:a", expiry=0.05)
    time.sleep(limit_counters.SWEEP_EVERY + 0.1)
    storage.incr("partner:b", expiry=10)  # starts a sweep, 10 ms ahead
    time.sleep(0.1)
    assert "partner:a" not in storage.storage
    assert storage.storage["partner:b"] == 1
