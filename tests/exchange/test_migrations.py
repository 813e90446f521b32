"""The Alembic migrations build exactly the schema the models describe, on every backend."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Connection, create_engine, inspect

from exchange.db import alembic_config, is_initialised, upgrade
from exchange.hub import Hub
from exchange.models import Base


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
