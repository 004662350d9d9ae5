"""Spotting personal data of the child, adult or family in what a practitioner types.

An escalation record is about the disagreement between professionals, never about the person:
its free text (summary, evidence, desired outcome, outcomes) must not hold the person's or
family's names, dates of birth, addresses, NHS numbers, phone numbers or e-mail addresses.
``find_personal_data`` finds them by pattern so the assistant can ask for the text again
without them; ``redact`` shows the practitioner what to retype and ``describe`` says what was
found, in words.

What counts:

* **NHS number**: ten digits (plain, 3-3-4 spaced or hyphenated) whose modulus 11 check digit
  is right, so most other ten-digit numbers and every case reference ("CSC-204518") pass.
* **Phone**: UK landlines and mobiles (01, 02, 07; national or +44). 03, 08 and 09 numbers
  are organisations' and are left alone.
* **Date of birth**: a date within a few words after "dob", "d.o.b", "date of birth" or
  "born (on|in)", or a full date followed by "(DOB)"; never a date in the future. Other dates
  (reviews, meetings) are not personal data and are left alone.
* **Address**: a UK postcode, or a house or flat number before capitalised words and a street
  word ("12 Oak Road", "flat 4, 27 Kingsway Court"); street and postcode are joined into one.
* **E-mail**: any address not in ``allowed_emails``.
* **Name**: a title and a surname ("Mrs Ward", "Dr Patel", "PC Jones"); a name given as one
  ("a boy called Tyler", "known as TJ"); a capitalised common first name (``first_names.txt``,
  which leaves out names that are also words); a first name after a family word whatever its
  case ("her son tyler"); any capitalised word after a family word ("mum Zyanya",
  "Zyanya's dad"). Capitalised runs that name a place, service or law ("St Mary's Hospital",
  "Clare's Law") and the pipeline's agency and role words are never names. Professionals'
  names are found as well: the record speaks of roles.

Nothing is compiled or read at import: the patterns, the list of first names
(``first_names.txt``) and the agency and role vocabulary of the spaCy pipeline
(``bot/nlp/patterns.yml``, words that are never a name) are built on first use and kept.
A ``Finding`` holds offsets only, so the matched text is never stored or logged by this module.
"""

from __future__ import annotations

import dataclasses
import functools
import re
from collections import Counter
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING, Iterable, NamedTuple

import yaml

from bot.clock import system_clock

if TYPE_CHECKING:
    from bot.procedures.schema import Pack

KINDS = ("name", "date_of_birth", "address", "nhs_number", "phone", "email")

FIRST_NAMES_FILE = Path(__file__).with_name("first_names.txt")
VOCABULARY_FILE = Path(__file__).resolve().parents[1] / "nlp" / "patterns.yml"

# What each kind is called in a sentence: (one, several).
_NOUNS = {
    "name": ("a name", "names"),
    "date_of_birth": ("a date of birth", "dates of birth"),
    "address": ("an address", "addresses"),
    "nhs_number": ("an NHS number", "NHS numbers"),
    "phone": ("a phone number", "phone numbers"),
    "email": ("an e-mail address", "e-mail addresses"),
}
_LABELS = {
    "name": "name",
    "date_of_birth": "date of birth",
    "address": "address",
    "nhs_number": "NHS number",
    "phone": "phone number",
    "email": "e-mail address",
}
_COUNTS = {2: "two", 3: "three", 4: "four", 5: "five", 6: "six", 7: "seven", 8: "eight",
           9: "nine", 10: "ten"}  # fmt: skip

# When two findings overlap the more specific one wins: an e-mail address holds a name, an
# address holds a street named after a person, an NHS number looks like a number in a phone.
_PRIORITY = {"email": 0, "nhs_number": 1, "phone": 2, "date_of_birth": 3, "address": 4, "name": 5}


@dataclasses.dataclass(frozen=True)
class Finding:
    """Where one piece of personal data sits in a text: ``text[start:end]``."""

    kind: str
    start: int
    end: int

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise ValueError(f"unknown kind {self.kind!r}; use one of {KINDS}")
        if not 0 <= self.start < self.end:
            raise ValueError(f"a finding needs 0 <= start < end, not {self.start}..{self.end}")


