"""Working-day timescales: from a stage's timescale and a start moment to a due date.

The rules, applied in Europe/London (the start moment is converted there first):

* A **working day** is Monday to Friday, except the bank holidays of the pack's nation
  (England and Wales share theirs; ``holidays``' ``GB``/``ENG`` calendar). The Christmas period is
  therefore only Christmas Day, Boxing Day and their substitute days when they fall at a weekend.
* **"N working days"** (and **"within 1 day"**, which is one working day): due on the Nth working
  day *after* the day the stage started. The start day never counts, whatever the hour, so a
  stage started on Friday with one working day is due on Monday (Tuesday if Monday is a bank
  holiday).
* **"Within one week"** (``weeks``): five working days per week, counted as above. A bank holiday
  inside the week therefore moves the due date on by a day, as it would for the people involved.
* **"Same working day"**: the start day if it is a working day, else the next working day.
* **"As soon as possible"** and **no timescale**: the procedure sets no number of days, so no due
  date is computed from it; the assistant asks for the review date the practitioner agreed and
  uses that. A limit the same pack sets (Bury children: "each stage should not exceed 10 working
  days") still gives the latest date. Nothing is borrowed from another partnership.
* **Limits** cap a stage's due date: ``each_stage`` from the stage's start, ``whole_escalation``
  from the start of the first stage (South Tyneside: all within five working days).
"""

from __future__ import annotations

import dataclasses
import enum
import functools
from datetime import date, datetime, timedelta

import holidays

from bot.clock import LONDON
from bot.procedures.schema import LimitScope, Pack, Timescale, TimescaleKind

WORKING_DAYS_PER_WEEK = 5


class WorkingCalendar:
    """Weekdays that are not bank holidays, for one nation of the UK."""

    def __init__(self, subdivision: str = "ENG") -> None:
        self.subdivision = subdivision
        self._holidays = holidays.country_holidays("GB", subdiv=subdivision)

    def is_working_day(self, day: date) -> bool:
        return day.weekday() < 5 and day not in self._holidays

    def bank_holiday(self, day: date) -> str | None:
        """The bank holiday's name on ``day``, if it is one."""
        return self._holidays.get(day)

    def on_or_after(self, day: date) -> date:
        """``day`` if it is a working day, else the next working day."""
        while not self.is_working_day(day):
            day += timedelta(days=1)
        return day

    def add_working_days(self, day: date, count: int) -> date:
        """The ``count``-th working day after ``day`` (``day`` itself not counted)."""
        if count < 0:
            raise ValueError("count must not be negative")
        while count:
            day += timedelta(days=1)
            if self.is_working_day(day):
                count -= 1
        return day

    def working_days_between(self, start: date, end: date) -> int:
        """Working days after ``start`` up to and including ``end`` (negative if end < start)."""
        if end < start:
            return -self.working_days_between(end, start)
        return sum(
            1
            for offset in range(1, (end - start).days + 1)
            if self.is_working_day(start + timedelta(days=offset))
        )


@functools.lru_cache(maxsize=8)
def calendar_for(subdivision: str) -> WorkingCalendar:
    return WorkingCalendar(subdivision)


def local_date(moment: datetime) -> date:
    """The Europe/London date of an aware moment."""
    if moment.tzinfo is None:
        raise ValueError("timescales need a timezone-aware start moment")
    return moment.astimezone(LONDON).date()


def due_on(timescale: Timescale, started_at: datetime, calendar: WorkingCalendar) -> date | None:
    """The due date of ``timescale`` for a stage started at ``started_at``, or None if unset."""
    start = local_date(started_at)
    if timescale.kind is TimescaleKind.WORKING_DAYS:
        return calendar.add_working_days(start, timescale.days)
    if timescale.kind is TimescaleKind.WEEKS:
        return calendar.add_working_days(start, timescale.weeks * WORKING_DAYS_PER_WEEK)
    if timescale.kind is TimescaleKind.SAME_WORKING_DAY:
        return calendar.on_or_after(start)
    return None


class DueBasis(str, enum.Enum):
    """Why a stage is due when it is."""

    STAGE_TIMESCALE = "stage_timescale"
    STAGE_LIMIT = "stage_limit"
    ESCALATION_LIMIT = "escalation_limit"
    AGREED_REVIEW = "agreed_review"
    NOT_SET = "not_set"


@dataclasses.dataclass(frozen=True)
class Due:
    """When a stage is due and why; ``on`` is None when nothing sets a date."""

    on: date | None
    basis: DueBasis


def stage_due(
    pack: Pack,
    stage_index: int,
    *,
    stage_started_at: datetime,
    escalation_started_at: datetime | None = None,
    agreed_review_on: date | None = None,
) -> Due:
    """The due date of a stage: the earliest of its timescale, the pack's limits and, where the
    procedure sets no number of days, the review date the practitioner agreed."""
    calendar = calendar_for(pack.bank_holidays)
    stage = pack.stage(stage_index)
    candidates: list[tuple[date, DueBasis]] = []

    own = due_on(stage.timescale, stage_started_at, calendar)
    if own is not None:
        candidates.append((own, DueBasis.STAGE_TIMESCALE))
    elif agreed_review_on is not None:
        candidates.append((agreed_review_on, DueBasis.AGREED_REVIEW))

    each_stage = pack.limit(LimitScope.EACH_STAGE)
    if each_stage is not None:
        candidates.append(
            (due_on(each_stage.timescale, stage_started_at, calendar), DueBasis.STAGE_LIMIT)
        )
    whole = pack.limit(LimitScope.WHOLE_ESCALATION)
    if whole is not None:
        began = escalation_started_at or stage_started_at
        candidates.append((due_on(whole.timescale, began, calendar), DueBasis.ESCALATION_LIMIT))

    if not candidates:
        return Due(on=None, basis=DueBasis.NOT_SET)
    # On a tie the stage's own timescale (listed first) explains the date best.
    on, basis = min(candidates, key=lambda candidate: candidate[0])
    return Due(on=on, basis=basis)
