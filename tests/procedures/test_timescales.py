"""Working-day timescales: the rules in bot/procedures/timescales.py, one test each."""

from __future__ import annotations

from datetime import date

import pytest

from bot.procedures.schema import Timescale, TimescaleKind
from bot.procedures.timescales import DueBasis, WorkingCalendar, due_on, stage_due
from tests.conftest import london

CAL = WorkingCalendar("ENG")
SOURCE = {"section": "test"}


def timescale(kind: str, **amount) -> Timescale:
    return Timescale(kind=kind, text="t", source=SOURCE, **amount)


def test_weekends_and_bank_holidays_are_not_working_days():
    assert CAL.is_working_day(date(2026, 11, 23))  # Monday
    assert not CAL.is_working_day(date(2026, 11, 28))  # Saturday
    assert not CAL.is_working_day(date(2026, 12, 25))  # Christmas Day
    assert not CAL.is_working_day(date(2026, 12, 28))  # Boxing Day (Sat) substitute
    assert not CAL.is_working_day(date(2027, 1, 1))  # New Year's Day
    assert not CAL.is_working_day(date(2026, 5, 25))  # Spring bank holiday
    assert not CAL.is_working_day(date(2026, 8, 31))  # Summer bank holiday (England & Wales)
    assert CAL.bank_holiday(date(2026, 4, 3)) == "Good Friday"
    assert CAL.is_working_day(date(2026, 3, 17))  # St Patrick's Day: Northern Ireland only


def test_n_working_days_skip_the_start_day_and_the_weekend():
    assert due_on(timescale("working_days", days=1), london(2026, 11, 23, 9), CAL) == date(2026, 11, 24)
    assert due_on(timescale("working_days", days=1), london(2026, 11, 27, 16), CAL) == date(2026, 11, 30)
    assert due_on(timescale("working_days", days=5), london(2026, 11, 25, 12), CAL) == date(2026, 12, 2)


def test_a_start_at_the_weekend_counts_from_monday():
    assert due_on(timescale("working_days", days=1), london(2026, 11, 28, 11), CAL) == date(2026, 11, 30)
    assert due_on(timescale("working_days", days=2), london(2026, 11, 29, 11), CAL) == date(2026, 12, 1)


def test_the_start_moment_is_read_in_london():
    # 23:30 UTC on Friday 3 July 2026 is already Saturday in London (BST).
    from datetime import datetime, timezone

    late_friday_utc = datetime(2026, 7, 3, 23, 30, tzinfo=timezone.utc)
    assert due_on(timescale("working_days", days=1), late_friday_utc, CAL) == date(2026, 7, 6)
    with pytest.raises(ValueError, match="timezone-aware"):
        due_on(timescale("working_days", days=1), datetime(2026, 7, 3, 9), CAL)


def test_bank_holidays_move_the_due_date():
    # Friday before the Easter weekend 2026 (Good Friday 3 April, Easter Monday 6 April).
    assert due_on(timescale("working_days", days=1), london(2026, 4, 2, 10), CAL) == date(2026, 4, 7)
    # Spring bank holiday Monday 25 May 2026.
    assert due_on(timescale("working_days", days=2), london(2026, 5, 22, 10), CAL) == date(2026, 5, 27)


def test_the_christmas_period():
    # Christmas 2026: Fri 25 Dec, Boxing Day Sat 26 Dec substituted on Mon 28 Dec, New Year Fri 1 Jan.
    start = london(2026, 12, 23, 15)
    assert due_on(timescale("working_days", days=1), start, CAL) == date(2026, 12, 24)
    assert due_on(timescale("working_days", days=2), start, CAL) == date(2026, 12, 29)
    assert due_on(timescale("working_days", days=5), start, CAL) == date(2027, 1, 4)
    assert due_on(timescale("weeks", weeks=1), london(2026, 12, 21, 9), CAL) == date(2026, 12, 30)