def find_personal_data(
    text: str, allowed_emails: Iterable[str] = (), *, today: date | None = None
) -> list[Finding]:
    """The personal data in ``text``, sorted by position and never overlapping.

    ``allowed_emails`` are addresses that may stay (the partnerships' own contacts, see
    ``contact_emails``), compared without regard to case. ``today`` (default: today in
    Europe/London) decides which dates can be dates of birth: never one in the future.
    """
    if not text or not text.strip():
        return []
    today = today or system_clock().date()
    allowed = {address.strip().lower() for address in allowed_emails}
    candidates = [
        *_emails(text, allowed),
        *_nhs_numbers(text),
        *_phones(text),
        *_dates_of_birth(text, today),
        *_addresses(text),
        *_names(text),
    ]
    return _resolve(text, candidates)


def redact(text: str, findings: list[Finding]) -> str:
    """``text`` with each finding replaced by a marker such as "[name removed]".

    For showing the practitioner what to retype, never for storage: a redacted text still
    says where the personal data was. ``findings`` must not overlap (as returned by
    ``find_personal_data``); a ``ValueError`` says so if they do or lie outside the text.
    """
    pieces: list[str] = []
    position = 0
    for finding in sorted(findings, key=lambda f: (f.start, f.end)):
        if finding.start < position or finding.end > len(text):
            raise ValueError("findings overlap or lie outside the text")
        pieces.append(text[position : finding.start])
        pieces.append(f"[{_LABELS[finding.kind]} removed]")
        position = finding.end
    pieces.append(text[position:])
    return "".join(pieces)


def describe(findings: Iterable[Finding]) -> str:
    """What was found, in words: "a name and an NHS number", "two names and an address".

    Kinds are listed in a fixed order (names first); no findings gives "no personal data".
    """
    counts = Counter(finding.kind for finding in findings)
    parts = []
    for kind in KINDS:
        count = counts.get(kind, 0)
        if count == 1:
            parts.append(_NOUNS[kind][0])
        elif count > 1:
            parts.append(f"{_COUNTS.get(count, str(count))} {_NOUNS[kind][1]}")
    if not parts:
        return "no personal data"
    if len(parts) == 1:
        return parts[0]
    return ", ".join(parts[:-1]) + " and " + parts[-1]


def contact_emails(packs: Iterable[Pack]) -> frozenset[str]:
    """The e-mail addresses the packs' contacts give, lower case: the allow-list for records."""
    return frozenset(
        contact.email.lower() for pack in packs for contact in pack.contacts if contact.email
    )


# --- resolving overlaps ------------------------------------------------------------------------


def _resolve(text: str, candidates: list[tuple[str, int, int]]) -> list[Finding]:
    accepted: list[tuple[str, int, int]] = []
    # Most specific kind first, then the longest span ("Mrs Kerry Smith" over "Kerry Smith").
    ranked = sorted(candidates, key=lambda c: (_PRIORITY[c[0]], c[1] - c[2], c[1]))
    for kind, start, end in ranked:
        if all(end <= s or start >= e for _, s, e in accepted):
            accepted.append((kind, start, end))
    accepted.sort(key=lambda c: c[1])
    merged: list[tuple[str, int, int]] = []
    for kind, start, end in accepted:
        # "12 Oak Road, Bury BL9 0EJ" is one address: the town between street and postcode
        # would otherwise be left standing, pointing at where the family lives.
        if merged and kind == "address" and merged[-1][0] == "address":
            gap = text[merged[-1][2] : start]
            if _patterns().address_gap.fullmatch(gap):
                merged[-1] = ("address", merged[-1][1], end)
                continue
        merged.append((kind, start, end))
    return [Finding(kind, start, end) for kind, start, end in merged]


# --- patterns, built once on first use ---------------------------------------------------------


class _Patterns(NamedTuple):
    email: re.Pattern
    nhs: re.Pattern
    phone: re.Pattern
    postcode: re.Pattern
    street: re.Pattern
    address_gap: re.Pattern
    dob_cue: re.Pattern
    dates: tuple[re.Pattern, ...]
    name_cue: re.Pattern
    token: re.Pattern
    months: dict[str, int]


_STREET_TYPES = (
    "Road|Rd|Street|St|Avenue|Ave|Lane|Ln|Close|Drive|Dr|Way|Crescent|Cres|Court|Ct|Grove|"
    "Place|Pl|Terrace|Gardens|Gdns|Walk|Mews|Row|Hill|Park|Square|Sq|View|Rise|Green|Vale|"
    "Parade|Fold|Brow|Croft|Meadows|Heights|Chase|House|Cottages"
)


