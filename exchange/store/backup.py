"""A backup of the store as portable JSON Lines, read in one snapshot, and its restore.

One table a file, one row a line, every file's SHA-256 in ``manifest.json`` beside the schema
revision, the row counts and the newest checkpoint. A logical dump rather than ``pg_dump`` or
SQLite's ``VACUUM INTO``: it is read through SQLAlchemy in one transaction (REPEATABLE READ on
PostgreSQL, a WAL read transaction on SQLite), so the hub keeps serving while it runs, and it
restores into either database, whichever wrote it, with no client tools of the server's exact
version. The hub's keys (files under ``$EXCHANGE_HOME/keys``) go beside the tables, into a
directory of their own, or nowhere; their hashes are in the manifest either way.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import shutil
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any, BinaryIO, cast

from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import (
    Column,
    Connection,
    Date,
    DateTime,
    Integer,
    LargeBinary,
    Numeric,
    Table,
    func,
    insert,
    inspect,
    select,
    text,
)

from exchange.errors import ExchangeError
from exchange.store.db import alembic_config, make_engine, upgrade
from exchange.store.models import Base, Checkpoint, LogEntry

FORMAT = "exchange-backup/1"
MANIFEST = "manifest.json"
TABLES_DIR = "tables"
KEYS_DIR = "keys"
_CHUNK = 1000


class BackupRefused(ExchangeError):
    """A backup that cannot be written, or one that must not be restored (damaged, of another
    schema, or onto a store that holds data).
    """

    code = "bad-request"
    default_detail = "Backup refused"


@dataclass(frozen=True)
class BackupSummary:
    """What a backup holds: its manifest, as written or as read back and checked."""

    manifest: dict[str, Any]

    @property
    def counts(self) -> dict[str, int]:
        """Rows per table."""
        return {name: int(t["rows"]) for name, t in self.manifest["tables"].items()}

    @property
    def checkpoint(self) -> dict[str, Any] | None:
        """The newest checkpoint in the backup (``tree_size``, ``root_hash`` in hex), if any."""
        return cast(dict[str, Any] | None, self.manifest["checkpoint"])


# --- writing ---------------------------------------------------------------------------------


def write_backup(
    database_url: str, out: Path, *, keys_dir: Path, keys_out: Path | None, with_keys: bool
) -> BackupSummary:
    """Dump every table in one snapshot into ``out`` (which must be new or empty); the keys
    into ``out/keys``, ``keys_out``, or (``with_keys`` false) nowhere. The manifest is
    written last: a directory without one is not a backup.
    """
    _new_directory(out)
    files: dict[str, str] = {}
    tables: dict[str, dict[str, Any]] = {}
    engine = make_engine(database_url, readonly=True)
    try:
        with engine.connect() as connection:
            if connection.dialect.name == "postgresql":
                connection = connection.execution_options(isolation_level="REPEATABLE READ")
            with connection.begin():
                revision = MigrationContext.configure(connection).get_current_revision()
                for table in Base.metadata.sorted_tables:
                    name = f"{TABLES_DIR}/{table.name}.jsonl"
                    rows, files[name] = _dump(connection, table, out / name)
                    tables[table.name] = {"rows": rows, "columns": [c.name for c in table.c]}
                newest = connection.execute(
                    select(Checkpoint.tree_size, Checkpoint.root_hash)
                    .order_by(Checkpoint.tree_size.desc())
                    .limit(1)
                ).first()
                log_size = connection.execute(select(func.count()).select_from(LogEntry)).scalar()
            backend = connection.dialect.name
    finally:
        engine.dispose()
    key_files: dict[str, str] = {}
    if with_keys:
        target = out / KEYS_DIR if keys_out is None else keys_out
        if keys_out is not None:
            _new_directory(keys_out)
        key_files = _copy_keys(keys_dir, target)
    manifest = {
        "format": FORMAT,
        "backend": backend,
        "schema_revision": revision,
        "log_size": log_size,
        "checkpoint": None
        if newest is None
        else {"tree_size": newest.tree_size, "root_hash": bytes(newest.root_hash).hex()},
        "tables": tables,
        "keys": "omitted" if not with_keys else "included" if keys_out is None else "separate",
        "key_files": key_files,
        "files": files,
    }
    _write_private(out / MANIFEST, json.dumps(manifest, indent=2, sort_keys=True).encode())
    return BackupSummary(manifest)


def _dump(connection: Connection, table: Table, path: Path) -> tuple[int, str]:
    """Write ``table`` as JSON Lines ordered by its primary key; its row count and SHA-256."""
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    digest = hashlib.sha256()
    rows = 0
    order = list(table.primary_key.columns) or list(table.c)
    with _private(path) as out:
        result = connection.execution_options(yield_per=_CHUNK).execute(
            select(table).order_by(*order)
        )
        for row in result:
            line = json.dumps([_encode(c, v) for c, v in zip(table.c, row, strict=True)])
            data = line.encode() + b"\n"
            out.write(data)
            digest.update(data)
            rows += 1
    return rows, digest.hexdigest()


def _encode(column: Column[Any], value: Any) -> Any:
    if value is None:
        return None
    if isinstance(column.type, LargeBinary):
        return base64.b64encode(bytes(value)).decode()
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, Decimal):
        return str(value)
    return value


def _copy_keys(keys_dir: Path, target: Path) -> dict[str, str]:
    target.mkdir(parents=True, exist_ok=True, mode=0o700)
    os.chmod(target, 0o700)
    copied: dict[str, str] = {}
    for path in sorted(p for p in keys_dir.iterdir() if p.is_file()):
        data = path.read_bytes()
        _write_private(target / path.name, data)
        copied[path.name] = hashlib.sha256(data).hexdigest()
    if not copied:
        raise BackupRefused(f"there are no keys in {keys_dir} to back up")
    return copied


def _new_directory(path: Path) -> None:
    if path.exists() and (not path.is_dir() or any(path.iterdir())):
        raise BackupRefused(f"{path} is not an empty directory: give a new one")
    path.mkdir(parents=True, exist_ok=True, mode=0o700)


@contextmanager
def _private(path: Path) -> Iterator[BinaryIO]:
    """A file opened for writing that only its owner can read (backups hold sealed payloads)."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as out:
        yield out


