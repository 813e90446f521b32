"""The Alembic migrations build exactly the schema the models describe, on every backend."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Connection, create_engine, inspect, text
from sqlalchemy.engine import make_url

from exchange.hub import Hub
from exchange.store.db import alembic_config, is_initialised, upgrade
from exchange.store.models import Base
from exchange.transparency.tree import StoredTree
from keys.merkle import CompactTree, leaf_hash
from schemas import canonical_bytes


@pytest.fixture
def connection(database_url: str) -> Iterator[Connection]:
    """A connection to the migrated test database (its own engine, disposed after)."""
    engine = create_engine(database_url)
    with engine.connect() as open_connection:
        yield open_connection
    engine.dispose()


def test_migrated_schema_matches_the_models(connection: Connection) -> None:
    """Autogenerate finds nothing to do: no missing table, column, index, type or default."""
    context = MigrationContext.configure(
        connection, opts={"compare_type": True, "compare_server_default": True}
    )
    differences = compare_metadata(context, Base.metadata)
    assert differences == [], "migrations and models differ:\n" + "\n".join(map(str, differences))


def test_every_model_table_exists(connection: Connection) -> None:
    """Each table of the models is in the database (the comparison above is not vacuous)."""
    tables = set(inspect(connection).get_table_names())
    assert set(Base.metadata.tables) <= tables
    assert "alembic_version" in tables


def test_database_is_at_the_newest_revision(database_url: str, connection: Connection) -> None:
    """The stamped revision is the single head of the packaged migrations."""
    heads = ScriptDirectory.from_config(alembic_config(database_url)).get_heads()
    assert len(heads) == 1, f"the migrations branch: {heads}"
    assert MigrationContext.configure(connection).get_current_revision() == heads[0]
    assert is_initialised(connection.engine)


def test_upgrading_again_changes_nothing(database_url: str, hub: Hub) -> None:
    """A second ``upgrade`` (``exchange init`` twice) is a no-op: same revision, same tables."""
    with hub.engine.connect() as connection:
        revision = MigrationContext.configure(connection).get_current_revision()
        tables = sorted(inspect(connection).get_table_names())

    upgrade(database_url)

    with hub.engine.connect() as connection:
        assert MigrationContext.configure(connection).get_current_revision() == revision
        assert sorted(inspect(connection).get_table_names()) == tables


@pytest.fixture
def empty_database(database_url: str, tmp_path: Path) -> Iterator[str]:
    """A database of the same backend with nothing in it yet."""
    if database_url.startswith("sqlite"):
        yield f"sqlite:///{tmp_path / 'old.db'}"
        return
    server = create_engine(database_url, isolation_level="AUTOCOMMIT")
    # Named after the worker's own database, so that workers and other runs never share it.
    url = make_url(database_url)
    name = f"{url.database}_migration"
    quoted = server.dialect.identifier_preparer.quote(name)
    with server.connect() as connection:
        connection.execute(text(f"DROP DATABASE IF EXISTS {quoted}"))
        connection.execute(text(f"CREATE DATABASE {quoted}"))
    yield url.set(database=name).render_as_string(hide_password=False)
    with server.connect() as connection:
        connection.execute(text(f"DROP DATABASE IF EXISTS {quoted} WITH (FORCE)"))
    server.dispose()


def test_0002_gives_an_existing_log_its_interior_hashes(empty_database: str) -> None:
    """A store made before the stored tree: its entries get their interior hashes and its keys
    the index of the entry that registered them.
    """
    command.upgrade(alembic_config(empty_database), "0001")
    engine = create_engine(empty_database)
    now = datetime.now(UTC)
    entries = [
        {"index": i, "at": "2026-11-01T00:00:00Z", "actor": "cli", "action": "partner:added"}
        for i in range(13)
    ]
    entries[5] = {**entries[5], "action": "key:added", "kid": "audit.old#1"}
    with engine.begin() as connection:
        connection.execute(
            text(
                "INSERT INTO partners (id, name, body, status, created_at) "
                "VALUES ('audit.old', '旧审计局', 'audit', 'active', :now)"
            ),
            {"now": now},
        )
        connection.execute(
            text(
                "INSERT INTO partner_keys (kid, partner_id, public_key, not_before, created_at) "
                "VALUES ('audit.old#1', 'audit.old', :key, :now, :now)"
            ),
            {"key": bytes(32), "now": now},
        )
        for entry in entries:
            body = canonical_bytes(entry)
            connection.execute(
                text(
                    "INSERT INTO log_entries (idx, at, actor, action, entry, leaf_hash) "
                    "VALUES (:idx, :at, 'cli', :action, :entry, :leaf)"
                ),
                {
                    "idx": entry["index"],
                    "at": now,
                    "action": entry["action"],
                    "entry": body,
                    "leaf": leaf_hash(body),
                },
            )

    upgrade(empty_database)

    tree = CompactTree()
    with engine.connect() as connection:
        rows = connection.execute(text("SELECT leaf_hash, nodes FROM log_entries ORDER BY idx"))
        for leaf, nodes in rows:
            assert bytes(nodes) == b"".join(tree.append(bytes(leaf)))
        assert tree.size == 13
        assert StoredTree(connection).root(13) == tree.root()
        key_index = connection.execute(text("SELECT log_index FROM partner_keys")).scalar_one()
    assert key_index == 5
    engine.dispose()