@functools.lru_cache(maxsize=1)
def _patterns() -> _Patterns:
    # Imported here: bot.nlp.dates pulls in the bank-holiday calendars, which importing this
    # module must not do.
    from bot.nlp.dates import MONTHS

    month = "|".join(sorted(MONTHS, key=len, reverse=True))
    return _Patterns(
        email=re.compile(
            r"(?<![\w.+'%-])[\w.+'%-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}(?![\w-])"
        ),
        # Ten digits, as one block or 3-3-4 with the same separator; never part of a longer
        # reference such as "CSC-2045181234" or a decimal.
        nhs=re.compile(r"(?<![\w+/.-])(\d{3})([ -]?)(\d{3})\2(\d{4})(?![\w/]|[.-]\d)"),
        # Landlines (01, 02) and mobiles (07), national or +44; 03, 08 and 09 numbers belong to
        # organisations (councils, helplines) and are left alone.
        phone=re.compile(
            r"(?<![\w+/.-])(?:\+44[\s-]?(?:\(0\)[\s-]?)?|\(0|0)[127]\d{1,4}\)?"
            r"(?:[\s-]?\d{2,4}){1,3}(?![\w/])"
        ),
        postcode=re.compile(
            r"(?<![\w-])([A-Z]{1,2}\d[A-Z\d]?)\s?(\d[A-Z]{2})(?![\w-])", re.IGNORECASE
        ),
        street=re.compile(
            r"(?<![\w/.-])"
            r"(?P<flat>(?i:flat|apartment|apt|unit|no\.?|number)\s*\d{1,4}[A-Za-z]?\s*,?\s*)?"
            r"(?P<number>\d{1,4}[A-Za-z]?(?:\s*[-–]\s*\d{1,4}[A-Za-z]?)?\s*,?\s+)?"
            r"(?P<words>(?:[A-Z][\w'’.-]*\s+){1,3})"
            rf"(?P<type>{_STREET_TYPES})\b\.?"
        ),
        address_gap=re.compile(r"[\s,]*(?:[A-Z][\w'’-]*[\s,]+){0,3}"),
        dob_cue=re.compile(
            r"(?<![\w.])(?:d\.?o\.?b\b\.?|date\s+of\s+birth\b|born\b(?:\s+(?:on|in)\b)?)",
            re.IGNORECASE,
        ),
        dates=(
            # Each names its groups month, and day and/or year: 3/3/2012, 2012-03-03,
            # 3rd March 2012, March 3rd 2012, March 2012, 03/2012.
            re.compile(
                r"(?<![\d/.-])(?P<day>\d{1,2})(?P<sep>[/.-])(?P<month>\d{1,2})"
                r"(?:(?P=sep)(?P<year>\d{4}|\d{2}))?(?![\d/]|[.-]\d)"
            ),
            re.compile(
                r"(?<![\d/.-])(?P<year>\d{4})-(?P<month>\d{1,2})-(?P<day>\d{1,2})(?![\d/-])"
            ),
            re.compile(
                rf"\b(?P<day>\d{{1,2}})(?:st|nd|rd|th)?(?:\s+of)?\s+(?P<month>{month})\b\.?"
                rf"(?:,?\s+(?P<year>\d{{4}}))?(?!\d)",
                re.IGNORECASE,
            ),
            re.compile(
                rf"\b(?P<month>{month})\.?\s+(?P<day>\d{{1,2}})(?:st|nd|rd|th)?\b"
                rf"(?:,?\s+(?P<year>\d{{4}}))?(?!\d)",
                re.IGNORECASE,
            ),
            re.compile(rf"\b(?P<month>{month})\.?,?\s+(?P<year>\d{{4}})\b", re.IGNORECASE),
            re.compile(r"(?<![\d/.-])(?P<month>\d{1,2})/(?P<year>\d{4})(?![\d/])"),
        ),
        name_cue=re.compile(
            r"\b(?:(?P<called>called)|named|nicknamed|aka|a\.k\.a\.?|known\s+as|goes\s+by|"
            r"name\s+is|name['’]s|names\s+are)\s+",
            re.IGNORECASE,
        ),
        token=re.compile(r"[^\W\d_]+(?:['’-][^\W\d_]+)*"),
        months=dict(MONTHS),
    )


# --- e-mail, NHS number, phone -----------------------------------------------------------------


def _emails(text: str, allowed: set[str]) -> list[tuple[str, int, int]]:
    return [
        ("email", m.start(), m.end())
        for m in _patterns().email.finditer(text)
        if m.group().lower() not in allowed
    ]


def nhs_check_digit(first_nine: str) -> int | None:
    """The NHS number check digit (modulus 11) for nine digits; ``None`` if none is valid."""
    total = sum(int(digit) * weight for digit, weight in zip(first_nine, range(10, 1, -1)))
    check = 11 - total % 11
    if check == 11:
        return 0
    return None if check == 10 else check


