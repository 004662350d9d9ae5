"""Reading the review date a practitioner agreed, as people in England write it.

Understood: "today", "tomorrow", weekday names ("friday", "next tues"), day/month numbers in
UK order ("28/11", "4-12-2026", "2026-12-04"), "the 4th", "4 dec", "december 4th", "in 3 days",
"in 3 working days", "in 2 weeks", "end of the week", "end of next week". A date with no year
is the next such date from today. Dates before today are refused (``PastDate``).
"""

from __future__ import annotations

import re
from datetime import date, timedelta

from bot.procedures.timescales import WorkingCalendar

WEEKDAYS = {
    "mon": 0, "monday": 0, "tue": 1, "tues": 1, "tuesday": 1, "wed": 2, "weds": 2,
    "wednesday": 2, "thu": 3, "thur": 3, "thurs": 3, "thursday": 3, "fri": 4, "friday": 4,
    "sat": 5, "saturday": 5, "sun": 6, "sunday": 6,
}  # fmt: skip
MONTHS = {
    "jan": 1, "january": 1, "feb": 2, "february": 2, "mar": 3, "march": 3, "apr": 4,
    "april": 4, "may": 5, "jun": 6, "june": 6, "jul": 7, "july": 7, "aug": 8, "august": 8,
    "sep": 9, "sept": 9, "september": 9, "oct": 10, "october": 10, "nov": 11, "november": 11,
    "dec": 12, "december": 12,
}  # fmt: skip
NUMBERS = {"a": 1, "one": 1, "two": 2, "three": 3, "four": 4, "five": 5, "six": 6, "seven": 7,
           "eight": 8, "nine": 9, "ten": 10}  # fmt: skip

_MONTH = "|".join(sorted(MONTHS, key=len, reverse=True))
_WEEKDAY = "|".join(sorted(WEEKDAYS, key=len, reverse=True))
_AMOUNT = r"(\d{1,2}|" + "|".join(NUMBERS) + r")"

ISO = re.compile(r"\b(\d{4})-(\d{1,2})-(\d{1,2})\b")
NUMERIC = re.compile(r"\b(\d{1,2})[/.-](\d{1,2})(?:[/.-](\d{2}|\d{4}))?\b")
DAY_MONTH = re.compile(rf"\b(\d{{1,2}})(?:st|nd|rd|th)?(?:\s+of)?\s+({_MONTH})\b\.?(?:\s+(\d{{4}}))?")
MONTH_DAY = re.compile(rf"\b({_MONTH})\.?\s+(\d{{1,2}})(?:st|nd|rd|th)?\b(?:,?\s+(\d{{4}}))?")
ORDINAL = re.compile(r"\b(?:the\s+)?(\d{1,2})(st|nd|rd|th)\b")
WEEKDAY = re.compile(rf"\b(next\s+|this\s+|on\s+)?({_WEEKDAY})\b")
RELATIVE = re.compile(rf"\bin\s+{_AMOUNT}\s+(working\s+days?|days?|weeks?)\b")
END_OF_WEEK = re.compile(r"\bend\s+of\s+(?:the\s+|this\s+)?(next\s+)?week\b")


class PastDate(ValueError):
    """The text names a date that has already gone."""

    def __init__(self, day: date) -> None:
        self.day = day
        super().__init__(f"{day.isoformat()} is in the past")


def _amount(text: str) -> int:
    return int(text) if text.isdigit() else NUMBERS[text]


def _full_year(text: str | None, today: date) -> int | None:
    if text is None:
        return None
    year = int(text)
    return year + 2000 if year < 100 else year


def _next_date(day: int, month: int, year: int | None, today: date) -> date | None:
    """The date with that day and month: in ``year``, else this year or, if gone, next year."""
    try:
        if year is not None:
            return date(year, month, day)
        candidate = date(today.year, month, day)
        return candidate if candidate >= today else date(today.year + 1, month, day)
    except ValueError:
        return None


def parse_review_date(text: str, today: date, calendar: WorkingCalendar | None = None) -> date | None:
    """The date ``text`` names, relative to ``today``; None if it names none.

    Raises ``PastDate`` for a date before today. ``calendar`` counts "working days" (England
    and Wales by default).
    """
    lowered = text.lower()
    found = _find(lowered, today, calendar or WorkingCalendar())
    if found is not None and found < today:
        raise PastDate(found)
    return found


def _find(text: str, today: date, calendar: WorkingCalendar) -> date | None:
    if re.search(r"\btoday\b", text):
        return today
    if re.search(r"\btomorrow\b", text):
        return today + timedelta(days=1)
    if match := ISO.search(text):
        year, month, day = (int(part) for part in match.groups())
        return _next_date(day, month, year, today)
    if match := NUMERIC.search(text):
        day, month = int(match.group(1)), int(match.group(2))
        return _next_date(day, month, _full_year(match.group(3), today), today)
    if match := DAY_MONTH.search(text):
        return _next_date(
            int(match.group(1)), MONTHS[match.group(2)], _full_year(match.group(3), today), today
        )
    if match := MONTH_DAY.search(text):
        return _next_date(
            int(match.group(2)), MONTHS[match.group(1)], _full_year(match.group(3), today), today
        )
    if match := RELATIVE.search(text):
        amount, unit = _amount(match.group(1)), match.group(2)
        if unit.startswith("working"):
            return calendar.add_working_days(today, amount)
        if unit.startswith("week"):
            return today + timedelta(weeks=amount)
        return today + timedelta(days=amount)
    if match := END_OF_WEEK.search(text):
        friday = today + timedelta(days=(4 - today.weekday()) % 7)
        return friday + timedelta(weeks=1) if match.group(1) else friday
    if match := WEEKDAY.search(text):
        qualifier, weekday = (match.group(1) or "").strip(), WEEKDAYS[match.group(2)]
        ahead = (weekday - today.weekday()) % 7 or 7
        if qualifier == "next" and ahead < 7 and today.weekday() < weekday:
            # "next friday" said on a Monday means the Friday of next week
            ahead += 7
        return today + timedelta(days=ahead)
    if match := ORDINAL.search(text):
        day = int(match.group(1))
        month, year = today.month, today.year
        if day < today.day:
            month, year = (1, year + 1) if month == 12 else (month + 1, year)
        try:
            return date(year, month, day)
        except ValueError:
            return None
    return None
