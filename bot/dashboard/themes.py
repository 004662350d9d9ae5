"""The themes of the challenge register: the figures a partnership's sub-group reviews.

South Tyneside's Business Manager keeps "the STSCP / STSAB Escalation and Challenge spreadsheet"
so that "any themes will be considered on a 6 monthly basis" (004, Stage 4 and 6. Quality
Assurance); Bury's BSCP Business Manager receives escalations "for tracking of thematics" (001,
Level 4). ``compute`` gives those themes for a scope and a period from the records database,
from identifiers, categories, stages and dates only: no free text is read or decrypted.

Definitions (each figure in one place, so the dashboard, the charts and the report agree):

* **In scope**: escalations opened on a Europe/London date in ``[start, end]``, of the given
  partnerships, where ``agency`` is the raising person's agency or one of the escalation's
  agencies (case-insensitive), raised by someone whose line manager is ``manager_person_id``.
* **Highest stage reached**: the last stage entered (its position in the pack, 1 = lowest).
* **Time at a stage**: working days (the pack's bank holidays) from the Europe/London date the
  stage started to the date it was closed by escalating or resolving (cancelled stages left out);
  set against the stage's own timescale in working days (``weeks`` x 5, same working day = 0), or
  else the pack's limit on each stage, where the procedure sets either.
* **Due**: the stage's agreed extension (``more_time_until``) if any, else its due date.
  **Overdue** at a moment: open then, and the stage current then was due before that day.
* **Resolved at the lowest stage**: resolved escalations whose resolving stage is the first.
* **Monthly series**: at the end of each month of the period (or ``now`` for the current month),
  how many of the escalations in scope were open, and how many of those overdue.
"""

from __future__ import annotations

import dataclasses
import statistics
from collections import Counter, defaultdict
from datetime import date, datetime, time, timedelta
from typing import Any, Iterable, Mapping

from sqlalchemy import select
from sqlalchemy.orm import Session

from bot.clock import LONDON
from bot.procedures.timescales import calendar_for, local_date
from bot.records.models import Escalation, Person, ProcedureVersion, StageEntry
from bot.records.store import CANCELLED, OPEN, RESOLVED, categories

NOT_GIVEN = "Not given"


# The figures ------------------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class Totals:
    opened: int
    open: int
    resolved: int
    cancelled: int
    overdue: int  # open now and past the current stage's due date
    escalated: int  # went beyond the first stage


@dataclasses.dataclass(frozen=True)
class CategoryCount:
    key: str
    label: str
    count: int


@dataclasses.dataclass(frozen=True)
class AgencyPair:
    raising: str  # the raising person's agency
    other: str  # the agency the disagreement is with
    count: int

    @property
    def label(self) -> str:
        return f"{self.raising} → {self.other}"


@dataclasses.dataclass(frozen=True)
class StageCount:
    partnership: str
    index: int  # 0-based position in the pack's stages
    key: str
    title: str
    count: int


@dataclasses.dataclass(frozen=True)
class LevelCount:
    position: int  # 1 = the lowest stage of every pack
    reached: int  # escalations whose highest stage is at this position
    resolved: int  # escalations resolved at this position


@dataclasses.dataclass(frozen=True)
class StageTime:
    partnership: str
    index: int
    key: str
    title: str
    closed: int  # stage entries closed by escalating or resolving
    median_working_days: float | None
    mean_working_days: float | None
    timescale_working_days: int | None  # None: the procedure sets no number of days
    with_due_date: int  # of ``closed``, those with a due date
    closed_by_due: int  # of those, closed on or before it


@dataclasses.dataclass(frozen=True)
class MonthPoint:
    month: date  # the first day of the month
    at: datetime  # the moment measured: the month's end, or ``now``
    open: int
    overdue: int


@dataclasses.dataclass(frozen=True)
class Themes:
    start: date
    end: date
    now: datetime
    partnerships: tuple[str, ...]  # the scope asked for (empty: all)
    partnership_names: Mapping[str, str]  # id -> name, for the partnerships seen
    agency: str | None
    manager_person_id: int | None
    totals: Totals
    by_category: tuple[CategoryCount, ...]  # every category, most frequent first
    by_agency_pair: tuple[AgencyPair, ...]  # most frequent first
    by_stage_reached: tuple[StageCount, ...]  # by partnership, then stage
    by_level: tuple[LevelCount, ...]  # by position, across partnerships
    stage_times: tuple[StageTime, ...]  # by partnership, then stage
    resolved_at_lowest: int
    share_resolved_at_lowest: float | None  # of the resolved; None when none resolved
    monthly: tuple[MonthPoint, ...]

    @property
    def single_partnership(self) -> str | None:
        """The partnership when the figures are about exactly one."""
        seen = set(self.partnerships) or set(self.partnership_names)
        return next(iter(seen)) if len(seen) == 1 else None


