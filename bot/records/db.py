"""The records database: its engine's life, sessions, and migrations (Alembic).

``open_database(settings)`` is the one way in: it installs the encryption key, creates the engine
for ``BOT_DATABASE_URL`` (SQLite under ``var/`` by default) and brings the schema to the latest
migration. Callers own transactions: ``with database.session() as session: ...`` commits on
success and rolls back on error.
"""

from __future__ import annotations

import contextlib
import dataclasses
import fcntl
import logging
from pathlib import Path
from typing import Iterator

from alembic import command
from alembic.config import Config
from sqlalchemy import create_engine, event, text
from sqlalchemy.engine import Engine
from sqlalchemy.exc import DBAPIError, InterfaceError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeout
from sqlalchemy.orm import Session, sessionmaker
from sqlalchemy.pool import QueuePool

from bot.config import Settings
from bot.records import crypto

logger = logging.getLogger(__name__)

MIGRATIONS = Path(__file__).with_name("migrations")


class DatabaseUnavailable(RuntimeError):
    """The records database cannot be reached or written; the message says so in a sentence."""


class CommitUncertain(RuntimeError):
    """The connection failed during COMMIT itself: the server may have committed the work before
    it went, or not. Said as such (never "nothing was saved"); sending the request again is safe,
    since opening and moving a record are idempotent."""


def unavailable(error: BaseException) -> bool:
    """Whether ``error`` says the records database could not be reached or written just now
    (server down or restarting, connection dropped, pool exhausted, SQLite locked or read-only):
    the transaction was rolled back, and the same request may succeed later. Integrity errors and
    bugs are not this."""
    if isinstance(error, CommitUncertain):
        return True
    if isinstance(error, (OperationalError, InterfaceError, PoolTimeout)):
        return True
    return isinstance(error, DBAPIError) and bool(error.connection_invalidated)


def _roll_back_quietly(session: Session) -> None:
    """Roll back after a failed commit; on a dropped connection that can fail too, and the
    commit's own error is the one to report."""
    try:
        session.rollback()
    except Exception:  # noqa: BLE001 - the connection is gone; the commit's error follows
        logger.debug("rollback after a failed commit failed as well", exc_info=True)


def reason(error: BaseException) -> str:
    """The driver's own one-line reason for ``error``, without the statement: for logs."""
    text = str(getattr(error, "orig", None) or error).strip()
    return (text.splitlines() or [type(error).__name__])[0][:200]


def _sqlite_pragmas(dbapi_connection, _record) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA journal_mode=WAL")  # readers never block the writer
    cursor.execute("PRAGMA busy_timeout=10000")  # two processes writing wait, not fail
    cursor.close()


def make_engine(url: str) -> Engine:
    # Errors and logs never show a statement's parameters: they can hold case references.
    if url.startswith("sqlite:///"):
        path = url[len("sqlite:///") :]
        if not path.startswith("file:"):  # a URI filename ("file:…?mode=ro&uri=true") is opened as it is
            Path(path).parent.mkdir(parents=True, exist_ok=True)
        # SQLAlchemy 1.4 would open a new SQLite connection (and run the pragmas) for every unit of
        # work; a small pool keeps them open. Pooled connections move between the threads of a
        # process (the scheduler's jobs), one thread at a time.
        engine = create_engine(
            url, future=True, poolclass=QueuePool, pool_size=2, max_overflow=8,
            connect_args={"timeout": 10, "check_same_thread": False}, hide_parameters=True,
        )  # fmt: skip
        event.listen(engine, "connect", _sqlite_pragmas)
        return engine
    # pool_pre_ping: after the server restarts, pooled connections are found dead and replaced
    # before use, so the first request after an outage succeeds instead of failing once more.
    return create_engine(url, future=True, pool_pre_ping=True, hide_parameters=True)


def alembic_config(engine: Engine) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.attributes["engine"] = engine
    return config


MIGRATION_LOCK = 0x65736361  # PostgreSQL advisory lock key: any number that is this project's own


@contextlib.contextmanager
def one_migrator_at_a_time(engine: Engine) -> Iterator[None]:
    """Hold the database's migration lock for the block. Processes started together on a new
    database (``make serve``'s, or several replicas') would otherwise each create the same tables
    and all but one fail; with it they migrate in turn, the later ones finding nothing to do."""
    if engine.dialect.name == "postgresql":
        with engine.connect() as connection:
            connection.execute(text("SELECT pg_advisory_lock(:key)"), {"key": MIGRATION_LOCK})
            try:
                yield
            finally:
                connection.execute(text("SELECT pg_advisory_unlock(:key)"), {"key": MIGRATION_LOCK})
        return
    database = engine.url.database
    if engine.dialect.name == "sqlite" and database and database != ":memory:" and not engine.url.query:
        with open(f"{database}.migrating", "a") as lock:  # SQLite: a lock on a file beside it
            fcntl.flock(lock, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(lock, fcntl.LOCK_UN)
        return
    yield  # a read-only or in-memory SQLite database: nothing to race for


def upgrade(engine: Engine, revision: str = "head") -> None:
    """Apply the migrations up to ``revision`` (one process at a time)."""
    with one_migrator_at_a_time(engine):
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
            try:
                yield session
            except Exception:
                session.rollback()
                raise
            try:
                session.commit()
            except Exception as error:
                _roll_back_quietly(session)
                if unavailable(error):
                    raise CommitUncertain(reason(error)) from error
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
