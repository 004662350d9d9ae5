"""The records database: its engine's life, sessions, and migrations (Alembic).

``open_database(settings)`` is the one way in: it installs the encryption key, creates the engine
for ``BOT_DATABASE_URL`` (SQLite under ``var/`` by default) and brings the schema to the latest
migration. Callers own transactions: ``with database.session() as session: ...`` commits on
success and rolls back on error.
"""

from __future__ import annotations

import contextlib
import dataclasses
import logging
from pathlib import Path
from typing import Iterator

from alembic import command
from alembic.config import Config
from sqlalchemy import create_engine, event
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session, sessionmaker

from bot.config import Settings
from bot.records import crypto

logger = logging.getLogger(__name__)

MIGRATIONS = Path(__file__).with_name("migrations")


class DatabaseUnavailable(RuntimeError):
    """The records database cannot be reached or written; the message says so in a sentence."""


def _sqlite_pragmas(dbapi_connection, _record) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA journal_mode=WAL")  # readers never block the writer
    cursor.execute("PRAGMA busy_timeout=10000")  # two processes writing wait, not fail
    cursor.close()


def make_engine(url: str) -> Engine:
    if url.startswith("sqlite:///"):
        Path(url[len("sqlite:///") :]).parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(url, future=True, connect_args={"timeout": 10})
        event.listen(engine, "connect", _sqlite_pragmas)
        return engine
    return create_engine(url, future=True, pool_pre_ping=True)


def alembic_config(engine: Engine) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.attributes["engine"] = engine
    return config


def upgrade(engine: Engine, revision: str = "head") -> None:
    """Apply the migrations up to ``revision``."""
    command.upgrade(alembic_config(engine), revision)


@dataclasses.dataclass
class Database:
    engine: Engine
    sessions: sessionmaker

    @contextlib.contextmanager
    def session(self) -> Iterator[Session]:
        """A unit of work: committed if the block succeeds, rolled back otherwise."""
        session = self.sessions()
        try:
            yield session
            session.commit()
        except Exception:
            session.rollback()
            raise
        finally:
            session.close()

    def dispose(self) -> None:
        self.engine.dispose()


def open_database(settings: Settings, *, migrate: bool = True) -> Database:
    """Install the records key, connect, and (by default) migrate to the latest schema."""
    crypto.install(crypto.load_or_create_key(settings.records_key, settings.records_key_file))
    engine = make_engine(settings.effective_database_url)
    if migrate:
        upgrade(engine)
    return Database(engine=engine, sessions=sessionmaker(bind=engine, future=True, expire_on_commit=False))
