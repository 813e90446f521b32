"""How intake writes a batch: one transaction that locks the log, stores rows, commits.

Two implementations of the same contract: ``SessionWriter`` (SQLAlchemy, any database) and
``PipelineWriter`` (PostgreSQL through psycopg's pipeline mode). The log stays locked from
the existence check to the commit, and every round trip in that window delays every other
writer; the pipeline does the whole window in two round trips instead of one per statement.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol, cast

from sqlalchemy import Engine, Table, bindparam, select
from sqlalchemy.orm import Session, sessionmaker

from exchange.errors import ProblemError
from exchange.store.models import Delivery, Message, PersonRef
from exchange.supervision.lifecycle import (
    ANY_SQL,
    CASES,
    ITEMS,
    LINES,
    TRANSITIONS,
    USES,
    Changes,
    LifecycleState,
    Read,
    load_state,
)
from exchange.transparency.log import (
    CHECKPOINTS,
    EDGE,
    ENTRIES,
    LOG_LOCK_KEY,
    NEXT_INDEX,
    LogAppender,
    Notary,
    close_log,
    edge_tree,
    open_log,
)

READ_MODELS = {
    "referral_cases": CASES,
    "share_uses": USES,
    "ledger_items": ITEMS,
    "ledger_lines": LINES,
}

MESSAGES = cast(Table, Message.__table__)
DELIVERIES = cast(Table, Delivery.__table__)
PERSON_REFS = cast(Table, PersonRef.__table__)


@dataclass(frozen=True)
class Stored:
    """What is already stored for a message id: its digest and the answer it was given."""

    envelope_sha256: str
    status: str
    receipt: str
    log_index: int


@dataclass
class Rows:
    """Rows of new messages and of the read models, written with one executemany per table."""

    messages: list[dict[str, Any]] = field(default_factory=list)
    deliveries: list[dict[str, Any]] = field(default_factory=list)
    persons: list[dict[str, Any]] = field(default_factory=list)

    def tables(self, changes: Changes) -> Iterable[tuple[Table, list[dict[str, Any]]]]:
        """Each table with its new rows, parents first."""
        return (
            (MESSAGES, self.messages),
            (DELIVERIES, self.deliveries),
            (PERSON_REFS, self.persons),
            *((READ_MODELS[name], rows) for name, rows in changes.inserts.items()),
            (TRANSITIONS, changes.transitions),
        )


@dataclass
class Transaction:
    """Inside the locked window: what is known, the log to append to, the lifecycle rows the
    batch concerns, and the rows to write."""

    known: dict[str, Stored]
    log: LogAppender
    lifecycle: LifecycleState
    rows: Rows = field(default_factory=Rows)

    def inserts(self) -> Iterable[tuple[Table, list[dict[str, Any]]]]:
        """Every table with rows to insert, parents first."""
        return ((t, rows) for t, rows in self.rows.tables(self.lifecycle.changes) if rows)

    def updates(self) -> Iterable[tuple[Table, list[dict[str, Any]]]]:
        """Read-model rows to update, with their primary key as ``pk_<column>`` parameters."""
        for name, rows in self.lifecycle.changes.updates.items():
            table = READ_MODELS[name]
            keys = [c.name for c in table.primary_key.columns]
            yield table, [{**row, **{f"pk_{k}": row[k] for k in keys}} for row in rows]


def update_statement(table: Table, columns: Iterable[str]) -> Any:
    """``UPDATE table SET columns … WHERE primary key = :pk_…`` for executemany."""
    keys = [c.name for c in table.primary_key.columns]
    where = [table.c[k] == bindparam(f"pk_{k}") for k in keys]
    return (
        table.update()
        .where(*where)
        .values({c: bindparam(c) for c in columns if c not in keys and not c.startswith("pk_")})
    )


class IntakeWriter(Protocol):
    """Opens the locked window for a batch of message ids and writes what it collected."""

    def transaction(self, ids: set[str], now: datetime, reads: list[Read]) -> Any:
        """Context manager yielding a ``Transaction``; commits on a clean exit."""


_KNOWN_COLUMNS = (
    MESSAGES.c.id,
    MESSAGES.c.envelope_sha256,
    MESSAGES.c.receipt_status,
    MESSAGES.c.receipt,
    MESSAGES.c.log_index,
)


class SessionWriter:
    """The portable writer: SQLAlchemy statements in one session transaction."""

    def __init__(self, sessions: sessionmaker[Session]) -> None:
        self._sessions = sessions

    @contextmanager
    def transaction(self, ids: set[str], now: datetime, reads: list[Read]) -> Iterator[Transaction]:
        with self._sessions.begin() as session:
            # Lock first: every writer queues here, so the existence check cannot race.
            log = open_log(session)
            # Core on the session's connection: the ORM layer adds nothing to these rows.
            connection = session.connection()
            known = {
                row[0]: Stored(*row[1:])
                for row in connection.execute(select(*_KNOWN_COLUMNS).where(MESSAGES.c.id.in_(ids)))
            }
            loaded = load_state((r, connection.execute(r.statement())) for r in reads)
            tx = Transaction(known, log, loaded)
            yield tx
            for table, rows in tx.inserts():
                connection.execute(table.insert(), rows)
            for table, rows in tx.updates():
                connection.execute(update_statement(table, rows[0]), rows)
            close_log(session, log, now)


class PipelineWriter:
    """PostgreSQL: lock, size and existence in one round trip; every write and the commit in
    another."""

    def __init__(self, engine: Engine, notary: Notary | None) -> None:
        self._engine = engine
        self._notary = notary
        self._lock_sql = f"SELECT pg_advisory_xact_lock({LOG_LOCK_KEY})"
        self._size_sql = str(
            NEXT_INDEX.compile(dialect=engine.dialect, compile_kwargs={"literal_binds": True})
        )
        # The same columns as the portable writer reads, so ``Stored(*row[1:])`` fits both.
        self._known_sql = (
            f"SELECT {', '.join(column.name for column in _KNOWN_COLUMNS)} "
            f"FROM {MESSAGES.name} WHERE id = ANY(%(ids)s)"
        )
        self._edge_sql = str(EDGE.compile(dialect=engine.dialect))
        self._inserts: dict[tuple[str, tuple[str, ...]], str] = {}

    def _update_sql(self, table: Table, columns: tuple[str, ...]) -> str:
        key = (f"update {table.name}", columns)
        if key not in self._inserts:
            statement = update_statement(table, columns)
            self._inserts[key] = str(statement.compile(dialect=self._engine.dialect))
        return self._inserts[key]

    def _insert_sql(self, table: Table, columns: tuple[str, ...]) -> str:
        key = (table.name, columns)
        if key not in self._inserts:
            self._inserts[key] = str(
                table.insert().compile(dialect=self._engine.dialect, column_keys=list(columns))
            )
        return self._inserts[key]

    @contextmanager
    def transaction(self, ids: set[str], now: datetime, reads: list[Read]) -> Iterator[Transaction]:
        # Imported here: psycopg is the `postgres` extra, and a SQLite hub never gets here.
        import psycopg
        from psycopg.rows import dict_row

        pooled = self._engine.raw_connection()
        connection = cast(psycopg.Connection[Any], pooled.driver_connection)
        try:
            with connection.pipeline() as pipeline:
                connection.execute(self._lock_sql)
                size = connection.cursor()
                size.execute(self._size_sql)
                edge = connection.cursor()
                edge.execute(self._edge_sql)
                existing = connection.cursor()
                existing.execute(self._known_sql, {"ids": list(ids)})
                cursors = []
                for read in reads:
                    cursors.append(connection.cursor(row_factory=dict_row))
                    cursors[-1].execute(ANY_SQL[read.table.name], read.params())
                pipeline.sync()
                size_row = size.fetchone()
                assert size_row is not None
                known = {row[0]: Stored(*row[1:]) for row in existing.fetchall()}
                log = LogAppender(edge_tree(int(size_row[0]), edge.fetchall()), self._notary)
                loaded = load_state(
                    (read, cursor.fetchall()) for read, cursor in zip(reads, cursors, strict=True)
                )
                tx = Transaction(known, log, loaded)
                yield tx
                writer = connection.cursor()
                for table, rows in tx.inserts():
                    writer.executemany(self._insert_sql(table, tuple(rows[0])), rows)
                for table, rows in tx.updates():
                    writer.executemany(self._update_sql(table, tuple(rows[0])), rows)
                if tx.log.rows:
                    writer.executemany(
                        self._insert_sql(ENTRIES, tuple(tx.log.rows[0])), tx.log.rows
                    )
                    checkpoint = tx.log.checkpoint_row(now)
                    if checkpoint is not None:
                        writer.execute(self._insert_sql(CHECKPOINTS, tuple(checkpoint)), checkpoint)
                connection.commit()
        except psycopg.OperationalError as lost:
            pooled.invalidate(lost)
            raise ProblemError(
                "unavailable", "The store is unavailable; retry.", headers={"Retry-After": "5"}
            ) from None
        except BaseException:
            if not connection.closed:
                connection.rollback()
            raise
        finally:
            pooled.close()


def writer_for(
    engine: Engine, sessions: sessionmaker[Session], notary: Notary | None
) -> IntakeWriter:
    """The pipelined writer on PostgreSQL with psycopg, the portable one elsewhere."""
    if engine.dialect.name == "postgresql" and engine.dialect.driver == "psycopg":
        return PipelineWriter(engine, notary)
    return SessionWriter(sessions)
