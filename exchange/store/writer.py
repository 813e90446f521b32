"""The one write path: a transaction reads what it needs, collects the rows it writes as
``Changes``, and flushes them at its end.

Two execution strategies of the same transaction: ``SessionTransaction`` (SQLAlchemy Core on
a session's connection, any database) and ``PipelinedTransaction`` (PostgreSQL through
psycopg's pipeline mode: every read in one round trip, every write and the commit in another —
what a transaction holding the log lock must do to let the next writer in soon).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any, Protocol, cast

from sqlalchemy import ColumnElement, Engine, Executable, Table, any_, bindparam
from sqlalchemy.orm import Session, sessionmaker

from exchange.errors import Unavailable
from exchange.store.db import store_unavailable
from exchange.store.models import Base

# Parents before children: the order every flush inserts in.
TABLE_ORDER: dict[str, int] = {t.name: n for n, t in enumerate(Base.metadata.sorted_tables)}

Read = tuple[Executable, Mapping[str, Any]]
"""A statement and its parameters."""


@dataclass
class Changes:
    """The rows one transaction writes: inserts per table, updates merged by primary key."""

    inserts: dict[str, list[Mapping[str, Any]]] = field(default_factory=dict)
    updates: dict[str, dict[tuple[Any, ...], dict[str, Any]]] = field(default_factory=dict)
    _tables: dict[str, Table] = field(default_factory=dict)

    def insert(self, table: Table, rows: Iterable[Mapping[str, Any]]) -> None:
        """Insert these rows (in this order, after their parents)."""
        self._tables[table.name] = table
        self.inserts.setdefault(table.name, []).extend(rows)

    def insert_rows(self, rows: Mapping[Table, Iterable[Mapping[str, Any]]]) -> None:
        """Insert the rows of several tables at once."""
        for table, table_rows in rows.items():
            self.insert(table, table_rows)

    def update(self, table: Table, row: Mapping[str, Any]) -> None:
        """Set the row's columns on the row with its primary key (later calls win)."""
        self._tables[table.name] = table
        key = tuple(row[c.name] for c in table.primary_key.columns)
        self.updates.setdefault(table.name, {}).setdefault(key, {}).update(row)

    def merge(self, other: Changes) -> None:
        """Take in another transaction part's changes."""
        for name, rows in other.inserts.items():
            self.insert(other._tables[name], rows)
        for name, by_key in other.updates.items():
            for row in by_key.values():
                self.update(other._tables[name], row)

    def statements(self) -> Iterator[tuple[str, Table, tuple[str, ...], list[Mapping[str, Any]]]]:
        """``("insert" | "update", table, columns, rows)`` batches, parents first; rows of one
        batch have the same columns.
        """
        for name in sorted(self.inserts, key=TABLE_ORDER.__getitem__):
            yield from _batches("insert", self._tables[name], self.inserts[name])
        for name in sorted(self.updates, key=TABLE_ORDER.__getitem__):
            yield from _batches("update", self._tables[name], list(self.updates[name].values()))


def _batches(
    kind: str, table: Table, rows: list[Mapping[str, Any]]
) -> Iterator[tuple[str, Table, tuple[str, ...], list[Mapping[str, Any]]]]:
    by_columns: dict[tuple[str, ...], list[Mapping[str, Any]]] = {}
    for row in rows:
        by_columns.setdefault(tuple(row), []).append(row)
    unknown = {c for columns in by_columns for c in columns} - set(table.c.keys())
    if unknown:
        raise KeyError(f"{table.name} has no column {sorted(unknown)}")
    for columns, batch in by_columns.items():
        yield kind, table, columns, batch


def update_statement(table: Table, columns: Iterable[str]) -> Any:
    """``UPDATE table SET columns … WHERE primary key = :pk_…``, for executemany."""
    keys = [c.name for c in table.primary_key.columns]
    where = [table.c[k] == bindparam(f"pk_{k}") for k in keys]
    return table.update().where(*where).values({c: bindparam(c) for c in columns if c not in keys})


def _update_params(table: Table, rows: list[Mapping[str, Any]]) -> list[dict[str, Any]]:
    keys = [c.name for c in table.primary_key.columns]
    return [{**row, **{f"pk_{k}": row[k] for k in keys}} for row in rows]


def among(column: Any, name: str, dialect: str) -> ColumnElement[bool]:
    """``column`` is one of the list bound as ``name``: ``= ANY(array)`` on PostgreSQL (one
    statement text whatever the list's length), an expanding ``IN`` elsewhere.
    """
    if dialect == "postgresql":
        return cast(ColumnElement[bool], column == any_(bindparam(name)))
    return cast(ColumnElement[bool], column.in_(bindparam(name, expanding=True)))


class Transaction(Protocol):
    """One database transaction: reads, then the flush of what it changes."""

    dialect: str

    def read(self, statements: Sequence[Read]) -> list[list[dict[str, Any]]]:
        """Run the statements; return each one's rows as mappings."""

    def write(self, changes: Changes) -> None:
        """Flush the changes (the transaction commits when it ends)."""