# Scope ------------------------------------------------------------------------------------------


def period_bounds(start: date, end: date) -> tuple[datetime, datetime]:
    """``[start, end]`` as Europe/London dates: the first moment and the moment after the last."""
    if end < start:
        raise ValueError(f"The period ends ({end}) before it starts ({start}); swap the dates.")
    return (
        datetime.combine(start, time.min, tzinfo=LONDON),
        datetime.combine(end + timedelta(days=1), time.min, tzinfo=LONDON),
    )


@dataclasses.dataclass(frozen=True)
class Row:
    """An escalation in scope, its identifiers and dates only."""

    id: int
    reference: str
    partnership: str
    fingerprint: str
    case_reference: str
    raising_agency: str
    other_agency: str
    agencies: tuple[str, ...]
    category: str
    status: str
    opened_at: datetime
    closed_at: datetime | None


@dataclasses.dataclass(frozen=True)
class StageRow:
    escalation_id: int
    index: int
    key: str
    title: str
    started_at: datetime
    due_on: date | None
    more_time_until: date | None
    closed_at: datetime | None
    resolved: bool | None

    @property
    def effective_due(self) -> date | None:
        return self.more_time_until or self.due_on


def scoped_rows(
    session: Session,
    *,
    partnerships: Iterable[str] | None = None,
    agency: str | None = None,
    manager_person_id: int | None = None,
    start: date | None = None,
    end: date | None = None,
) -> list[Row]:
    """The escalations in scope, oldest first (one query; no encrypted column is read)."""
    query = (
        select(
            Escalation.id, Escalation.reference, Escalation.partnership,
            Escalation.procedure_fingerprint, Escalation.case_reference, Person.agency,
            Escalation.other_agency, Escalation.agencies, Escalation.category, Escalation.status,
            Escalation.opened_at, Escalation.closed_at,
        )  # fmt: skip
        .join(Person, Person.id == Escalation.raised_by_id)
        .order_by(Escalation.opened_at, Escalation.id)
    )
    partnerships = [p for p in (partnerships or []) if p]
    if partnerships:
        query = query.where(Escalation.partnership.in_(partnerships))
    if manager_person_id is not None:
        query = query.where(Person.line_manager_id == manager_person_id)
    if start is not None or end is not None:
        first, after = period_bounds(start or date.min + timedelta(days=1), end or date.max - timedelta(days=1))
        if start is not None:
            query = query.where(Escalation.opened_at >= first)
        if end is not None:
            query = query.where(Escalation.opened_at < after)
    rows = [
        Row(
            id=r[0], reference=r[1], partnership=r[2], fingerprint=r[3], case_reference=r[4],
            raising_agency=r[5] or NOT_GIVEN, other_agency=r[6], agencies=tuple(r[7] or ()),
            category=r[8], status=r[9], opened_at=r[10], closed_at=r[11],
        )  # fmt: skip
        for r in session.execute(query)
    ]
    if agency and agency.strip():
        wanted = agency.strip().casefold()
        rows = [
            row
            for row in rows
            if row.raising_agency.casefold() == wanted or any(a.casefold() == wanted for a in row.agencies)
        ]
    return rows


def stage_rows(session: Session, escalation_ids: list[int]) -> dict[int, list[StageRow]]:
    """Each escalation's stage entries in order (one query per 500 escalations)."""
    stages: dict[int, list[StageRow]] = defaultdict(list)
    for offset in range(0, len(escalation_ids), 500):
        chunk = escalation_ids[offset : offset + 500]
        query = (
            select(
                StageEntry.escalation_id, StageEntry.index, StageEntry.key, StageEntry.title,
                StageEntry.started_at, StageEntry.due_on, StageEntry.more_time_until,
                StageEntry.closed_at, StageEntry.resolved,
            )  # fmt: skip
            .where(StageEntry.escalation_id.in_(chunk))
            .order_by(StageEntry.escalation_id, StageEntry.index)
        )
        for r in session.execute(query):
            stages[r[0]].append(StageRow(*r))
    return stages