def test_within_one_week_is_five_working_days():
    assert due_on(timescale("weeks", weeks=1), london(2026, 11, 23, 9), CAL) == date(2026, 11, 30)
    assert due_on(timescale("weeks", weeks=2), london(2026, 11, 23, 9), CAL) == date(2026, 12, 7)


def test_same_working_day():
    same = timescale("same_working_day")
    assert due_on(same, london(2026, 11, 24, 16), CAL) == date(2026, 11, 24)
    assert due_on(same, london(2026, 11, 28, 10), CAL) == date(2026, 11, 30)
    assert due_on(same, london(2026, 12, 25, 10), CAL) == date(2026, 12, 29)


def test_no_number_of_days_gives_no_date():
    assert due_on(Timescale(kind=TimescaleKind.NONE), london(2026, 11, 23, 9), CAL) is None
    assert due_on(timescale("as_soon_as_possible"), london(2026, 11, 23, 9), CAL) is None


def test_working_days_between():
    assert CAL.working_days_between(date(2026, 12, 23), date(2027, 1, 4)) == 5
    assert CAL.working_days_between(date(2027, 1, 4), date(2026, 12, 23)) == -5


def test_south_tyneside_stages_never_pass_the_five_day_limit(library):
    pack = library["south-tyneside"]
    began = london(2026, 11, 23, 9)  # Monday
    stage_1 = stage_due(pack, 1, stage_started_at=london(2026, 11, 24, 9), escalation_started_at=began)
    assert (stage_1.on, stage_1.basis) == (date(2026, 11, 25), DueBasis.STAGE_TIMESCALE)
    stage_2 = stage_due(pack, 2, stage_started_at=london(2026, 11, 25, 9), escalation_started_at=began)
    assert (stage_2.on, stage_2.basis) == (date(2026, 11, 30), DueBasis.ESCALATION_LIMIT)
    late_stage_1 = stage_due(pack, 1, stage_started_at=london(2026, 11, 30, 9), escalation_started_at=began)
    assert (late_stage_1.on, late_stage_1.basis) == (date(2026, 11, 30), DueBasis.ESCALATION_LIMIT)


def test_bury_children_level_one_is_capped_at_ten_working_days(library):
    pack = library["bury-children"]
    due = stage_due(pack, 0, stage_started_at=london(2026, 12, 21, 9))
    assert (due.on, due.basis) == (date(2027, 1, 7), DueBasis.STAGE_LIMIT)
    agreed = stage_due(pack, 0, stage_started_at=london(2026, 12, 21, 9), agreed_review_on=date(2026, 12, 24))
    assert (agreed.on, agreed.basis) == (date(2026, 12, 24), DueBasis.AGREED_REVIEW)
    level_2 = stage_due(pack, 1, stage_started_at=london(2026, 11, 23, 9))
    assert (level_2.on, level_2.basis) == (date(2026, 11, 30), DueBasis.STAGE_TIMESCALE)


@pytest.mark.parametrize("partnership", ["bury-adults", "warrington-adults", "cambs-peterborough-adults"])
def test_no_timescale_is_borrowed_the_agreed_review_date_is_used(library, partnership):
    pack = library[partnership]
    for index in range(len(pack.stages)):
        unset = stage_due(pack, index, stage_started_at=london(2026, 11, 23, 9))
        assert (unset.on, unset.basis) == (None, DueBasis.NOT_SET)
        agreed = stage_due(pack, index, stage_started_at=london(2026, 11, 23, 9), agreed_review_on=date(2026, 12, 4))
        assert (agreed.on, agreed.basis) == (date(2026, 12, 4), DueBasis.AGREED_REVIEW)


def test_a_stage_past_the_last_is_an_error(library):
    with pytest.raises(IndexError, match="bury-adults has 4 stages"):
        stage_due(library["bury-adults"], 4, stage_started_at=london(2026, 11, 23, 9))