def _nhs_numbers(text: str) -> list[tuple[str, int, int]]:
    found = []
    for m in _patterns().nhs.finditer(text):
        digits = m.group(1) + m.group(3) + m.group(4)
        if nhs_check_digit(digits[:9]) == int(digits[9]):
            found.append(("nhs_number", m.start(), m.end()))
    return found


def _phones(text: str) -> list[tuple[str, int, int]]:
    found = []
    for m in _patterns().phone.finditer(text):
        runs = list(re.finditer(r"\d+", m.group()))
        international = m.group().startswith("+")
        # A greedy match can take in a count that follows the number ("07700 900123 20 times"):
        # drop trailing groups until the digits make a UK number.
        for keep in range(len(runs), 0, -1):
            digits = "".join(run.group() for run in runs[:keep])
            national = digits[2:] if international else digits
            national = national if national.startswith("0") else "0" + national
            if _uk_number(national):
                found.append(("phone", m.start(), m.start() + runs[keep - 1].end()))
                break
    return found


def _uk_number(national: str) -> bool:
    if len(national) < 10:
        return False
    if national[1] in "27":
        return len(national) == 11
    return national[1] == "1" and len(national) in (10, 11)


# --- addresses ---------------------------------------------------------------------------------

# Numbers that count something in the procedure, not a house: "Stage 2 Court", "Year 9 Park".
_NOT_HOUSE_NUMBER = {
    "stage", "level", "year", "yr", "appendix", "section", "step", "tier", "page", "ks",
    "para", "paragraph", "point", "option", "phase", "week", "day", "room", "ward", "bay",
    "bed", "s", "article", "rule", "chapter", "part", "question", "item", "band", "grade",
}  # fmt: skip
_COURTS = {"family", "crown", "magistrates", "magistrates'", "county", "youth", "high",
           "children's", "childrens",
           "coroner's", "coroners", "appeal", "supreme", "district", "civil"}  # fmt: skip
_BAD_INWARD = set("CIKMOV")  # letters Royal Mail never uses in the second half of a postcode


def _addresses(text: str) -> list[tuple[str, int, int]]:
    patterns = _patterns()
    found = []
    for m in patterns.postcode.finditer(text):
        if _is_postcode(m.group(1), m.group(2), m.group().isupper()):
            found.append(("address", m.start(), m.end()))
    for m in patterns.street.finditer(text):
        if not (m.group("flat") or m.group("number")):
            continue
        words = m.group("words").split()
        if m.group("type").lower() in ("court", "ct") and words[-1].lower() in _COURTS:
            continue
        before = re.search(r"([^\W\d_]+)\W*$", text[: m.start()])
        if not m.group("flat") and before and before.group(1).lower() in _NOT_HOUSE_NUMBER:
            continue
        found.append(("address", m.start(), m.end()))
    return found


def _is_postcode(outward: str, inward: str, upper_case: bool) -> bool:
    outward, letters = outward.upper(), inward[1:].upper()
    area = re.match(r"[A-Z]+", outward).group()
    if area[0] in "QVX" or (len(area) == 2 and area[1] in "IJZ"):
        return False
    if _BAD_INWARD & set(letters):
        return False
    # Typed in lower case, "ks2 3rd" or "y9 2nd" is a key stage or a year group, not a postcode.
    return upper_case or letters not in ("ST", "ND", "RD", "TH")


# --- dates of birth ----------------------------------------------------------------------------

_SENTENCE_END = re.compile(r"[.!?;\n]")
_WORD_OR_NUMBER = re.compile(r"[^\W_]+")
_STRONG_CUE = re.compile(r"d\.?o\.?b|date\s+of\s+birth|born\s+on", re.IGNORECASE)
_OLDEST = 120  # years: an older "date of birth" is a historic date, not a person's


def _dates_of_birth(text: str, today: date) -> list[tuple[str, int, int]]:
    patterns = _patterns()
    cues = list(patterns.dob_cue.finditer(text))
    if not cues:
        return []
    found = []
    for pattern in patterns.dates:
        for m in pattern.finditer(text):
            parts = _date_parts(m, patterns.months, today)
            if parts is None:
                continue
            day, month, year = parts
            cue = _cue_before(text, m.start(), cues)
            if cue is None and (year is None or day is None):
                continue
            if cue is None and not _cue_after(text, m.end(), cues):
                continue
            # Without a year the date only counts after "dob"/"born on"; "born in" wants a year.
            if year is None and not (cue and _STRONG_CUE.match(cue.group())):
                continue
            if year is not None and not _could_be_born(day, month, year, today):
                continue
            found.append(("date_of_birth", m.start(), m.end()))
    return found