def _write_private(path: Path, data: bytes) -> None:
    with _private(path) as out:
        out.write(data)


# --- reading and checking ------------------------------------------------------------------


def read_backup(directory: Path, *, keys: Path | None = None) -> BackupSummary:
    """The manifest of ``directory`` once every file it names (and every key file, in
    ``keys`` or beside the tables) has its recorded SHA-256; ``BackupRefused`` otherwise.
    """
    try:
        manifest = json.loads((directory / MANIFEST).read_bytes())
    except FileNotFoundError:
        raise BackupRefused(f"{directory} holds no {MANIFEST}: it is not a backup") from None
    except ValueError:
        raise BackupRefused(f"{directory / MANIFEST} is not JSON: the backup is damaged") from None
    if not isinstance(manifest, dict) or manifest.get("format") != FORMAT:
        raise BackupRefused(f"{directory / MANIFEST} is not a manifest of {FORMAT}")
    for name, sha256 in manifest["files"].items():
        _check(directory, name, sha256)
    for table in manifest["tables"]:
        if f"{TABLES_DIR}/{table}.jsonl" not in manifest["files"]:
            raise BackupRefused(f"the manifest lists table {table} but no file of it")
    key_dir = key_source(directory, manifest, keys)
    if key_dir is not None:
        for name, sha256 in manifest["key_files"].items():
            _check(key_dir, name, sha256)
    return BackupSummary(manifest)


def key_source(directory: Path, manifest: dict[str, Any], keys: Path | None) -> Path | None:
    """Where the backup's keys are: ``keys`` when given, else beside the tables, else None."""
    if keys is not None:
        if not manifest["key_files"]:
            raise BackupRefused("this backup was made --without-keys: it names no key files")
        return keys
    return directory / KEYS_DIR if manifest["keys"] == "included" else None


