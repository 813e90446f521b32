"""The hub as one object: configuration, store, trust, agreements and intake, wired once."""

from __future__ import annotations

import os
from datetime import datetime
from functools import cached_property

from flask import current_app
from sqlalchemy import Engine
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session, sessionmaker

from exchange.config import Config
from exchange.store.db import is_initialised, make_engine, make_sessionmaker, sqlite_file, upgrade
from exchange.store.writer import Store
from exchange.transparency.checkpoints import Notary
from exchange.transport.intake import Intake
from exchange.trust.agreements import AgreementBook
from exchange.trust.hub_keys import HubTrust


def current_hub() -> Hub:
    """The hub of the current Flask application (as Flask extensions are found)."""
    instance: Hub = current_app.extensions["exchange"]
    return instance


class Hub:
    """Lazily built services of one hub instance (the Flask app and the CLI share it)."""

    def __init__(self, config: Config) -> None:
        self.config = config
        self._set_up = False

    def now(self) -> datetime:
        """The hub's clock (replaceable in tests through the config)."""
        return self.config.clock()

    @cached_property
    def engine(self) -> Engine:
        """The database engine."""
        return make_engine(self.config.database_url)

    @cached_property
    def read_engine(self) -> Engine:
        """The engine for read-only work: autocommit on PostgreSQL (no BEGIN/ROLLBACK round
        trips), deferred transactions on SQLite (WAL readers never wait for the writer).
        """
        if self.engine.dialect.name != "sqlite":
            return self.engine.execution_options(isolation_level="AUTOCOMMIT")
        return make_engine(self.config.database_url, readonly=True)

    @cached_property
    def notary(self) -> Notary:
        """Signs the log's checkpoints with the hub's key."""
        return Notary(self.config.origin, self.trust.sign_compact)

    @cached_property
    def sessions(self) -> sessionmaker[Session]:
        """Sessions for work that writes (they carry the notary for the log's checkpoints)."""
        return make_sessionmaker(self.engine, info={"notary": self.notary})

    @cached_property
    def readers(self) -> sessionmaker[Session]:
        """Sessions for work that only reads."""
        return make_sessionmaker(self.read_engine)

    @cached_property
    def trust(self) -> HubTrust:
        """The hub's keys, sealing ring and PII key."""
        return HubTrust.load(self.config.keys_dir)

    @cached_property
    def agreements(self) -> AgreementBook:
        """Agreements in force."""
        return AgreementBook.load(self.config.agreements_path)

    @cached_property
    def intake(self) -> Intake:
        """The submission pipeline."""
        return Intake(self.store, self.notary, self.trust, self.agreements, self.config)

    @cached_property
    def store(self) -> Store:
        """Write transactions on the hub's database."""
        return Store(self.engine, self.sessions)

    def missing(self) -> list[str]:
        """What ``exchange init`` has not made yet: keys, the store or its schema. Creates
        nothing (an SQLite file that is not there is not opened).
        """
        if self._set_up:
            return []
        missing = HubTrust.missing(self.config.keys_dir)
        database = sqlite_file(self.config.database_url)
        if database is not None and not database.exists():
            missing.append(f"the store {database}")
        else:
            try:
                if not is_initialised(self.engine):
                    missing.append("the store's tables")
            except DBAPIError:
                missing.append("a database that answers")
        self._set_up = not missing
        return missing

    def initialise(self) -> list[str]:
        """Create the store's schema and the hub's secrets if absent; return what was made.

        The home is the hub's alone (0700), and so is an SQLite store's file (0600: its WAL
        and shared-memory files take the database file's mode).
        """
        home = self.config.home
        home.mkdir(parents=True, exist_ok=True, mode=0o700)
        os.chmod(home, 0o700)
        created = HubTrust.ensure(self.config.keys_dir, now=self.now())
        database = sqlite_file(self.config.database_url)
        if database is not None:
            database.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
            os.close(os.open(database, os.O_WRONLY | os.O_CREAT, 0o600))
            for path in (database, *database.parent.glob(f"{database.name}-*")):
                os.chmod(path, 0o600)
        upgrade(self.config.database_url)
        return created
