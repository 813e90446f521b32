"""The store: engine, sessions and schema migrations (Alembic) for SQLite and PostgreSQL."""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config as AlembicConfig
from sqlalchemy import Engine, create_engine, event, inspect
from sqlalchemy.engine import ExceptionContext
from sqlalchemy.exc import DBAPIError, OperationalError
from sqlalchemy.orm import Session, sessionmaker

MIGRATIONS = Path(__file__).parent / "migrations"


def sqlite_file(url: str) -> Path | None:
    """The file of an SQLite store's URL; None for another database or an in-memory one."""
    if url.startswith("sqlite:///") and not url.endswith(":memory:"):
        return Path(url.removeprefix("sqlite:///").split("?", 1)[0])
    return None


def make_engine(url: str, *, readonly: bool = False) -> Engine:
    """An engine tuned for the hub: WAL, and on SQLite immediate write transactions.

    ``readonly`` engines (SQLite only) begin deferred transactions: WAL readers never wait.
    """
    if url.startswith("sqlite"):
        database = sqlite_file(url)
        if database is not None:
            database.parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(url, connect_args={"timeout": 30})
        _tune_sqlite(engine, begin="BEGIN" if readonly else "BEGIN IMMEDIATE")
        return engine
    # No pre-ping: it costs a round trip per checkout on the hot path. A dropped connection
    # fails one request (answered 503 with Retry-After) and the pool replaces it.
    engine = create_engine(url, pool_size=5, max_overflow=10, pool_recycle=1800)
    event.listen(engine, "handle_error", _drop_read_only_sessions)
    return engine


def _drop_read_only_sessions(context: ExceptionContext) -> None:
    # A session that began read-only (a standby, or default_transaction_read_only) stays
    # read-only after the database takes writes again: treat it as a lost connection, so the
    # pool replaces it instead of refusing writes until it is recycled.
    if getattr(context.original_exception, "sqlstate", None) == "25006":
        context.is_disconnect = True


def _tune_sqlite(engine: Engine, *, begin: str) -> None:
    # pysqlite's deferred BEGIN lets two writers both read and then fail on upgrade;
    # BEGIN IMMEDIATE takes the write lock up front so concurrent writers queue instead.
    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA busy_timeout=30000")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(connection: Any) -> None:
        connection.exec_driver_sql(begin)


# SQLSTATEs that say the database cannot take the work now, not that the work is wrong: a
# read-only transaction (a standby, or ``default_transaction_read_only``), and class 53,
# insufficient resources (disk full, out of memory, too many connections). PostgreSQL
# Appendix A.
_UNAVAILABLE_STATES = ("25006", "53")


def store_unavailable(error: BaseException) -> bool:
    """Whether ``error`` means the store cannot be reached or written now (retry later):
    a lost or refused connection, a database shut down, read-only or out of space.
    """
    if isinstance(error, DBAPIError):
        if error.connection_invalidated or isinstance(error, OperationalError):
            return True
        return _driver_unavailable(error.orig)  # the driver's own error, by its SQLSTATE
    return _driver_unavailable(error)


def _driver_unavailable(error: BaseException | None) -> bool:
    if isinstance(error, sqlite3.OperationalError):
        return True
    try:  # psycopg is the `postgres` extra: a SQLite hub may not have it
        import psycopg
    except ImportError:
        return False
    if isinstance(error, psycopg.OperationalError):
        return True
    return isinstance(error, psycopg.Error) and (error.sqlstate or "").startswith(
        _UNAVAILABLE_STATES
    )


def make_sessionmaker(engine: Engine, info: dict[str, Any] | None = None) -> sessionmaker[Session]:
    """Sessions that keep loaded objects usable after commit."""
    return sessionmaker(engine, expire_on_commit=False, info=info)


def alembic_config(url: str) -> AlembicConfig:
    """An Alembic configuration pointing at the packaged migrations."""
    cfg = AlembicConfig()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    cfg.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return cfg


def upgrade(url: str) -> None:
    """Bring the database schema to the newest revision."""
    command.upgrade(alembic_config(url), "head")


def is_initialised(engine: Engine) -> bool:
    """Whether migrations have been applied to this database."""
    return inspect(engine).has_table("alembic_version")
