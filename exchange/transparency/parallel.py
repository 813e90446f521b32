"""The fast ``exchange log verify``: the log cut into index ranges, each range checked by a job
in a process of its own (``ranges.verify_range``), the results joined in index order so that
the failure reported is the one the reference pass (``verify.verify_store``) reports.

A run may start at a checkpoint instead of entry 0: the tree up to it is rebuilt from the
stored hashes and must fold to the root the hub signed there (RFC 6962 §2.1); the entries and
messages before it are not read again.
"""

from __future__ import annotations

import multiprocessing
import os
from collections.abc import Callable, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from dataclasses import dataclass
from itertools import pairwise
from multiprocessing.sharedctypes import Synchronized
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, func, or_, select

from exchange.transparency.checkpoints import CHECKPOINTS
from exchange.transparency.checks import (
    IntegrityFailure,
    MessageKeys,
    check_checkpoint,
    unlogged,
)
from exchange.transparency.ranges import (
    CheckpointClaim,
    RangeJob,
    RangeResult,
    snapshot,
    stored_tree,
    verify_range,
)
from exchange.transparency.stream import MESSAGES
from exchange.transparency.tree import ENTRIES, NEXT_INDEX, LogCorrupt
from exchange.trust.hub_keys import HubTrust
from keys.merkle import EMPTY_ROOT
from keys.protocol import LogAction

# Ranges per job: a job that finishes early takes another range, so one slow range (more
# messages, a busier core) does not hold the run up.
RANGES_PER_JOB = 4
# Entries a job must have for a process of its own to pay: starting one (a fork of the fork
# server and its connection) costs ~0.3 s, the time one process takes to check ~1,500 entries.
ENTRIES_PER_JOB = 5000
_POLL_SECONDS = 0.25

Progress = Callable[[int, int], None]


@dataclass(frozen=True)
class LogVerification:
    """What a clean run checked: entries ``start..entries-1`` (``start`` is the checkpoint it
    resumed from, 0 for the whole log), and the newest checkpoint it verified.
    """

    entries: int
    start: int
    checkpoints: int
    messages: int
    root_hash: str
    verified_checkpoint: CheckpointClaim | None
    jobs: int


def verify_log(
    database_url: str,
    trust: HubTrust,
    keys_dir: Path,
    *,
    jobs: int | None = 1,
    since: int = 0,
    pinned_root: bytes | None = None,
    progress: Progress | None = None,
) -> LogVerification:
    """Every check of ``verify_store`` over entries from the newest checkpoint at or below
    ``since`` on, in ``jobs`` processes (``None``: as many as pay, up to one per CPU); raise
    ``IntegrityFailure``. ``pinned_root``: the checkpoint at ``since`` must still have this
    root (what an earlier run verified).
    """
    if jobs is not None and jobs < 1:
        raise ValueError("jobs must be at least 1")
    with snapshot(database_url) as connection:
        size = int(connection.execute(NEXT_INDEX).scalar_one())
        checkpoints = [
            CheckpointClaim(row.tree_size, bytes(row.root_hash), row.signed)
            for row in connection.execute(select(CHECKPOINTS).order_by(CHECKPOINTS.c.tree_size))
        ]
        keys = MessageKeys.load(connection, trust)
        start = _start(connection, checkpoints, size, since, pinned_root, keys)
        orphans = connection.execute(
            select(MESSAGES.c.id, MESSAGES.c.log_index)
            .where(or_(MESSAGES.c.log_index < 0, MESSAGES.c.log_index >= size))
            .order_by(MESSAGES.c.log_index, MESSAGES.c.id)
        ).all()
        if jobs is None:
            jobs = jobs_that_pay(size - start, os.cpu_count() or 1)
        plan = _plan(checkpoints, start, size, 1 if jobs == 1 else jobs * RANGES_PER_JOB)
        total = size - start
        report = progress or (lambda _done, _total: None)
        if jobs == 1:
            results = _run_here(plan, database_url, trust, lambda done: report(done, total))
        else:
            results = _run_in_pool(plan, database_url, keys_dir, jobs, lambda d: report(d, total))
        for result in results:
            if result.entry_failure is not None:
                raise result.entry_failure
        beyond = next((c for c in checkpoints if c.tree_size > size), None)
        if beyond is not None:
            raise IntegrityFailure(size, _cut_short(beyond.tree_size, size))
        # Messages in the reference's order: by log index, so an index below 0 comes first.
        for orphan in orphans:
            if orphan.log_index < 0:
                raise unlogged(orphan, size)
        failure = _first_message_failure(connection, results, start, size)
        if failure is not None:
            raise failure
        for orphan in orphans:
            raise unlogged(orphan, size)
        root = results[-1].root if results else stored_tree(connection, size).root()
    verified = [c for c in checkpoints if 0 < c.tree_size <= size and c.tree_size >= start]
    return LogVerification(
        entries=size,
        start=start,
        checkpoints=len(checkpoints),
        messages=sum(r.messages for r in results),
        root_hash=root.hex(),
        verified_checkpoint=verified[-1] if verified else None,
        jobs=jobs,
    )


