"""`make serve`'s pieces: the generated endpoints file and the processes' commands."""

from __future__ import annotations

import yaml

from bot.config import Settings
from bot.serve import TRACKER_STORE, commands, process_environment, write_endpoints


def test_endpoints_on_embedded_defaults(tmp_path):
    settings = Settings.from_env({"BOT_VAR_DIR": str(tmp_path)})
    path = write_endpoints(settings)
    endpoints = yaml.safe_load(path.read_text())
    assert endpoints["action_endpoint"] == {"url": "http://127.0.0.1:5055/webhook"}
    assert endpoints["tracker_store"] == {"type": TRACKER_STORE, "dialect": "sqlite", "db": str(tmp_path / "conversations.db")}
    assert "lock_store" not in endpoints  # one Rasa server: its own in-memory locks
    assert path.stat().st_mode & 0o777 == 0o600


def test_endpoints_for_a_server_database(tmp_path):
    settings = Settings.from_env(
        {"BOT_VAR_DIR": str(tmp_path), "BOT_TRACKER_STORE_URL": "postgresql://rasa:secret@db.internal:5433/conversations"}
    )
    store = yaml.safe_load(write_endpoints(settings).read_text())["tracker_store"]
    assert store == {
        "type": TRACKER_STORE, "dialect": "postgresql", "url": "db.internal", "port": 5433,
        "db": "conversations", "username": "rasa", "password": "secret",
    }  # fmt: skip


def test_endpoints_for_several_replicas_carry_the_redis_lock_store_and_database_options(tmp_path):
    settings = Settings.from_env({
        "BOT_VAR_DIR": str(tmp_path),
        "BOT_TRACKER_STORE_URL": "postgresql+psycopg2://rasa:secret@db.internal/conversations?sslmode=require",
        "BOT_LOCK_STORE_URL": "redis://:s%40cret@redis.internal:6380/2",
    })  # fmt: skip
    endpoints = yaml.safe_load(write_endpoints(settings).read_text())
    assert endpoints["tracker_store"] == {
        "type": TRACKER_STORE, "dialect": "postgresql+psycopg2", "url": "db.internal", "port": None,
        "db": "conversations", "username": "rasa", "password": "secret", "query": {"sslmode": "require"},
    }  # fmt: skip
    # The keys of Rasa 3.6's RedisLockStore (rasa/core/lock_store.py): the host goes in `url`.
    assert endpoints["lock_store"] == {
        "type": "bot.lock_store.AtomicRedisLockStore", "url": "redis.internal", "port": 6380, "db": 2, "password": "s@cret",
    }  # fmt: skip


def test_rasa_builds_its_redis_lock_store_from_the_generated_endpoints(tmp_path):
    """Rasa reads the file into the lock store it runs with (the client connects lazily)."""
    from rasa.core.lock_store import LockStore
    from rasa.utils.endpoints import read_endpoint_config

    from bot.lock_store import AtomicRedisLockStore

    settings = Settings.from_env({"BOT_VAR_DIR": str(tmp_path), "BOT_LOCK_STORE_URL": "rediss://app:pw@redis.internal:6390/3"})
    path = write_endpoints(settings)
    lock_store = LockStore.create(read_endpoint_config(str(path), "lock_store"))
    assert isinstance(lock_store, AtomicRedisLockStore)
    connection = lock_store.red.connection_pool.connection_kwargs
    assert (connection["host"], connection["port"], connection["db"], connection["username"], connection["password"]) == (
        "redis.internal", 6390, 3, "app", "pw",
    )  # fmt: skip
    assert lock_store.red.connection_pool.connection_class.__name__ == "SSLConnection"  # rediss:


def test_the_endpoints_command_writes_rasas_files_for_a_rasa_only_machine(tmp_path, monkeypatch, capsys):
    from bot.__main__ import main

    monkeypatch.setenv("BOT_VAR_DIR", str(tmp_path))
    monkeypatch.setenv("BOT_LOCK_STORE_URL", "redis://127.0.0.1:6379/0")
    assert main(["endpoints"]) == 0
    assert capsys.readouterr().out.split() == [str(tmp_path / "endpoints.yml"), str(tmp_path / "credentials.yml")]
    assert yaml.safe_load((tmp_path / "endpoints.yml").read_text())["lock_store"]["url"] == "127.0.0.1"


def test_commands_bind_loopback_with_the_api_on(tmp_path):
    settings = Settings.from_env({"BOT_VAR_DIR": str(tmp_path), "BOT_RASA_PORT": "6005", "BOT_ACTIONS_PORT": "6055"})
    run = commands(settings, tmp_path / "endpoints.yml")
    assert run["actions"][-4:] == ["--actions", "actions", "--port", "6055"]
    rasa = run["rasa"]
    assert "--enable-api" in rasa
    assert rasa[rasa.index("--interface") + 1] == "127.0.0.1"
    assert rasa[rasa.index("--port") + 1] == "6005"
    assert process_environment(settings)["SANIC_HOST"] == "127.0.0.1"
