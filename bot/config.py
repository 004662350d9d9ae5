"""The one place that reads the environment.

Every setting has a default that runs the assistant on embedded defaults (SQLite files under
``var/``, no channel tokens). ``Settings.from_env()`` is called by entry points, never at import.
The README's "Settings" table lists the same names and defaults; keep the two in step.
"""

from __future__ import annotations

import dataclasses
import os
import re
from datetime import datetime, time
from pathlib import Path
from typing import Mapping

PROJECT_ROOT = Path(__file__).resolve().parent.parent


# Values left from an example or a template, refused for secrets and tokens.
PLACEHOLDER = re.compile(r"^(<.*>|\$\{.*\}|x{3,}|\.{3}|change[-_ ]?me|placeholder|todo|tbd|your[-_ ].*|secret|token|password)$", re.I)


class SettingsError(ValueError):
    """A setting in the environment has a value the assistant cannot use."""


@dataclasses.dataclass(frozen=True)
class Settings:
    """What the processes of the assistant are configured with."""

    var_dir: Path = PROJECT_ROOT / "var"
    packs_dir: Path = PROJECT_ROOT / "bot" / "procedures" / "packs"
    rasa_host: str = "127.0.0.1"
    rasa_port: int = 5005
    actions_host: str = "127.0.0.1"
    actions_port: int = 5055
    # URLs may hold passwords and the key is a secret: none of them appear in repr() or logs.
    tracker_store_url: str = dataclasses.field(default="", repr=False)
    lock_store_url: str = dataclasses.field(default="", repr=False)  # empty: Rasa's in-memory lock store
    database_url: str = dataclasses.field(default="", repr=False)
    records_key: str = dataclasses.field(default="", repr=False)
    retention_days: int = 2190
    frozen_now: datetime | None = None
    triage_min_confidence: float = 0.55
    triage_min_margin: float = 0.2
    risk_alert_confidence: float = 0.2
    risk_route_confidence: float = 0.35
    log_level: str = "INFO"
    nudge_interval_seconds: int = 60
    nudge_hours: tuple[time, time] = (time(9, 0), time(17, 0))
    nudge_overdue_after_days: int = 2
    nudge_claim_seconds: int = 120
    nudge_retry_max_minutes: int = 60
    # Channels: each is on when its token / app id is set. Secrets stay out of repr() and logs.
    telegram_token: str = dataclasses.field(default="", repr=False)
    telegram_mode: str = "polling"  # or "webhook"
    telegram_webhook_url: str = ""  # the public https URL Telegram posts updates to (webhook mode)
    telegram_webhook_secret: str = dataclasses.field(default="", repr=False)
    telegram_api_url: str = "https://api.telegram.org/bot"  # python-telegram-bot's base_url
    teams_app_id: str = ""
    teams_app_password: str = dataclasses.field(default="", repr=False)
    teams_tenant_id: str = ""  # set for a single-tenant app registration
    teams_openid_url: str = "https://login.botframework.com/v1/.well-known/openidconfiguration"
    teams_token_url: str = ""  # default: Microsoft's token endpoint for the tenant (or botframework.com)
    webchat_port: int = 8000
    registration_domains: tuple[str, ...] = ()  # e-mail domains allowed to register; empty: any
    registration_codes: tuple[str, ...] = dataclasses.field(default=(), repr=False)  # invitation codes

    @property
    def telegram_enabled(self) -> bool:
        return bool(self.telegram_token)

    @property
    def teams_enabled(self) -> bool:
        return bool(self.teams_app_id)

    @property
    def webchat_url(self) -> str:
        return f"http://127.0.0.1:{self.webchat_port}"

    @property
    def action_endpoint_url(self) -> str:
        return f"http://{self.actions_host}:{self.actions_port}/webhook"

    @property
    def rasa_url(self) -> str:
        return f"http://{self.rasa_host}:{self.rasa_port}"

    @property
    def effective_tracker_store_url(self) -> str:
        """Rasa's conversation store: the setting, else a SQLite file under ``var/``."""
        return self.tracker_store_url or f"sqlite:///{self.var_dir / 'conversations.db'}"

    @property
    def effective_database_url(self) -> str:
        """The escalation records' database: the setting, else a SQLite file under ``var/``."""
        return self.database_url or f"sqlite:///{self.var_dir / 'records.db'}"

    @property
    def records_key_file(self) -> Path:
        """Where the embedded defaults keep the records' encryption key (made on first use)."""
        return self.var_dir / "records.key"

    @property
    def documents_dir(self) -> Path:
        return self.var_dir / "documents"

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> "Settings":
        """Build settings from ``environ`` (default: ``os.environ``), refusing unusable values."""
        env = os.environ if environ is None else environ
        defaults = cls()

        def text(name: str, default: str) -> str:
            value = env.get(name, "").strip()
            return value or default

        def number(name: str, default: float, kind: type) -> float | int:
            raw = env.get(name, "").strip()
            if not raw:
                return default
            try:
                return kind(raw)
            except ValueError:
                raise SettingsError(
                    f"{name}={raw!r} is not a {kind.__name__}; unset it to use {default}."
                ) from None

        def fraction(name: str, default: float) -> float:
            value = float(number(name, default, float))
            if not 0.0 <= value <= 1.0:
                raise SettingsError(f"{name} must be between 0 and 1, not {value}.")
            return value

        frozen_raw = env.get("BOT_NOW", "").strip()
        frozen_now = None
        if frozen_raw:
            try:
                frozen_now = datetime.fromisoformat(frozen_raw)
            except ValueError:
                raise SettingsError(
                    f"BOT_NOW={frozen_raw!r} is not an ISO 8601 date and time, "
                    "for example 2026-12-23T10:00:00+00:00."
                ) from None
            if frozen_now.tzinfo is None:
                raise SettingsError(
                    "BOT_NOW needs a UTC offset, for example 2026-12-23T10:00:00+00:00."
                )

        retention = int(number("BOT_RETENTION_DAYS", defaults.retention_days, int))
        if retention < 1:
            raise SettingsError(f"BOT_RETENTION_DAYS must be at least 1 day, not {retention}.")

        hours_raw = text("BOT_NUDGE_HOURS", "09:00-17:00")
        try:
            start, end = (time.fromisoformat(part.strip()) for part in hours_raw.split("-"))
        except ValueError:
            raise SettingsError(
                f"BOT_NUDGE_HOURS={hours_raw!r} is not a range of times such as 09:00-17:00."
            ) from None
        if start >= end:
            raise SettingsError(f"BOT_NUDGE_HOURS={hours_raw!r}: the start must come before the end.")

        def positive(name: str, default: int) -> int:
            value = int(number(name, default, int))
            if value < 1:
                raise SettingsError(f"{name} must be at least 1, not {value}.")
            return value

        def secret(name: str) -> str:
            value = env.get(name, "").strip()
            if value and PLACEHOLDER.match(value):
                raise SettingsError(f"{name} is a placeholder ({value!r}): set the real value, or unset it.")
            return value

        def listing(name: str) -> tuple[str, ...]:
            return tuple(part.strip().lower() for part in env.get(name, "").split(",") if part.strip())

        telegram_mode = text("BOT_TELEGRAM_MODE", defaults.telegram_mode).lower()
        if telegram_mode not in ("polling", "webhook"):
            raise SettingsError(f"BOT_TELEGRAM_MODE must be polling or webhook, not {telegram_mode!r}.")
        telegram_webhook_url = secret("BOT_TELEGRAM_WEBHOOK_URL")
        if telegram_mode == "webhook" and secret("BOT_TELEGRAM_TOKEN") and not telegram_webhook_url.startswith("https://"):
            raise SettingsError("BOT_TELEGRAM_MODE=webhook needs BOT_TELEGRAM_WEBHOOK_URL, an https:// URL Telegram can reach.")
        lock_store_url = text("BOT_LOCK_STORE_URL", "")
        if lock_store_url and not re.match(r"^rediss?://[^/?#]*(/\d+)?/?$", lock_store_url):
            raise SettingsError(
                "BOT_LOCK_STORE_URL must be a Redis URL such as redis://127.0.0.1:6379/0 "
                "(redis://:password@host:port/db; rediss:// for TLS), or unset for one Rasa server."
            )
        teams_app_id = secret("BOT_TEAMS_APP_ID")
        if teams_app_id and not secret("BOT_TEAMS_APP_PASSWORD"):
            raise SettingsError("BOT_TEAMS_APP_ID is set but BOT_TEAMS_APP_PASSWORD is not: set the app's client secret.")

        return cls(
            var_dir=Path(text("BOT_VAR_DIR", str(defaults.var_dir))).resolve(),
            packs_dir=Path(text("BOT_PACKS_DIR", str(defaults.packs_dir))).resolve(),
            rasa_host=text("BOT_RASA_HOST", defaults.rasa_host),
            rasa_port=int(number("BOT_RASA_PORT", defaults.rasa_port, int)),
            actions_host=text("BOT_ACTIONS_HOST", defaults.actions_host),
            actions_port=int(number("BOT_ACTIONS_PORT", defaults.actions_port, int)),
            tracker_store_url=text("BOT_TRACKER_STORE_URL", ""),
            lock_store_url=lock_store_url,
            database_url=text("BOT_DATABASE_URL", ""),
            records_key=env.get("BOT_RECORDS_KEY", "").strip(),
            retention_days=int(number("BOT_RETENTION_DAYS", defaults.retention_days, int)),
            frozen_now=frozen_now,
            triage_min_confidence=fraction(
                "BOT_TRIAGE_MIN_CONFIDENCE", defaults.triage_min_confidence
            ),
            triage_min_margin=fraction("BOT_TRIAGE_MIN_MARGIN", defaults.triage_min_margin),
            risk_alert_confidence=fraction(
                "BOT_RISK_ALERT_CONFIDENCE", defaults.risk_alert_confidence
            ),
            risk_route_confidence=fraction(
                "BOT_RISK_ROUTE_CONFIDENCE", defaults.risk_route_confidence
            ),
            log_level=text("BOT_LOG_LEVEL", defaults.log_level).upper(),
            nudge_interval_seconds=positive("BOT_NUDGE_INTERVAL_SECONDS", defaults.nudge_interval_seconds),
            nudge_hours=(start, end),
            nudge_overdue_after_days=positive("BOT_NUDGE_OVERDUE_AFTER_DAYS", defaults.nudge_overdue_after_days),
            nudge_claim_seconds=positive("BOT_NUDGE_CLAIM_SECONDS", defaults.nudge_claim_seconds),
            nudge_retry_max_minutes=positive("BOT_NUDGE_RETRY_MAX_MINUTES", defaults.nudge_retry_max_minutes),
            telegram_token=secret("BOT_TELEGRAM_TOKEN"),
            telegram_mode=telegram_mode,
            telegram_webhook_url=telegram_webhook_url,
            telegram_webhook_secret=secret("BOT_TELEGRAM_WEBHOOK_SECRET"),
            telegram_api_url=text("BOT_TELEGRAM_API_URL", defaults.telegram_api_url),
            teams_app_id=teams_app_id,
            teams_app_password=secret("BOT_TEAMS_APP_PASSWORD"),
            teams_tenant_id=secret("BOT_TEAMS_TENANT_ID"),
            teams_openid_url=text("BOT_TEAMS_OPENID_URL", defaults.teams_openid_url),
            teams_token_url=text("BOT_TEAMS_TOKEN_URL", ""),
            webchat_port=int(number("BOT_WEBCHAT_PORT", defaults.webchat_port, int)),
            registration_domains=listing("BOT_REGISTRATION_DOMAINS"),
            registration_codes=tuple(code.strip() for code in env.get("BOT_REGISTRATION_CODES", "").split(",") if code.strip()),
        )
