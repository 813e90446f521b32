"""Re-sealing what the store holds sealed under the ring's primary key, online.

Small transactions in primary-key order, each writing only rows that still hold the token it
read (compare-and-set: a concurrent write is never overwritten); the cursor is saved after every
commit, so a run killed midway resumes where it stopped. A census reads only the tokens'
headers (their kid) and finds what an earlier pass missed: a row sealed by a process that had
not yet seen the new ring.
"""

from __future__ import annotations

import json
import os
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, cast

from sqlalchemy import Column, CursorResult, LargeBinary, Table, func, select, update
from sqlalchemy.orm import Session, sessionmaker

from exchange.errors import BadRequest
from exchange.store.models import Message, Partner
from exchange.trust.hub_keys import HubTrust
from exchange.trust.webhook_secrets import secret_aad
from keys import KeysError, SealingKeyRing

# Version, kid length, kid (keys.sealing's token layout): all a census needs to read.
_HEADER_BYTES = 2 + 255


@dataclass(frozen=True)
class SealedColumn:
    """A column of sealed tokens, the primary key that orders it, and the aad of each row."""

    name: str
    table: Table
    key: Column[Any]
    sealed: Column[Any]
    aad: Callable[[str], bytes]


_MESSAGES = cast(Table, Message.__table__)
_PARTNERS = cast(Table, Partner.__table__)

SEALED: tuple[SealedColumn, ...] = (
    SealedColumn(
        "messages",
        _MESSAGES,
        _MESSAGES.c.id,
        _MESSAGES.c.sealed_envelope,
        lambda message_id: message_id.encode(),
    ),
    SealedColumn(
        "webhook secrets",
        _PARTNERS,
        _PARTNERS.c.id,
        _PARTNERS.c.webhook_secret_sealed,
        secret_aad,
    ),
)
"""Everything the hub seals at rest."""


@dataclass(frozen=True)
class Progress:
    """Where a run is: the column, how many re-sealed so far, of how many to do."""

    column: str
    resealed: int
    total: int


def census(readers: sessionmaker[Session], ring: SealingKeyRing) -> Counter[str]:
    """How many stored tokens name each sealing kid (headers only, in chunks)."""
    counts: Counter[str] = Counter()
    for column in SEALED:
        after: str | None = None
        while True:
            with readers() as session:
                rows = session.execute(_headers(column, after, 5000)).all()
            for _key, header in rows:
                counts[ring.kid_of(bytes(header))] += 1
            if len(rows) < 5000:
                break
            after = rows[-1][0]
    return counts


class Resealer:
    """Re-seals every stored token under the ring's primary key, ``batch`` rows a transaction."""

    def __init__(
        self,
        sessions: sessionmaker[Session],
        readers: sessionmaker[Session],
        trust: HubTrust,
        state_path: Path,
        *,
        batch: int = 500,
    ) -> None:
        if batch < 1:
            raise BadRequest("the batch size must be at least 1")
        self._sessions = sessions
        self._readers = readers
        self._trust = trust
        self._state_path = state_path
        self._batch = batch

    def run(self, counts: Counter[str], progress: Callable[[Progress], None]) -> Counter[str]:
        """Re-seal until a census finds every token under the primary key; return the census.

        ``counts`` is the census taken before; a cursor saved by a killed run is taken up.
        """
        target = self._trust.sealing.primary_kid
        state = self._read_state()
        if state.get("to") != target:
            state = {"to": target, "column": SEALED[0].name, "after": None, "resealed": 0}
        total = int(state["resealed"]) + sum(n for kid, n in counts.items() if kid != target)
        for _sweep in range(3):
            start = [c.name for c in SEALED].index(str(state["column"]))
            for column in SEALED[start:]:
                state["column"] = column.name
                self._pass(column, target, state, total, progress)
                state["after"] = None
            counts = census(self._readers, self._ring(target))
            if set(counts) <= {target}:
                self._state_path.unlink(missing_ok=True)
                return counts
            # Sealed under an old key by a process that had not yet reloaded: once more.
            total += sum(n for kid, n in counts.items() if kid != target)
            state["column"] = SEALED[0].name
        left = sum(n for kid, n in counts.items() if kid != target)
        raise BadRequest(
            f"{left} payloads are still sealed under another key after three sweeps: is a "
            "process of the hub running without the new ring? Run again once it has reloaded."
        )

    def _pass(
        self,
        column: SealedColumn,
        target: str,
        state: dict[str, Any],
        total: int,
        progress: Callable[[Progress], None],
    ) -> None:
        while True:
            ring = self._ring(target)
            with self._readers() as session:
                headers = session.execute(_headers(column, state["after"], self._batch)).all()
                stale = [key for key, header in headers if ring.kid_of(bytes(header)) != target]
                tokens = (
                    session.execute(
                        select(column.key, column.sealed).where(column.key.in_(stale))
                    ).all()
                    if stale
                    else []
                )
            # Sealing happens outside the write transaction: it holds the lock only to write.
            resealed = [(key, bytes(old), _rotate(ring, column, key, old)) for key, old in tokens]
            written = 0
            if resealed:
                with self._sessions.begin() as session:
                    for key, old, new in resealed:
                        done = session.execute(
                            update(column.table)
                            .where(column.key == key, column.sealed == old)
                            .values({column.sealed.name: new})
                        )
                        written += cast("CursorResult[Any]", done).rowcount
            if headers:
                state["after"] = headers[-1][0]
            state["resealed"] = int(state["resealed"]) + written
            self._write_state(state)
            progress(Progress(column.name, state["resealed"], total))
            if len(headers) < self._batch:
                return

    def _ring(self, target: str) -> SealingKeyRing:
        ring = self._trust.sealing
        if ring.primary_kid != target:
            raise BadRequest(
                f"the current sealing key changed to {ring.primary_kid} while re-sealing under "
                f"{target}: run `exchange keys rotate-sealing` again to re-seal under it."
            )
        return ring

    def _read_state(self) -> dict[str, Any]:
        try:
            state: Any = json.loads(self._state_path.read_text())
        except (FileNotFoundError, ValueError):
            return {}
        return state if isinstance(state, dict) else {}

    def _write_state(self, state: dict[str, Any]) -> None:
        # Written aside and renamed: a kill leaves the old cursor or the new, never half of one.
        self._state_path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        aside = self._state_path.with_suffix(".tmp")
        aside.write_text(json.dumps(state))
        os.replace(aside, self._state_path)


def _headers(column: SealedColumn, after: str | None, limit: int) -> Any:
    header = func.substr(column.sealed, 1, _HEADER_BYTES, type_=LargeBinary)
    query = select(column.key, header).where(column.sealed.is_not(None))
    if after is not None:
        query = query.where(column.key > after)
    return query.order_by(column.key).limit(limit)


def _rotate(ring: SealingKeyRing, column: SealedColumn, key: str, token: bytes) -> bytes:
    try:
        return ring.rotate(bytes(token), aad=column.aad(key))
    except KeysError as failure:
        raise BadRequest(
            f"{column.name} {key}: the stored token does not open ({failure})"
        ) from failure