class SessionTransaction:
    """The portable strategy: Core statements on the session's connection (ORM reads of the
    same session may come before; writes go only through ``write``).
    """

    def __init__(self, session: Session) -> None:
        self.session = session
        self.dialect = session.get_bind().dialect.name

    def read(self, statements: Sequence[Read]) -> list[list[dict[str, Any]]]:
        """Each statement in turn."""
        connection = self.session.connection()
        return [
            [dict(row) for row in connection.execute(statement, dict(params)).mappings()]
            for statement, params in statements
        ]

    def write(self, changes: Changes) -> None:
        """Executemany per table and column set, parents first."""
        connection = self.session.connection()
        for kind, table, columns, rows in changes.statements():
            if kind == "insert":
                connection.execute(table.insert(), rows)
            else:
                connection.execute(update_statement(table, columns), _update_params(table, rows))


class Pipeline:
    """PostgreSQL with psycopg: transactions in pipeline mode — reads in one round trip,
    writes and the commit in a second. Statements are compiled once and shared by threads.
    """

    def __init__(self, engine: Engine) -> None:
        self._engine = engine
        self._compiled: dict[Any, Any] = {}

    def compiled(self, key: Any, build: Any) -> Any:
        """A statement compiled for psycopg (``%(name)s`` placeholders), made once."""
        found = self._compiled.get(key)
        if found is None:
            found = self._compiled[key] = build().compile(dialect=self._engine.dialect)
        return found

    @contextmanager
    def begin(self) -> Iterator[PipelinedTransaction]:
        """One transaction: commits on a clean exit, rolls back otherwise."""
        # Imported here: psycopg is the `postgres` extra; a SQLite hub never gets here.
        import psycopg

        pooled = self._engine.raw_connection()
        connection = cast(psycopg.Connection[Any], pooled.driver_connection)
        try:
            with connection.pipeline() as pipeline:
                yield PipelinedTransaction(self, connection, pipeline)
                connection.commit()
        except psycopg.OperationalError as lost:
            pooled.invalidate(lost)
            raise Unavailable("The store is unavailable; retry.") from None
        except psycopg.Error as refused:
            # Read-only, or out of space: nothing was written, and a retry later may succeed.
            if not connection.closed:
                connection.rollback()
            if store_unavailable(refused):
                pooled.invalidate(refused)  # a read-only session stays so: never reuse it
                raise Unavailable("The store cannot be written now; retry.") from None
            raise
        except BaseException:
            if not connection.closed:
                connection.rollback()
            raise
        finally:
            pooled.close()


class PipelinedTransaction:
    """One transaction of a ``Pipeline``."""

    dialect = "postgresql"

    def __init__(self, pipeline: Pipeline, connection: Any, mode: Any) -> None:
        self._statements = pipeline
        self._connection = connection
        self._pipeline = mode

    def read(self, statements: Sequence[Read]) -> list[list[dict[str, Any]]]:
        """Queue every statement, sync once, then collect the rows."""
        from psycopg.rows import dict_row

        cursors = []
        for statement, params in statements:
            compiled = self._statements.compiled(statement, lambda s=statement: s)
            cursor = self._connection.cursor(row_factory=dict_row)
            # construct_params adds the values SQLAlchemy bound itself (literals in a WHERE).
            cursor.execute(str(compiled), compiled.construct_params(dict(params)))
            cursors.append(cursor)
        self._pipeline.sync()
        return [cursor.fetchall() if cursor.description else [] for cursor in cursors]

    def write(self, changes: Changes) -> None:
        """Queue every executemany; they go with the commit."""
        cursor = self._connection.cursor()
        for kind, table, columns, rows in changes.statements():
            if kind == "insert":
                compiled = self._statements.compiled(
                    ("insert", table.name, columns), lambda t=table, c=columns: _InsertColumns(t, c)
                )
                cursor.executemany(str(compiled), [dict(row) for row in rows])
            else:
                compiled = self._statements.compiled(
                    ("update", table.name, columns),
                    lambda t=table, c=columns: update_statement(t, c),
                )
                cursor.executemany(str(compiled), _update_params(table, rows))


class _InsertColumns:
    """Compiles an INSERT naming exactly these columns."""

    def __init__(self, table: Table, columns: tuple[str, ...]) -> None:
        self.table, self.columns = table, columns

    def compile(self, dialect: Any) -> Any:
        return self.table.insert().compile(dialect=dialect, column_keys=list(self.columns))


def pipelined(engine: Engine) -> bool:
    """Whether this engine can run ``PipelinedTransaction`` (PostgreSQL through psycopg)."""
    return engine.dialect.name == "postgresql" and engine.dialect.driver == "psycopg"


class Store:
    """A hub's database: its dialect, and transactions in the best strategy it has."""

    def __init__(self, engine: Engine, sessions: sessionmaker[Session]) -> None:
        self.engine = engine
        self.sessions = sessions
        self.dialect = engine.dialect.name
        self._pipeline = Pipeline(engine) if pipelined(engine) else None

    @contextmanager
    def transaction(self) -> Iterator[Transaction]:
        """A write transaction: pipelined on PostgreSQL with psycopg, a session elsewhere."""
        if self._pipeline is not None:
            with self._pipeline.begin() as pipelined_tx:
                yield pipelined_tx
        else:
            with self.sessions.begin() as session:
                yield SessionTransaction(session)
