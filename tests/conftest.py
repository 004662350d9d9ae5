"""Shared fixtures: the real packs, a frozen clock in Europe/London."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

import pytest
from sanic import Sanic

from bot.clock import LONDON
from bot.config import PROJECT_ROOT
from bot.procedures.loader import Library, load_library

# Several Sanic apps start in this one process (Telegram's webhook, the dashboard): Sanic's test
# mode keeps each start from re-compiling what an earlier one already rewrote ("KeyError: 'send'").
Sanic.test_mode = True

PACKS_DIR = PROJECT_ROOT / "bot" / "procedures" / "packs"
SEEDS_DIR = PROJECT_ROOT.parent / "shared" / "seeds"
PARTNERSHIPS = [
    "bury-adults",
    "bury-children",
    "warrington-adults",
    "cambs-peterborough-adults",
    "south-tyneside",
]


def london(*parts: int) -> datetime:
    """An aware Europe/London datetime: london(2026, 12, 24, 9, 30)."""
    return datetime(*parts, tzinfo=LONDON)


@pytest.fixture(scope="session")
def library() -> Library:
    return load_library(PACKS_DIR)


@pytest.fixture
def packs_copy(tmp_path: Path) -> Path:
    """A writable copy of the packs directory, for breaking a pack on purpose."""
    target = tmp_path / "packs"
    target.mkdir()
    for path in PACKS_DIR.glob("*.yml"):
        (target / path.name).write_text(path.read_text(encoding="utf-8"), encoding="utf-8")
    return target


@pytest.fixture(scope="session")
def server(tmp_path_factory):
    """The assistant serving on the test ports for the whole session (see tests/serving.py)."""
    from tests.serving import ServerDidNotStart, serving

    var = tmp_path_factory.mktemp("var")
    try:
        with serving(var):
            yield var  # the server's var/: its records database and key
    except ServerDidNotStart as error:
        pytest.fail(str(error))


@pytest.fixture(scope="session")
def postgres_server():
    """One PostgreSQL server for the whole session (see tests/postgres.py): skipped where there is
    none, a failure under CI."""
    from tests.postgres import server

    with server() as url:
        yield url


@pytest.fixture
def postgres_database(postgres_server):
    """A fresh, empty PostgreSQL database for one test, dropped afterwards; its URL."""
    from tests.postgres import fresh_database

    with fresh_database(postgres_server) as url:
        yield url
