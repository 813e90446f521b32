"""Group commit: concurrent single submissions share one log window and one transaction.

A request thread checks its submission itself (signature, schema, route: everything that
needs no write, in parallel with the others) and then queues it. The first thread to find
no group being written leads: it takes the queue's head — up to ``limit`` submissions,
itself first — and stores them as a batch is stored, in one lock window and one commit.
Only when that commit has returned is each member handed its own outcome; the lead then
passes to the oldest waiter, whose group is everything that queued meanwhile. No thread
waits on a timer: under light load a group is one submission and costs what it always did,
under heavy load a commit carries everyone who arrived during the previous one.

Isolation: the lifecycle refuses a member on its own (the batch already answers per item).
Should the store itself fail a group, the members are stored again one by one, so that an
error some message provokes stays that message's; the store being unavailable is every
member's answer at once.

Order: the groups commit one after another under the log lock, and inside a group the
members take their indices in queue order, so log indices follow the commits.
"""

from __future__ import annotations

import threading
from collections import deque
from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Generic, TypeVar

from exchange.errors import Unavailable

Item = TypeVar("Item")
Result = TypeVar("Result")

#: Stores one group at ``now``; answers one result per member, in order.
StoreGroup = Callable[[Sequence[Item], datetime], Sequence[Result]]


class _Slot(Generic[Item, Result]):
    """One member's place in the queue: what it submits, and how it was answered."""

    __slots__ = ("_woken", "error", "item", "lead", "now", "result")

    def __init__(self, item: Item, now: datetime) -> None:
        self.item = item
        self.now = now
        self.result: Result | None = None
        self.error: BaseException | None = None
        self.lead = False
        self._woken = threading.Event()

    def wake(self) -> None:
        self._woken.set()

    def pass_lead(self) -> None:
        self.lead = True
        self._woken.set()

    def wait(self) -> None:
        self._woken.wait()
        self._woken.clear()


class GroupCommit(Generic[Item, Result]):
    """One process's queue of submissions waiting to be written (thread-safe)."""

    def __init__(self, store: StoreGroup[Item, Result], *, limit: int) -> None:
        if limit < 1:
            raise ValueError("a group holds at least one submission")
        self._store = store
        self._limit = limit
        self._queue: deque[_Slot[Item, Result]] = deque()
        self._lock = threading.Lock()
        self._leading = False

    @property
    def queued(self) -> int:
        """Submissions waiting for a group (the one being written not counted)."""
        return len(self._queue)

    def commit(self, item: Item, now: datetime) -> Result:
        """Store ``item`` in the next group; return its result once the group is durable.

        Raises what storing it raised (for this member alone, or for the whole group).
        """
        slot: _Slot[Item, Result] = _Slot(item, now)
        with self._lock:
            self._queue.append(slot)
            slot.lead = not self._leading
            self._leading = True
        while not slot.lead:
            slot.wait()
            if slot.error is not None:
                raise slot.error
            if slot.result is not None:
                return slot.result
        self._lead()
        if slot.error is not None:
            raise slot.error
        assert slot.result is not None  # the leader's own slot heads its group
        return slot.result

    def _lead(self) -> None:
        """Write one group from the queue's head, answer it, pass the lead on."""
        with self._lock:
            group = [self._queue.popleft() for _ in range(min(self._limit, len(self._queue)))]
        try:
            self._write(group)
        finally:
            for slot in group:
                if slot.result is None and slot.error is None:
                    slot.error = RuntimeError("the group's leader stopped before storing it")
            with self._lock:
                if self._queue:
                    self._queue[0].pass_lead()
                else:
                    self._leading = False
            for slot in group[1:]:
                slot.wake()

    def _write(self, group: list[_Slot[Item, Result]]) -> None:
        # The latest of the members' clocks: no receipt says it came before its request did.
        now = max(slot.now for slot in group)
        try:
            results = self._store([slot.item for slot in group], now)
        except Unavailable as refusal:
            for slot in group:
                slot.result, slot.error = None, refusal
            return
        except Exception as failure:
            if len(group) == 1:
                group[0].result, group[0].error = None, failure
                return
            for slot in group:
                self._write([slot])
            return
        for slot, result in zip(group, results, strict=True):
            slot.result = result