def _date_parts(
    m: re.Match, months: dict[str, int], today: date
) -> tuple[int | None, int, int | None] | None:
    groups = m.groupdict()
    month_text = groups["month"].lower().rstrip(".")
    month = months.get(month_text) if not month_text.isdigit() else int(month_text)
    day = int(groups["day"]) if groups.get("day") else None
    year = int(groups["year"]) if groups.get("year") else None
    if year is not None and year < 100:
        # Two-digit years: "12" is 2012 and "54" is 1954, whichever is not in the future.
        year += 2000 if 2000 + year <= today.year else 1900
    if month is None or not 1 <= month <= 12:
        return None
    if day is not None:
        try:
            date(year or 2000, month, day)  # 2000: a leap year, so 29/02 without a year passes
        except ValueError:
            return None
    return day, month, year


def _could_be_born(day: int | None, month: int, year: int, today: date) -> bool:
    if year < today.year - _OLDEST:
        return False
    if day is None:
        return (year, month) <= (today.year, today.month)
    return date(year, month, day) <= today


def _cue_before(text: str, start: int, cues: list[re.Match]) -> re.Match | None:
    for cue in reversed(cues):
        if cue.end() <= start:
            gap = text[cue.end() : start]
            near = not _SENTENCE_END.search(gap) and len(_WORD_OR_NUMBER.findall(gap)) <= 4
            return cue if near else None
    return None


def _cue_after(text: str, end: int, cues: list[re.Match]) -> bool:
    for cue in cues:
        if cue.start() >= end:
            gap = text[end : cue.start()]
            return not _SENTENCE_END.search(gap) and len(_WORD_OR_NUMBER.findall(gap)) <= 1
    return False


# --- names -------------------------------------------------------------------------------------

# Words for the people around the child or adult: a first name straight after one of these is a
# name whatever its case ("her son tyler", "mum Kerry", "the child, Aisha").
_RELATIONS = {
    "mum", "mummy", "mam", "mom", "mother", "dad", "daddy", "father", "stepdad", "step-dad",
    "stepmum", "step-mum", "stepfather", "stepmother", "nan", "nana", "nanna", "gran", "granny",
    "grandma", "grandmother", "grandad", "granddad", "grandpa", "grandfather", "brother",
    "sister", "son", "daughter", "stepson", "stepdaughter", "aunt", "aunty", "auntie", "uncle",
    "cousin", "niece", "nephew", "partner", "boyfriend", "girlfriend", "husband", "wife",
    "sibling", "half-brother", "half-sister", "twin", "baby", "child", "boy", "girl", "client",
    "resident", "patient", "pupil", "student", "carer", "friend", "neighbour", "lodger", "tenant",
    "victim", "perpetrator", "stepbrother", "stepsister", "ex-partner", "fiancé", "fiance",
}  # fmt: skip
# Family words after which any capitalised word is taken as a name ("mum Zyanya"). Narrower than
# the above: "Child Protection", "Client Services" and "partner Agencies" are not names, but
# "Baby P" is.
_KIN = _RELATIONS - {"child", "boy", "girl", "client", "resident", "patient", "pupil",
                     "student", "carer", "friend", "tenant", "partner", "victim",
                     "perpetrator"}  # fmt: skip
_TITLES_ANY_CASE = {"mr", "mrs", "ms", "mx"}  # only ever titles, so "mrs jones" counts too
_TITLES_CAPITALISED = {"Dr", "Miss", "Master", "Prof", "Rev", "Revd", "Cllr", "Sgt", "Insp"}
_RANKS = {"PC", "DC", "DS", "DI", "DCI", "PCSO", "WPC"}  # police ranks before a surname
# A title that is also a word or an acronym ("miss", "master", "PC") only counts before a word
# that is not itself one of the procedure's words: "Miss School", "Master Plan", "DC Team".
_WORDY_TITLES = {"Miss", "Master", *_RANKS}
# Words a title never introduces as a name; everything else after "Mr" is taken as a surname,
# so that "Mrs Ward" or "Dr Young" are found even though those are also words.
_NOT_AFTER_TITLE = {"and", "or", "the", "a", "said", "says", "is", "was", "has", "had", "to",
                    "from", "of", "who", "with", "at", "on", "in", "for", "will", "would",
                    "barnardo", "barnardos", "motivator"}  # fmt: skip
