"""A real records database per test: a SQLite file, migrated by Alembic, with its own key."""

from __future__ import annotations

import pytest

from bot.config import Settings
from bot.records.db import open_database


@pytest.fixture
def settings(tmp_path) -> Settings:
    return Settings.from_env({"BOT_VAR_DIR": str(tmp_path / "var")})


@pytest.fixture
def database(settings):
    database = open_database(settings)
    yield database
    database.dispose()
