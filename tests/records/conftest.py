"""A real records database per test, on SQLite and on PostgreSQL: migrated by Alembic, with its
own key. Tests that take ``database`` or ``settings`` run once on each."""

from __future__ import annotations

import pytest

from bot.config import Settings
from bot.records.db import open_database

DIALECTS = ["sqlite", "postgresql"]


@pytest.fixture(params=DIALECTS)
def database_url(request) -> str:
    """``""`` for the embedded default (a SQLite file under the test's var/), else the URL of a
    fresh PostgreSQL database (skipped where there is no PostgreSQL, except under CI)."""
    if request.param == "sqlite":
        return ""
    return request.getfixturevalue("postgres_database")


@pytest.fixture
def settings(tmp_path, database_url) -> Settings:
    return Settings.from_env({"BOT_VAR_DIR": str(tmp_path / "var"), "BOT_DATABASE_URL": database_url})


@pytest.fixture
def database(settings):
    database = open_database(settings)
    yield database
    database.dispose()