# "called" is a phone call after these ("I called Police", "we called Social Care").
_CALLERS = {
    "i", "we", "you", "he", "she", "they", "it", "who", "then", "also", "and", "or", "but",
    "had", "have", "has", "just", "already", "never", "often", "repeatedly", "eventually",
    "finally", "later", "today", "yesterday", "i've", "we've", "they've", "i'd", "we'd",
    "she'd", "he'd", "they'd", "someone", "somebody", "nobody", "anyone", "everyone", "to",
    "not", "twice", "once", "again", "back", "immediately", "urgently", "was", "were",
}  # fmt: skip
# A capitalised run followed by one of these is a place, service or law, not a person:
# "Alexandra Park", "Florence House", "Clare's Law", "Molly Rose Foundation".
_INSTITUTIONS = {
    *(t.lower() for t in _STREET_TYPES.split("|")), "hospital", "ward", "unit", "school",
    "academy", "primary", "secondary", "high", "college", "university", "centre", "center",
    "lodge", "hall", "surgery", "practice", "medical", "health", "hospice", "nursery",
    "infirmary", "clinic", "trust", "foundation", "church", "mosque", "temple", "estate",
    "tower", "towers", "manor", "grange", "villas", "cottage", "care", "home", "homes", "team",
    "suite", "building", "library", "station", "memorial", "institute", "project", "law", "act",
    "scheme", "review", "report", "inquiry", "principle", "syndrome", "disease", "service",
    "services", "partnership", "board", "hub", "campus", "site", "wing", "block",
}  # fmt: skip
# A capitalised run starting with one of these names a place: "St Mary's", "Royal Albert
# Edward Infirmary", "Queen Elizabeth Hospital".
_PLACE_PREFIXES = {"st", "st.", "saint", "queen", "king", "prince", "princess", "royal", "lady",
                   "lord", "sir", "mount", "port", "fort"}  # fmt: skip
# Words of the procedure and of ordinary sentences, never a name when capitalised after a cue.
_PROCEDURE_WORDS = {
    "the", "a", "an", "and", "or", "but", "if", "then", "i", "we", "he", "she", "they", "it",
    "his", "her", "their", "our", "my", "your", "this", "that", "these", "those", "is", "was",
    "has", "had", "have", "not", "no", "yes", "ok", "on", "at", "in", "to", "for", "with",
    "from", "by", "of", "as", "stage", "level", "step", "tier", "year", "appendix", "section",
    "review", "plan", "meeting", "conference", "strategy", "panel", "board", "hub", "team",
    "service", "services", "agency", "agencies", "partnership", "procedure", "policy",
    "protocol", "escalation", "disagreement", "referral", "assessment", "enquiry", "case",
    "decision", "outcome", "evidence", "summary", "notes", "nfa", "court", "order", "unit",
    "centre", "council", "trust", "foundation", "charity", "helpline", "line", "office",
    "department", "government", "home", "early", "help", "safeguarding", "social",
    "care", "health", "education", "mental", "adult", "adults", "children", "children's",
    "family", "families", "people", "person", "professional", "professionals", "manager",
    "worker", "lead", "head", "chair", "officer", "nurse", "doctor", "teacher", "support",
}  # fmt: skip


class _Token(NamedTuple):
    text: str  # without a possessive "'s"
    start: int
    end: int  # end of ``text``, before any possessive
    possessive: bool

    @property
    def lower(self) -> str:
        return self.text.lower().replace("’", "'")

    @property
    def capitalised(self) -> bool:
        # All capitals is an acronym (CSC, MASH, DSL, OD'd), not a name, however it is spelt.
        head = re.split(r"['’-]", self.text)[0]
        return self.text[0].isupper() and not (len(head) > 1 and head.isupper())


class _Lexicon(NamedTuple):
    first_names: frozenset[str]
    never_phrases: frozenset[tuple[str, ...]]  # agency, role and subject phrases, dates, words
    never_words: frozenset[str]  # every word of those phrases
    longest_phrase: int
    dates: frozenset[str]  # month and weekday names and abbreviations
    agencies_and_roles: frozenset[str]  # one-word agency and role phrases: "police", "gp"