@dataclasses.dataclass(frozen=True)
class Procedure:
    """What the figures need of a stored procedure version (read from its JSON, not parsed)."""

    partnership: str
    name: str
    version: str
    bank_holidays: str
    stages: tuple[tuple[str, str, int | None], ...]  # key, title, timescale in working days
    themes_review: Mapping[str, Any] | None
    seed_file: str


def _working_days(timescale: Mapping[str, Any] | None) -> int | None:
    if not timescale:
        return None
    kind = timescale.get("kind")
    if kind == "working_days":
        return int(timescale["days"])
    if kind == "weeks":
        return int(timescale["weeks"]) * 5
    if kind == "same_working_day":
        return 0
    return None


def procedure_from_json(pack: Mapping[str, Any]) -> Procedure:
    each_stage = next(
        (_working_days(limit.get("timescale")) for limit in pack.get("limits", []) if limit.get("scope") == "each_stage"),
        None,
    )
    stages = []
    for stage in pack["stages"]:
        own = _working_days(stage.get("timescale"))
        stages.append((stage["key"], stage["title"], own if own is not None else each_stage))
    return Procedure(
        partnership=pack["id"], name=pack["name"], version=pack["version"],
        bank_holidays=pack.get("bank_holidays", "ENG"), stages=tuple(stages),
        themes_review=pack.get("themes_review"), seed_file=pack["seed"]["file"],
    )  # fmt: skip


def procedures(session: Session, fingerprints: Iterable[str]) -> dict[str, Procedure]:
    """The stored procedure versions by fingerprint (one query)."""
    wanted = sorted(set(fingerprints))
    if not wanted:
        return {}
    query = select(ProcedureVersion.fingerprint, ProcedureVersion.pack).where(ProcedureVersion.fingerprint.in_(wanted))
    return {fingerprint: procedure_from_json(pack) for fingerprint, pack in session.execute(query)}


def latest_procedure(session: Session, partnership: str) -> Procedure | None:
    """The partnership's most recently first-used stored procedure version, if any."""
    pack = session.scalars(
        select(ProcedureVersion.pack)
        .where(ProcedureVersion.partnership == partnership)
        .order_by(ProcedureVersion.first_used_at.desc())
    ).first()
    return procedure_from_json(pack) if pack else None


def working_days_taken(procedure: Procedure, started_at: datetime, closed_at: datetime) -> int:
    calendar = calendar_for(procedure.bank_holidays)
    return calendar.working_days_between(local_date(started_at), local_date(closed_at))


def stage_at(stages: list[StageRow], moment: datetime) -> StageRow | None:
    """The stage current at ``moment``: started by then and not yet closed."""
    current = None
    for stage in stages:
        if stage.started_at <= moment and (stage.closed_at is None or stage.closed_at > moment):
            current = stage
    return current


def is_open_at(row: Row, moment: datetime) -> bool:
    return row.opened_at <= moment and (row.closed_at is None or row.closed_at > moment)


def is_overdue_at(row: Row, stages: list[StageRow], moment: datetime) -> bool:
    if not is_open_at(row, moment):
        return False
    stage = stage_at(stages, moment)
    due = stage.effective_due if stage is not None else None
    return due is not None and due < local_date(moment)


def months(start: date, end: date) -> list[date]:
    """The first day of each month from ``start``'s to ``end``'s."""
    result, month = [], start.replace(day=1)
    while month <= end:
        result.append(month)
        month = (month + timedelta(days=32)).replace(day=1)
    return result


# Computing ------------------------------------------------------------------------------------


def _median(values: list[int]) -> float | None:
    return float(statistics.median(values)) if values else None


def _mean(values: list[int]) -> float | None:
    return round(statistics.fmean(values), 2) if values else None


