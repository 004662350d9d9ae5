"""Reading agreed review dates as people in England write them."""

from __future__ import annotations

from datetime import date

import pytest

from bot.nlp.dates import PastDate, parse_review_date

TODAY = date(2026, 11, 23)  # a Monday


@pytest.mark.parametrize(
    "text, expected",
    [
        ("today", date(2026, 11, 23)),
        ("tomorrow please", date(2026, 11, 24)),
        ("we agreed to review on friday", date(2026, 11, 27)),
        ("monday", date(2026, 11, 30)),
        ("next fri", date(2026, 12, 4)),
        ("28/11", date(2026, 11, 28)),
        ("4/12/2026", date(2026, 12, 4)),
        ("4-12-26", date(2026, 12, 4)),
        ("2027-01-05", date(2027, 1, 5)),
        ("the 4th", date(2026, 12, 4)),
        ("the 30th", date(2026, 11, 30)),
        ("4 dec", date(2026, 12, 4)),
        ("4th of December", date(2026, 12, 4)),
        ("december 4th", date(2026, 12, 4)),
        ("5 jan", date(2027, 1, 5)),
        ("in 3 days", date(2026, 11, 26)),
        ("in three working days", date(2026, 11, 26)),
        ("in 2 weeks", date(2026, 12, 7)),
        ("by the end of the week", date(2026, 11, 27)),
        ("end of next week", date(2026, 12, 4)),
    ],
)
def test_understood(text, expected):
    assert parse_review_date(text, TODAY) == expected


def test_working_days_skip_christmas():
    assert parse_review_date("in 2 working days", date(2026, 12, 24)) == date(2026, 12, 30)


@pytest.mark.parametrize("text", ["not sure yet", "asap", "31/02", ""])
def test_not_a_date(text):
    assert parse_review_date(text, TODAY) is None


def test_a_past_date_is_refused():
    with pytest.raises(PastDate) as past:
        parse_review_date("20/11/2026", TODAY)
    assert past.value.day == date(2026, 11, 20)
