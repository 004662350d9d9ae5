"""The clock is injected so that tests and demos can travel in time.

Procedure dates are computed in Europe/London; every datetime handed out here is timezone-aware.
"""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Callable
from zoneinfo import ZoneInfo

LONDON = ZoneInfo("Europe/London")

Clock = Callable[[], datetime]
"""A function returning the current moment, timezone-aware."""


def system_clock() -> datetime:
    """The real current moment in Europe/London."""
    return datetime.now(timezone.utc).astimezone(LONDON)


def frozen_clock(at: datetime) -> Clock:
    """A clock that always answers ``at`` (converted to Europe/London)."""
    if at.tzinfo is None:
        raise ValueError("a frozen clock needs a timezone-aware datetime")
    moment = at.astimezone(LONDON)
    return lambda: moment


def clock_for(frozen_now: datetime | None) -> Clock:
    """The clock the settings ask for: frozen when ``BOT_NOW`` is set, else the system clock."""
    return frozen_clock(frozen_now) if frozen_now is not None else system_clock