@functools.lru_cache(maxsize=1)
def _lexicon() -> _Lexicon:
    from bot.nlp.dates import MONTHS, WEEKDAYS

    with VOCABULARY_FILE.open(encoding="utf-8") as handle:
        vocabulary = yaml.safe_load(handle)
    by_label = {
        label: {
            tuple(phrase.lower().replace("’", "'").split())
            for values in entries.values()
            for phrase in values
        }
        for label, entries in vocabulary.items()
    }
    phrases = set().union(*by_label.values())
    phrases |= {(phrase[:-1] + (phrase[-1] + "s",)) for phrase in phrases}  # plurals
    dates = {*MONTHS, *WEEKDAYS}
    words = {*_RELATIONS, *_PROCEDURE_WORDS, *dates}
    phrases |= {(word,) for word in words}
    with FIRST_NAMES_FILE.open(encoding="utf-8") as handle:
        first_names = {
            line.strip().lower() for line in handle if line.strip() and not line.startswith("#")
        }
    return _Lexicon(
        first_names=frozenset(first_names - set(MONTHS) - set(WEEKDAYS)),
        never_phrases=frozenset(phrases),
        never_words=frozenset(word for phrase in phrases for word in phrase),
        longest_phrase=max(len(phrase) for phrase in phrases),
        dates=frozenset(dates),
        agencies_and_roles=frozenset(
            word
            for label in ("agency", "role")
            for (word, *rest) in by_label.get(label, ())
            if not rest
            for word in (word, word + "s")
        ),
    )


def _tokens(text: str) -> list[_Token]:
    tokens = []
    for m in _patterns().token.finditer(text):
        word = m.group()
        possessive = bool(re.search(r"['’]s$", word)) and len(word) > 2
        if possessive:
            word = word[:-2]
        tokens.append(_Token(word, m.start(), m.start() + len(word), possessive))
    return tokens


def _names(text: str) -> list[tuple[str, int, int]]:
    tokens = _tokens(text)
    if not tokens:
        return []
    lexicon = _lexicon()
    finder = _NameFinder(text, tokens, lexicon)
    spans = [*finder.titled(), *finder.after_cues(), *finder.first_names(), *finder.kin()]
    return [("name", start, end) for start, end in spans]


