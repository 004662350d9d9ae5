"""`make serve`'s pieces: the generated endpoints file and the processes' commands."""

from __future__ import annotations

import yaml

from bot.config import Settings
from bot.serve import commands, process_environment, write_endpoints


def test_endpoints_on_embedded_defaults(tmp_path):
    settings = Settings.from_env({"BOT_VAR_DIR": str(tmp_path)})
    path = write_endpoints(settings)
    endpoints = yaml.safe_load(path.read_text())
    assert endpoints["action_endpoint"] == {"url": "http://127.0.0.1:5055/webhook"}
    assert endpoints["tracker_store"] == {"type": "SQL", "dialect": "sqlite", "db": str(tmp_path / "conversations.db")}
    assert path.stat().st_mode & 0o777 == 0o600


def test_endpoints_for_a_server_database(tmp_path):
    settings = Settings.from_env(
        {"BOT_VAR_DIR": str(tmp_path), "BOT_TRACKER_STORE_URL": "postgresql://rasa:secret@db.internal:5433/conversations"}
    )
    store = yaml.safe_load(write_endpoints(settings).read_text())["tracker_store"]
    assert store == {
        "type": "SQL", "dialect": "postgresql", "url": "db.internal", "port": 5433,
        "db": "conversations", "username": "rasa", "password": "secret",
    }  # fmt: skip


def test_commands_bind_loopback_with_the_api_on(tmp_path):
    settings = Settings.from_env({"BOT_VAR_DIR": str(tmp_path), "BOT_RASA_PORT": "6005", "BOT_ACTIONS_PORT": "6055"})
    run = commands(settings, tmp_path / "endpoints.yml")
    assert run["actions"][-4:] == ["--actions", "actions", "--port", "6055"]
    rasa = run["rasa"]
    assert "--enable-api" in rasa
    assert rasa[rasa.index("--interface") + 1] == "127.0.0.1"
    assert rasa[rasa.index("--port") + 1] == "6005"
    assert process_environment(settings)["SANIC_HOST"] == "127.0.0.1"