def _check(directory: Path, name: str, sha256: str) -> None:
    path = directory / name
    if ".." in Path(name).parts or Path(name).is_absolute():
        raise BackupRefused(f"the manifest names a file outside the backup: {name}")
    try:
        digest = _sha256(path)
    except FileNotFoundError:
        raise BackupRefused(f"{path} is missing: the backup is incomplete") from None
    if digest != sha256:
        raise BackupRefused(f"{path} does not match its SHA-256 in the manifest: refused")


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as data:
        for block in iter(lambda: data.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


# --- restoring ---------------------------------------------------------------------------------


def store_holds_data(database_url: str) -> bool:
    """Whether the database has any of the hub's tables with a row in it."""
    engine = make_engine(database_url, readonly=True)
    try:
        with engine.connect() as connection:
            present = set(inspect(connection).get_table_names())
            return any(
                connection.execute(select(1).select_from(table).limit(1)).first() is not None
                for table in Base.metadata.sorted_tables
                if table.name in present
            )
    finally:
        engine.dispose()


def load_tables(database_url: str, directory: Path, summary: BackupSummary) -> dict[str, int]:
    """Migrate the database, then in one transaction empty every table and load the backup's
    rows; the rows now in each table. The schema must be the one the backup was made of.
    """
    upgrade(database_url)
    heads = ScriptDirectory.from_config(alembic_config(database_url)).get_heads()
    wanted = summary.manifest["schema_revision"]
    if wanted not in heads:
        raise BackupRefused(
            f"the backup is of schema revision {wanted}, this hub's is {', '.join(heads)}: "
            "restore it with the release that made it, then upgrade"
        )
    engine = make_engine(database_url)
    try:
        with engine.begin() as connection:
            for table in reversed(Base.metadata.sorted_tables):
                connection.execute(table.delete())
            for table in Base.metadata.sorted_tables:
                columns = summary.manifest["tables"][table.name]["columns"]
                if columns != [c.name for c in table.c]:
                    raise BackupRefused(f"the backup's columns of {table.name} are not this hub's")
                path = directory / TABLES_DIR / f"{table.name}.jsonl"
                for chunk in _chunks(_rows(table, path)):
                    connection.execute(insert(table), chunk)
            if connection.dialect.name == "postgresql":
                _advance_sequences(connection)
            restored = {
                table.name: int(
                    connection.execute(select(func.count()).select_from(table)).scalar_one()
                )
                for table in Base.metadata.sorted_tables
            }
        if engine.dialect.name == "postgresql":
            # Plans come from statistics; a bulk load leaves none (docs/production.md).
            with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
                connection.exec_driver_sql("ANALYZE")
        return restored
    finally:
        engine.dispose()


def _rows(table: Table, path: Path) -> Iterator[dict[str, Any]]:
    with path.open("rb") as lines:
        for line in lines:
            values = json.loads(line)
            yield {c.key: _decode(c, v) for c, v in zip(table.c, values, strict=True)}


def _decode(column: Column[Any], value: Any) -> Any:
    if value is None:
        return None
    kind = column.type
    if isinstance(kind, LargeBinary):
        return base64.b64decode(value)
    if isinstance(kind, DateTime) or isinstance(getattr(kind, "impl", None), DateTime):
        return datetime.fromisoformat(value)
    if isinstance(kind, Date):
        return date.fromisoformat(value)
    if isinstance(kind, Numeric):
        return Decimal(value)
    return value


def _chunks(rows: Iterable[dict[str, Any]]) -> Iterator[list[dict[str, Any]]]:
    chunk: list[dict[str, Any]] = []
    for row in rows:
        chunk.append(row)
        if len(chunk) == _CHUNK:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


def _advance_sequences(connection: Connection) -> None:
    # Rows came with their ids: a serial column's sequence must start after the largest one,
    # or the next insert collides.
    for table in Base.metadata.sorted_tables:
        for column in table.primary_key.columns:
            serial = isinstance(column.type, Integer) and column.autoincrement is not False
            if not serial or len(table.primary_key.columns) > 1:
                continue
            connection.execute(
                text(
                    f"SELECT setval(pg_get_serial_sequence(:table, :column), "
                    f"coalesce(max({column.name}), 0) + 1, false) FROM {table.name}"
                ),
                {"table": table.name, "column": column.name},
            )


def install_keys(
    source: Path, summary: BackupSummary, keys_dir: Path, *, now: datetime
) -> Path | None:
    """Copy the backup's key files (already checked) into a new ``keys_dir`` (mode 0700,
    files 0600). Keys already there are moved aside, never deleted: the directory they are
    now in, or None.
    """
    aside = None
    if keys_dir.exists() and any(keys_dir.iterdir()):
        aside = keys_dir.with_name(f"{keys_dir.name}.before-restore-{now:%Y%m%dT%H%M%S}")
        keys_dir.rename(aside)
    staged = keys_dir.with_name(f".{keys_dir.name}.restoring")
    shutil.rmtree(staged, ignore_errors=True)
    staged.mkdir(parents=True, mode=0o700)
    for name in sorted(summary.manifest["key_files"]):
        shutil.copyfile(source / name, staged / name)
        os.chmod(staged / name, 0o600)
    if keys_dir.exists():
        keys_dir.rmdir()
    staged.rename(keys_dir)
    return aside
