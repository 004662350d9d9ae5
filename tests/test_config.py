"""Settings from the environment: defaults, overrides and refusals that say what to do."""

from __future__ import annotations

from datetime import timedelta

import pytest

from bot.config import PROJECT_ROOT, Settings, SettingsError


def test_defaults_are_embedded():
    settings = Settings.from_env({})
    assert settings.var_dir == PROJECT_ROOT / "var"
    assert settings.rasa_url == "http://127.0.0.1:5005"
    assert settings.action_endpoint_url == "http://127.0.0.1:5055/webhook"
    assert settings.effective_tracker_store_url == f"sqlite:///{PROJECT_ROOT / 'var' / 'conversations.db'}"
    assert settings.frozen_now is None


def test_overrides(tmp_path):
    settings = Settings.from_env(
        {
            "BOT_VAR_DIR": str(tmp_path),
            "BOT_RASA_PORT": "6005",
            "BOT_NOW": "2026-12-24T09:00:00+00:00",
            "BOT_TRIAGE_MIN_CONFIDENCE": "0.7",
            "BOT_TRACKER_STORE_URL": "postgresql://u:p@localhost/rasa",
        }
    )
    assert settings.var_dir == tmp_path
    assert settings.rasa_port == 6005
    assert settings.frozen_now.utcoffset() == timedelta(0)
    assert settings.triage_min_confidence == 0.7
    assert settings.effective_tracker_store_url == "postgresql://u:p@localhost/rasa"


@pytest.mark.parametrize(
    "name, value, message",
    [
        ("BOT_RASA_PORT", "five", "BOT_RASA_PORT='five' is not a int; unset it to use 5005"),
        ("BOT_RISK_ALERT_CONFIDENCE", "1.5", "BOT_RISK_ALERT_CONFIDENCE must be between 0 and 1"),
        ("BOT_NOW", "tomorrow", "BOT_NOW='tomorrow' is not an ISO 8601 date and time"),
        ("BOT_NOW", "2026-12-24T09:00:00", "BOT_NOW needs a UTC offset"),
        ("BOT_TELEGRAM_TOKEN", "<your token>", "BOT_TELEGRAM_TOKEN is a placeholder"),
        ("BOT_TELEGRAM_TOKEN", "changeme", "BOT_TELEGRAM_TOKEN is a placeholder"),
        ("BOT_TEAMS_APP_PASSWORD", "${SECRET}", "BOT_TEAMS_APP_PASSWORD is a placeholder"),
        ("BOT_TELEGRAM_MODE", "push", "BOT_TELEGRAM_MODE must be polling or webhook"),
        ("BOT_NUDGE_HOURS", "17:00-09:00", "the start must come before the end"),
        ("BOT_NUDGE_HOURS", "nine to five", "is not a range of times such as 09:00-17:00"),
        ("BOT_NUDGE_INTERVAL_SECONDS", "0", "BOT_NUDGE_INTERVAL_SECONDS must be at least 1"),
        ("BOT_LOCK_STORE_URL", "127.0.0.1:6379", "BOT_LOCK_STORE_URL must be a Redis URL such as redis://127.0.0.1:6379/0"),
    ],
)
def test_unusable_values_are_refused_with_a_sentence(name, value, message):
    with pytest.raises(SettingsError, match=message):
        Settings.from_env({name: value})


def test_channel_settings_need_their_partners_and_secrets_stay_out_of_repr():
    with pytest.raises(SettingsError, match="BOT_TEAMS_APP_PASSWORD is not"):
        Settings.from_env({"BOT_TEAMS_APP_ID": "00000000-0000-4000-8000-000000000001"})
    with pytest.raises(SettingsError, match="needs BOT_TELEGRAM_WEBHOOK_URL, an https:// URL"):
        Settings.from_env({"BOT_TELEGRAM_TOKEN": "123456:AAbb", "BOT_TELEGRAM_MODE": "webhook"})
    settings = Settings.from_env({
        "BOT_TELEGRAM_TOKEN": "123456:AAsecret", "BOT_TEAMS_APP_ID": "app", "BOT_TEAMS_APP_PASSWORD": "pw-secret",
        "BOT_REGISTRATION_CODES": "CODE-secret", "BOT_REGISTRATION_DOMAINS": "NHS.net, southtyneside.gov.uk",
        "BOT_LOCK_STORE_URL": "redis://:redis-secret@127.0.0.1:6379/0",
    })  # fmt: skip
    assert settings.telegram_enabled and settings.teams_enabled
    assert settings.registration_domains == ("nhs.net", "southtyneside.gov.uk")
    assert "secret" not in repr(settings)
