"""Throwaway PostgreSQL for tests: one cluster per test session, a fresh database per test.

The server is ``BOT_TEST_POSTGRES_URL`` when set (any PostgreSQL 13 or later whose user may create
databases); otherwise a cluster this module starts on loopback with the machine's ``initdb`` and
``pg_ctl`` (on ``PATH`` or in Debian's ``/usr/lib/postgresql/<version>/bin``), as the ``postgres``
user when the tests run as root, durability off (it lives for one session). Each test gets its own
database, created empty and dropped afterwards, so tests stay independent.

Where PostgreSQL is missing the tests that need it are skipped with the reason; under CI (``CI``
set, as `.ci/run` runs) they fail instead, because `.ci/run` installs Debian's ``postgresql``.
"""

from __future__ import annotations

import contextlib
import glob
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
import uuid
from pathlib import Path
from typing import Iterator, NoReturn

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url
from sqlalchemy.pool import NullPool


def in_ci() -> bool:
    return os.environ.get("CI", "").strip().lower() not in ("", "0", "false", "no")


def unavailable(reason: str) -> NoReturn:
    """Skip the test with ``reason``; under CI, where the service must be there, fail it."""
    if in_ci():
        pytest.fail(f"{reason} (CI=true: `.ci/run` installs it, so the tests must not skip)", pytrace=False)
    pytest.skip(reason)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def as_service_user(directory: Path, user: str) -> list[str]:
    """The command prefix that runs a server as ``user`` when the tests run as root (PostgreSQL
    refuses root), after giving that user ``directory``; ``[]`` when not root."""
    if os.geteuid() != 0:
        return []
    try:
        owner = pwd.getpwnam(user)
    except KeyError:
        unavailable(f"running as root and there is no {user!r} user to run the server as")
    os.chown(directory, owner.pw_uid, owner.pw_gid)
    return ["runuser", "-u", user, "--"]


def binaries() -> tuple[str, str] | None:
    """``initdb`` and ``pg_ctl``: on ``PATH``, else the newest Debian ``postgresql-<N>``'s."""
    initdb, pg_ctl = shutil.which("initdb"), shutil.which("pg_ctl")
    if initdb and pg_ctl:
        return initdb, pg_ctl
    versions = sorted(glob.glob("/usr/lib/postgresql/*/bin/pg_ctl"), key=lambda p: int(Path(p).parts[-3]))
    if versions:
        return str(Path(versions[-1]).with_name("initdb")), versions[-1]
    return None


@contextlib.contextmanager
def cluster() -> Iterator[str]:
    """A PostgreSQL cluster in a new temporary directory, on a free loopback port, until the block
    ends; yields the URL of its ``postgres`` database as superuser ``bot`` (trust, loopback)."""
    found = binaries()
    if found is None:
        unavailable("no PostgreSQL here: install Debian's postgresql package or set BOT_TEST_POSTGRES_URL")
    initdb, pg_ctl = found
    # Not under pytest's basetemp: another pytest session on the machine makes its root 0700,
    # which would lock the postgres user out of a running cluster.
    with tempfile.TemporaryDirectory(prefix="bot-test-postgres-") as name:
        with _cluster(Path(name), initdb, pg_ctl) as url:
            yield url


@contextlib.contextmanager
def _cluster(directory: Path, initdb: str, pg_ctl: str) -> Iterator[str]:
    run_as = as_service_user(directory, "postgres")
    data, port = directory / "data", free_port()
    made = subprocess.run(
        [*run_as, initdb, "-D", str(data), "-U", "bot", "--auth=trust", "-E", "UTF8", "--no-sync"],
        capture_output=True, text=True,
    )  # fmt: skip
    if made.returncode != 0:
        unavailable(f"initdb failed: {made.stderr.strip()[-500:]}")
    options = (
        f"-p {port} -k {directory} -c listen_addresses=127.0.0.1 "
        "-c fsync=off -c synchronous_commit=off -c full_page_writes=off"  # throwaway: speed over durability
    )
    started = subprocess.run(
        [*run_as, pg_ctl, "-D", str(data), "-w", "-t", "60", "-l", str(directory / "log"), "-o", options, "start"],
        capture_output=True, text=True,
    )  # fmt: skip
    if started.returncode != 0:
        log = (directory / "log").read_text(errors="replace")[-1000:] if (directory / "log").exists() else ""
        unavailable(f"PostgreSQL did not start: {started.stderr.strip()[-500:]}\n{log}")
    try:
        yield f"postgresql://bot@127.0.0.1:{port}/postgres"
    finally:
        subprocess.run([*run_as, pg_ctl, "-D", str(data), "-m", "immediate", "stop"], capture_output=True)


@contextlib.contextmanager
def server() -> Iterator[str]:
    """``BOT_TEST_POSTGRES_URL``, else a throwaway ``cluster``."""
    configured = os.environ.get("BOT_TEST_POSTGRES_URL", "").strip()
    if configured:
        yield configured
        return
    with cluster() as url:
        yield url


def _admin(server_url: str):
    return create_engine(server_url, future=True, isolation_level="AUTOCOMMIT", poolclass=NullPool)


@contextlib.contextmanager
def fresh_database(server_url: str) -> Iterator[str]:
    """A new, empty database on the server until the block ends (then dropped, connections and
    all); yields its URL."""
    name = f"test_{uuid.uuid4().hex[:16]}"
    admin = _admin(server_url)
    try:
        with admin.connect() as connection:
            connection.execute(text(f'CREATE DATABASE "{name}"'))
        try:
            yield make_url(server_url).set(database=name).render_as_string(hide_password=False)
        finally:
            with admin.connect() as connection:
                connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    finally:
        admin.dispose()