class _NameFinder:
    """The name rules over one text's tokens; each method yields (start, end) spans."""

    def __init__(self, text: str, tokens: list[_Token], lexicon: _Lexicon) -> None:
        self.text = text
        self.tokens = tokens
        self.lexicon = lexicon

    # helpers

    def gap(self, left: int, right: int) -> str:
        return self.text[self.tokens[left].end : self.tokens[right].start]

    def adjacent(self, left: int, right: int) -> bool:
        """Only spaces between two tokens (a possessive on the left breaks the run)."""
        if self.tokens[left].possessive:
            return False
        return bool(re.fullmatch(r"[ \t]+", self.gap(left, right)))

    def never_a_name(self, index: int) -> bool:
        """The words from ``index`` on make an agency, role, relation, date or procedure word."""
        window = self.tokens[index : index + self.lexicon.longest_phrase]
        words = tuple(token.lower for token in window)
        return any(words[:n] in self.lexicon.never_phrases for n in range(1, len(words) + 1))

    def is_first_name(self, token: _Token) -> bool:
        lower = token.lower
        return lower in self.lexicon.first_names or lower.split("-")[0] in self.lexicon.first_names

    def in_institution(self, index: int) -> bool:
        """``index`` sits in a capitalised run that names a place, service or law."""
        tokens = self.tokens
        left = index
        while left > 0 and tokens[left - 1].capitalised and self.adjacent(left - 1, left):
            left -= 1
            if tokens[left].lower in _PLACE_PREFIXES:
                return True
        right = index
        while right + 1 < len(tokens) and re.fullmatch(
            r"(?:['’]s)?[ \t]+", self.gap(right, right + 1)
        ):
            following = tokens[right + 1]
            if not following.capitalised:
                break
            if following.lower in _INSTITUTIONS:
                return True
            right += 1
        return False

    def surname_end(self, index: int, most: int = 2) -> int:
        """End of the name starting at ``index``, taking in up to ``most`` capitalised surnames."""
        end = index
        while (
            end + 1 < len(self.tokens)
            and end - index < most
            and self.adjacent(end, end + 1)
            and self.tokens[end + 1].capitalised
            and not self.never_a_name(end + 1)
            and self.tokens[end + 1].lower not in _INSTITUTIONS
        ):
            end += 1
        return self.tokens[end].end

    def previous_relation(self, index: int, words: set[str], apposition: bool = False) -> bool:
        """The token before ``index`` is one of ``words``, joined by spaces or punctuation.

        With ``apposition`` the two must be set apart by a comma, colon or bracket:
        "the resident, Doreen," or "client (Zyanya)", not "Client Services".
        """
        if index == 0 or self.tokens[index - 1].lower not in words:
            return False
        gap = self.gap(index - 1, index)
        if apposition and not re.search(r"[,:(\-–]", gap):
            return False
        return not self.tokens[index - 1].possessive and bool(re.fullmatch(r"[\s,:(\-–]+", gap))

    # rules

    def titled(self) -> Iterable[tuple[int, int]]:
        """Mr/Mrs/Ms/Mx/Dr/Miss/Master and a name: "Mrs K. Smith", "Mr and Mrs Okafor"."""
        tokens = self.tokens
        for index, token in enumerate(tokens):
            if not self.is_title(token):
                continue
            title = index
            for second in (index + 1, index + 2):  # "Mr & Mrs Smith", "Mr and Mrs Smith"
                if (
                    second < len(tokens)
                    and self.is_title(tokens[second])
                    and re.fullmatch(
                        r"\.?\s*(?:and|&)\s*", self.text[token.end : tokens[second].start], re.I
                    )
                ):
                    title = second  # the name belongs to both
            end = self.titled_name_end(title)
            if end is not None:
                yield token.start, end

    def is_title(self, token: _Token) -> bool:
        return token.text in _TITLES_CAPITALISED or token.text in _RANKS or (
            token.lower in _TITLES_ANY_CASE and not token.text.isupper() and not token.possessive
        )

    def titled_name_end(self, title_index: int) -> int | None:
        tokens, end = self.tokens, None
        title = tokens[title_index]
        index = title_index + 1
        previous_end = title.end
        while index < len(tokens) and index - title_index <= 4:
            token = tokens[index]
            if not re.fullmatch(r"\.?\s+|\.", self.text[previous_end : token.start]):
                break
            lower = token.lower
            if lower in _NOT_AFTER_TITLE or lower in self.lexicon.dates:
                break
            if len(token.text) == 1 and token.text.isupper():  # an initial
                end = token.end + (1 if self.text[token.end : token.end + 1] == "." else 0)
            elif token.capitalised:
                if title.text in _WORDY_TITLES and end is None and self.never_a_name(index):
                    break  # "Miss School", "Master Plan": a word, not a surname
                end = token.end
            elif end is None and title.lower in _TITLES_ANY_CASE and token.text.islower():
                end = token.end  # "mrs jones": typed in lower case
                break
            else:
                break
            if token.possessive:
                break
            previous_end = token.end
            index += 1
        return end

    def after_cues(self) -> Iterable[tuple[int, int]]:
        """A name given as such: "a boy called Tyler", "known as Tiny", "her name is Kerry"."""
        starts = {token.start: index for index, token in enumerate(self.tokens)}
        for cue in _patterns().name_cue.finditer(self.text):
            index = starts.get(cue.end())
            if index is None:
                continue
            if cue.group("called") and self.called_is_a_phone_call(cue.start()):
                continue
            token = self.tokens[index]
            if self.is_first_name(token) and not self.never_a_name(index):
                yield token.start, self.surname_end(index)
            elif self.never_a_name(index) or self.in_institution(index):
                continue
            elif token.capitalised:
                yield token.start, self.surname_end(index)
            elif 2 <= len(token.text) <= 3 and token.text.isupper():
                yield token.start, token.end  # initials as a nickname: "known as TJ"

    def called_is_a_phone_call(self, cue_start: int) -> bool:
        """"I called Tyler", "Mum called Police", "the school called": not "a boy called Tyler"."""
        before = [token for token in self.tokens if token.end <= cue_start]
        if not before or _SENTENCE_END.search(self.text[before[-1].end : cue_start]):
            return False
        previous = before[-1]
        return (
            previous.lower in _CALLERS
            or previous.capitalised
            or previous.lower in self.lexicon.agencies_and_roles
        )

    def first_names(self) -> Iterable[tuple[int, int]]:
        """A common first name: capitalised, or after a relation word in any case."""
        for index, token in enumerate(self.tokens):
            if not self.is_first_name(token):
                continue
            if self.previous_relation(index, _RELATIONS) or (
                token.capitalised
                and not self.never_a_name(index)
                and not self.in_institution(index)
            ):
                yield token.start, self.surname_end(index)

    def kin(self) -> Iterable[tuple[int, int]]:
        """A capitalised word named as family: "mum Zyanya", "Zyanya's dad", "resident, Doreen"."""
        tokens = self.tokens
        for index, token in enumerate(tokens):
            if not token.capitalised or token.lower in self.lexicon.never_words:
                continue
            if self.in_institution(index):
                continue
            after_kin = self.previous_relation(index, _KIN) or self.previous_relation(
                index, _RELATIONS, apposition=True
            )
            before_kin = (
                token.possessive
                and index + 1 < len(tokens)
                and tokens[index + 1].lower in _KIN
                and re.fullmatch(r"['’]s\s+", self.text[token.end : tokens[index + 1].start])
            )
            if after_kin or before_kin:
                yield token.start, self.surname_end(index) if after_kin else token.end