def jobs_that_pay(entries: int, cpus: int) -> int:
    """Jobs for ``entries`` on ``cpus``: one per CPU, fewer when a job would check fewer than
    ``ENTRIES_PER_JOB`` (a short log is checked in the calling process).
    """
    return max(1, min(cpus, entries // ENTRIES_PER_JOB))


def _start(
    connection: Connection,
    checkpoints: Sequence[CheckpointClaim],
    size: int,
    since: int,
    pinned_root: bytes | None,
    keys: MessageKeys,
) -> int:
    """The checkpoint the run starts at, checked against the stored hashes before it."""
    if since <= 0 or not checkpoints:
        base = None
    elif pinned_root is not None:
        base = next((c for c in checkpoints if c.tree_size == since), None)
        if base is None or base.root_hash != pinned_root:
            raise IntegrityFailure(
                since - 1, f"checkpoint {since}, verified by an earlier run, is gone or changed"
            )
        if since > size:
            raise IntegrityFailure(size, _cut_short(since, size))
    else:
        base = next((c for c in reversed(checkpoints) if 0 < c.tree_size <= min(since, size)), None)
    if base is None:
        empty = checkpoints[0] if checkpoints and checkpoints[0].tree_size == 0 else None
        if empty is not None:
            # A checkpoint of the empty log (`exchange log checkpoint` before any entry).
            check_checkpoint(empty, EMPTY_ROOT, keys.hub, 0)
        return 0
    try:
        root = stored_tree(connection, base.tree_size).root()
    except LogCorrupt as corrupt:
        raise IntegrityFailure(base.tree_size - 1, f"cannot resume: {corrupt}") from None
    check_checkpoint(base, root, keys.hub, 0)
    return base.tree_size


def _plan(
    checkpoints: Sequence[CheckpointClaim], start: int, size: int, count: int
) -> list[RangeJob]:
    """``count`` ranges over ``start..size-1`` (fewer for a short log), each with the
    checkpoints it reaches and the size of the one before them.
    """
    span = size - start
    count = min(count, span)
    bounds = [start + span * k // count for k in range(count + 1)] if count else []
    plan = []
    for a, b in pairwise(bounds):
        before = [c.tree_size for c in checkpoints if start <= c.tree_size <= a]
        reached = tuple(c for c in checkpoints if a < c.tree_size <= b)
        plan.append(RangeJob(a, b, size, max(before, default=start), reached))
    return plan


def _run_here(
    plan: Sequence[RangeJob], database_url: str, trust: HubTrust, progress: Callable[[int], None]
) -> list[RangeResult]:
    done = 0

    def advance(entries: int) -> None:
        nonlocal done
        done += entries
        progress(done)

    results = []
    for job in plan:
        results.append(verify_range(job, database_url, trust, advance))
        if results[-1].entry_failure is not None:
            break  # what follows cannot come first
    return results


def _run_in_pool(
    plan: Sequence[RangeJob],
    database_url: str,
    keys_dir: Path,
    jobs: int,
    progress: Callable[[int], None],
) -> list[RangeResult]:
    context = _job_context()
    counter: Synchronized[int] = context.Value("q", 0)
    with ProcessPoolExecutor(
        max_workers=jobs,
        mp_context=context,
        initializer=_start_worker,
        initargs=(keys_dir, counter),
    ) as pool:
        futures = [pool.submit(_run_job, job, database_url) for job in plan]
        pending: set[Future[RangeResult]] = set(futures)
        while pending:
            finished, pending = wait(pending, timeout=_POLL_SECONDS, return_when=FIRST_COMPLETED)
            progress(counter.value)
            for future in finished:
                if future.result().entry_failure is not None:
                    # Ranges after a failing one cannot hold the first failure.
                    for later in futures[futures.index(future) + 1 :]:
                        later.cancel()
            pending = {f for f in pending if not f.cancelled()}
        progress(counter.value)
    results = []
    for future in futures:
        if future.cancelled():
            break
        results.append(future.result())
    return results


def _job_context() -> multiprocessing.context.BaseContext:
    """Fresh interpreters, never forks of the caller: no connection or lock of its own.

    A fork server (an interpreter started once, with this module imported) forks each pool's
    processes, so a run pays the hub's imports once rather than once per job and per run;
    where there is none, each job is spawned.
    """
    if "forkserver" not in multiprocessing.get_all_start_methods():
        return multiprocessing.get_context("spawn")
    context = multiprocessing.get_context("forkserver")
    context.set_forkserver_preload([__name__])
    return context


_WORKER: dict[str, Any] = {}


def _start_worker(keys_dir: Path, counter: Synchronized[int]) -> None:
    # Each process loads the hub's keys itself: no secret crosses a pipe.
    _WORKER["trust"] = HubTrust.load(keys_dir)
    _WORKER["counter"] = counter


def _run_job(job: RangeJob, database_url: str) -> RangeResult:
    counter: Synchronized[int] = _WORKER["counter"]

    def advance(entries: int) -> None:
        with counter.get_lock():
            counter.value += entries

    return verify_range(job, database_url, _WORKER["trust"], advance)


def _first_message_failure(
    connection: Connection, results: Sequence[RangeResult], start: int, size: int
) -> IntegrityFailure | None:
    """The first message failure by log index: a range's own; a message that a later
    received entry names again (the reference keeps the newest received entry of an id); a
    message at an index where no received entry names it. The entries passed, so their
    clear columns say what their bytes say and SQL may read them.
    """
    own = next((r.message_failure for r in results if r.message_failure is not None), None)
    candidates = [own] if own is not None else []
    scope = (MESSAGES.c.log_index >= start, MESSAGES.c.log_index < size)
    named_again = (
        select(ENTRIES.c.message_id, func.max(ENTRIES.c.idx).label("newest"))
        .where(
            ENTRIES.c.action == LogAction.MESSAGE_RECEIVED,
            ENTRIES.c.idx >= start,
            ENTRIES.c.idx < size,
        )
        .group_by(ENTRIES.c.message_id)
        .having(func.count() > 1)
    ).subquery()
    displaced = connection.execute(
        select(MESSAGES.c.id, MESSAGES.c.log_index)
        .join(named_again, named_again.c.message_id == MESSAGES.c.id)
        .where(MESSAGES.c.log_index != named_again.c.newest, *scope)
        .order_by(MESSAGES.c.log_index)
        .limit(1)
    ).first()
    in_scope = connection.execute(select(func.count()).where(*scope)).scalar_one()
    unnamed = None
    if in_scope != sum(r.matched for r in results):
        named_here = (
            select(ENTRIES.c.idx)
            .where(
                ENTRIES.c.idx == MESSAGES.c.log_index,
                ENTRIES.c.action == LogAction.MESSAGE_RECEIVED,
                ENTRIES.c.message_id == MESSAGES.c.id,
            )
            .exists()
        )
        unnamed = connection.execute(
            select(MESSAGES.c.id, MESSAGES.c.log_index)
            .where(*scope, ~named_here)
            .order_by(MESSAGES.c.log_index)
            .limit(1)
        ).first()
    # At one index the reference fails on the received entry first.
    candidates += [unlogged(row, size) for row in (displaced, unnamed) if row is not None]
    return min(candidates, key=lambda f: (f.index, f is own), default=None)


def _cut_short(covered: int, size: int) -> str:
    return (
        f"a checkpoint covers {covered} entries but the log has {size}: "
        "entries from here on were removed"
    )