def compute(
    session: Session,
    *,
    partnerships: list[str] | None,
    agency: str | None,
    manager_person_id: int | None,
    start: date,
    end: date,
    now: datetime,
) -> Themes:
    """The themes of the escalations in scope opened in ``[start, end]``, as at ``now``."""
    if now.tzinfo is None:
        raise ValueError("now must be timezone-aware")
    rows = scoped_rows(
        session, partnerships=partnerships, agency=agency, manager_person_id=manager_person_id,
        start=start, end=end,
    )  # fmt: skip
    stages = stage_rows(session, [row.id for row in rows])
    versions = procedures(session, (row.fingerprint for row in rows))
    names = {version.partnership: version.name for version in versions.values()}
    for partnership in partnerships or []:
        if partnership not in names:
            stored = latest_procedure(session, partnership)
            names[partnership] = stored.name if stored else partnership

    status = Counter(row.status for row in rows)
    overdue_now = sum(1 for row in rows if row.status == OPEN and is_overdue_at(row, stages[row.id], now))
    totals = Totals(
        opened=len(rows), open=status[OPEN], resolved=status[RESOLVED], cancelled=status[CANCELLED],
        overdue=overdue_now, escalated=sum(1 for row in rows if len(stages[row.id]) > 1),
    )  # fmt: skip

    counted = Counter(row.category for row in rows)
    known = categories()
    by_category = tuple(
        sorted(
            (CategoryCount(key, known.get(key, {}).get("label", key), counted[key]) for key in {*known, *counted}),
            key=lambda c: (-c.count, c.label),
        )
    )

    pairs = Counter((row.raising_agency, row.other_agency) for row in rows)
    by_agency_pair = tuple(
        sorted((AgencyPair(r, o, n) for (r, o), n in pairs.items()), key=lambda p: (-p.count, p.raising, p.other))
    )

    reached: Counter = Counter()
    level_reached: Counter = Counter()
    level_resolved: Counter = Counter()
    durations: dict[tuple[str, int], list[int]] = defaultdict(list)
    due_dated: Counter = Counter()
    by_due: Counter = Counter()
    resolved_at_lowest = 0
    stage_names: dict[tuple[str, int], tuple[str, str, int | None]] = {}
    for row in rows:
        procedure = versions[row.fingerprint]
        entries = stages[row.id]
        for index, (key, title, timescale) in enumerate(procedure.stages):
            stage_names.setdefault((row.partnership, index), (key, title, timescale))
        if not entries:
            continue
        top = entries[-1]
        reached[(row.partnership, top.index)] += 1
        level_reached[top.index + 1] += 1
        if row.status == RESOLVED:
            level_resolved[top.index + 1] += 1
            resolved_at_lowest += top.index == 0
        for entry in entries:
            if entry.closed_at is None or entry.resolved is None:
                continue  # still current, or closed by a cancellation
            slot = (row.partnership, entry.index)
            durations[slot].append(working_days_taken(procedure, entry.started_at, entry.closed_at))
            due = entry.effective_due
            if due is not None:
                due_dated[slot] += 1
                by_due[slot] += local_date(entry.closed_at) <= due

    by_stage_reached = tuple(
        StageCount(p, i, *stage_names[(p, i)][:2], reached[(p, i)]) for p, i in sorted(stage_names)
    )
    deepest = max((len(v.stages) for v in versions.values()), default=0)
    by_level = tuple(
        LevelCount(position, level_reached[position], level_resolved[position]) for position in range(1, deepest + 1)
    )
    stage_times = tuple(
        StageTime(
            partnership=p, index=i, key=stage_names[(p, i)][0], title=stage_names[(p, i)][1],
            closed=len(durations[(p, i)]), median_working_days=_median(durations[(p, i)]),
            mean_working_days=_mean(durations[(p, i)]), timescale_working_days=stage_names[(p, i)][2],
            with_due_date=due_dated[(p, i)], closed_by_due=by_due[(p, i)],
        )  # fmt: skip
        for p, i in sorted(stage_names)
    )

    monthly = []
    for month in months(start, min(end, local_date(now))):
        following = (month + timedelta(days=32)).replace(day=1)
        at = min(datetime.combine(following, time.min, tzinfo=LONDON) - timedelta(microseconds=1), now)
        open_then = [row for row in rows if is_open_at(row, at)]
        monthly.append(
            MonthPoint(
                month=month, at=at, open=len(open_then),
                overdue=sum(1 for row in open_then if is_overdue_at(row, stages[row.id], at)),
            )  # fmt: skip
        )

    return Themes(
        start=start, end=end, now=now, partnerships=tuple(partnerships or ()),
        partnership_names=dict(sorted(names.items())), agency=agency, manager_person_id=manager_person_id,
        totals=totals, by_category=by_category, by_agency_pair=by_agency_pair,
        by_stage_reached=by_stage_reached, by_level=by_level, stage_times=stage_times,
        resolved_at_lowest=resolved_at_lowest,
        share_resolved_at_lowest=(resolved_at_lowest / totals.resolved) if totals.resolved else None,
        monthly=tuple(monthly),
    )  # fmt: skip
