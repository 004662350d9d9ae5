"""Seed a records database with a realistic spread of escalations, for the dashboard, its tests
and demos.

People: in each of the five partnerships, practitioners across the agencies that work with
children or adults, each with a team manager, whose own line manager is the agency's
safeguarding lead. Escalations: opened over the twelve months before ``now`` on working days,
in every category (``bot/records/categories.yml``), taken through the procedure with the store's
own functions (``open_escalation``, ``record_stage``, ``escalate``, ``close_resolved``,
``cancel``) on one travelling clock, so every date is one the assistant would have written:
most resolved early, some at every stage, a few cancelled, and some still open, of which some
are overdue. Free text is generic and carries no personal data; case references look like an
agency's own (``CSC-123456``).

    .venv/bin/python scripts/seed_register.py --count 300   # into BOT_VAR_DIR / BOT_DATABASE_URL
"""

from __future__ import annotations

import argparse
import dataclasses
import random
import sys
from collections import Counter
from datetime import date, datetime, time, timedelta
from pathlib import Path
from typing import Callable

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bot.clock import LONDON, clock_for  # noqa: E402
from bot.config import Settings  # noqa: E402
from bot.procedures.loader import load_library  # noqa: E402
from bot.procedures.schema import Pack  # noqa: E402
from bot.procedures.timescales import calendar_for, local_date, stage_due  # noqa: E402
from bot.records import store  # noqa: E402
from bot.records.db import Database, open_database  # noqa: E402
from bot.records.models import Escalation, Person  # noqa: E402

OPERATOR = "operator:seed"
SEED_CHANNEL = "seed"

# Agencies as practitioners name them, with the prefix of their own case references.
CHILDREN_AGENCIES = {
    "Children's Social Care": "CSC",
    "Early Help": "EH",
    "Primary school": "SCH",
    "Secondary school": "SCH",
    "Health visiting": "HV",
    "School nursing": "SN",
    "GP practice": "GP",
    "Police": "POL",
    "CAMHS": "CAMHS",
}
ADULTS_AGENCIES = {
    "Adult Social Care": "ASC",
    "GP practice": "GP",
    "Acute hospital trust": "ACU",
    "Mental health trust": "MHT",
    "Police": "POL",
    "Housing": "HSG",
    "Care home": "CH",
    "Probation": "PRB",
    "Ambulance service": "AMB",
}
ROLES = ("Social worker", "Nurse", "Support worker", "Practitioner", "Officer", "Teacher")

# Generic free text: nothing about a real person, nothing identifying.
SUMMARIES = {
    "levels-of-need": "Disagreement about whether the threshold for a statutory assessment is met.",
    "risk": "Different views of the level of risk and how it should be managed.",
    "roles-and-responsibilities": "Disagreement about which agency should lead on the agreed actions.",
    "communication": "Information relevant to safeguarding was not shared between the agencies.",
    "provision-of-services": "Disagreement about whether a service should be provided.",
    "progress-of-plans": "The plan has drifted and agreed actions have not progressed.",
    "step-up-step-down": "Disagreement about stepping the case down or closing it.",
}
DESIRED = "A joint discussion and an agreed plan, with the decision reconsidered."
INVOLVED = "The practitioners and managers of both agencies."
POSITION = "The other agency maintained its decision and gave its rationale."
NOT_AGREED = "Not agreed at this stage; escalated to the next stage."
RESOLVED_TEXT = "Agreed at this stage; the decision was reconsidered and a joint plan made."
FOR_PERSON = "The plan now meets the assessed need and the agencies are working together."

# How often each category arises (most disagreements are about thresholds and risk).
CATEGORY_WEIGHTS = {
    "levels-of-need": 26,
    "risk": 18,
    "communication": 16,
    "roles-and-responsibilities": 12,
    "progress-of-plans": 12,
    "provision-of-services": 9,
    "step-up-step-down": 7,
}
PARTNERSHIP_WEIGHTS = {
    "bury-adults": 16,
    "bury-children": 26,
    "warrington-adults": 18,
    "cambs-peterborough-adults": 20,
    "south-tyneside": 20,
}


@dataclasses.dataclass(frozen=True)
class SeedSummary:
    """What was seeded: counts to show and to check a spread against."""

    escalations: int
    people: int
    by_partnership: dict[str, int]
    by_category: dict[str, int]
    by_status: dict[str, int]
    resolved_at_position: dict[int, int]  # 1 = the lowest stage
    overdue: int
    first_opened: datetime | None
    last_opened: datetime | None


@dataclasses.dataclass
class _Plan:
    """One escalation's life, decided up front: when it opens and what happens at each stage."""

    number: int
    pack: Pack
    person_key: tuple[str, str, int]
    subject: str
    case_reference: str
    other_agency: str
    category: str
    opened_at: datetime
    steps: list[tuple[datetime, str, date | None]]  # (when, what, next review date)
    escalation: Escalation | None = None


def _at_working_time(rng: random.Random, day: date, pack: Pack, earliest: datetime | None = None) -> datetime:
    """A moment in working hours of ``day`` (the next working day if it is not one)."""
    day = calendar_for(pack.bank_holidays).on_or_after(day)
    moment = datetime.combine(day, time(rng.randint(8, 16), rng.randint(0, 59)), tzinfo=LONDON)
    if earliest is not None and moment <= earliest:
        moment = earliest + timedelta(minutes=rng.randint(20, 120))
    return moment


def _people(session, library, now: datetime) -> dict[tuple[str, str, int], Person]:
    """Practitioners (three per agency), their team manager and the agency's safeguarding lead,
    in every partnership; returned by (partnership, agency, number)."""
    practitioners: dict[tuple[str, str, int], Person] = {}
    for pack in library:
        agencies = ADULTS_AGENCIES if "children" not in {s.value for s in pack.covers} else CHILDREN_AGENCIES
        if {s.value for s in pack.covers} == {"children", "adults"}:
            agencies = {**CHILDREN_AGENCIES, **ADULTS_AGENCIES}
        for agency in agencies:
            slug = f"{pack.id}:{agency.lower().replace(' ', '-').replace(chr(39), '')}"

            def make(suffix: str, role: str) -> Person:
                person = store.person_for(session, channel=SEED_CHANNEL, channel_id=f"{slug}:{suffix}", now=now)
                store.update_person(session, person=person, now=now, agency=agency, role=role, partnership=pack.id)
                person.registered_at = person.registered_at or now
                return person

            lead = make("lead", "Designated safeguarding lead")
            manager = make("manager", "Team manager")
            store.set_line_manager(session, person=manager, manager=lead, now=now, actor=OPERATOR)
            for number in range(3):
                practitioner = make(f"practitioner-{number}", ROLES[number % len(ROLES)])
                store.set_line_manager(session, person=practitioner, manager=manager, now=now, actor=OPERATOR)
                practitioners[(pack.id, agency, number)] = practitioner
    return practitioners


def _plan(rng: random.Random, number: int, pack: Pack, people_keys: list, now: datetime) -> _Plan:
    subject = rng.choice([s.value for s in pack.covers])
    keys = [key for key in people_keys if key[0] == pack.id]
    agencies = CHILDREN_AGENCIES if subject == "children" else ADULTS_AGENCIES
    keys = [key for key in keys if key[1] in agencies] or keys
    person_key = rng.choice(keys)
    other = rng.choice([a for a in agencies if a != person_key[1]])
    prefix = agencies.get(person_key[1], "REF")
    category = rng.choices(list(CATEGORY_WEIGHTS), weights=list(CATEGORY_WEIGHTS.values()))[0]
    calendar = calendar_for(pack.bank_holidays)
    opened_day = (now - timedelta(days=rng.uniform(1, 364))).astimezone(LONDON).date()
    opened_at = _at_working_time(rng, opened_day, pack)
    if opened_at >= now:
        opened_at = now - timedelta(hours=2)

    steps: list[tuple[datetime, str, date | None]] = []
    started = opened_at
    for index, stage in enumerate(pack.stages):
        review = None
        if not stage.timescale.is_set:
            review = calendar.add_working_days(local_date(started), rng.randint(3, 10))
        due = stage_due(pack, index, stage_started_at=started, escalation_started_at=opened_at, agreed_review_on=review).on
        # A whole-escalation limit may already have passed when a later stage starts.
        allowed = max(calendar.working_days_between(local_date(started), due), 0) if due else 10
        # Most stages close within their time; about one in five runs over, a few stall for weeks.
        chance = rng.random()
        if chance < 0.1:
            taken = allowed + rng.randint(10, 60)
        elif chance < 0.28:
            taken = allowed + rng.randint(1, 8)
        else:
            taken = rng.randint(0, allowed)
        when = _at_working_time(rng, calendar.add_working_days(local_date(started), taken), pack, earliest=started)
        last = index == len(pack.stages) - 1
        roll = rng.random()
        lowest = index == 0
        if roll < 0.04:
            action = "cancel"
        elif last or roll < (0.55 if lowest else 0.5):
            action = "resolve"
        else:
            action = "escalate"
        steps.append((when, action, review))
        if action != "escalate":
            break
        started = when
    return _Plan(
        number=number, pack=pack, person_key=person_key, subject=subject,
        case_reference=f"{prefix}-{rng.randint(100000, 999999)}", other_agency=other,
        category=category, opened_at=opened_at, steps=steps,
    )  # fmt: skip


def seed(
    database: Database,
    *,
    count: int = 300,
    now: datetime,
    rng_seed: int = 7,
    packs_dir: Path | None = None,
    progress: Callable[[str], None] | None = None,
) -> SeedSummary:
    """Create people and ``count`` escalations opened over the year before ``now``; events after
    ``now`` do not happen (those escalations are still open, some overdue)."""
    if now.tzinfo is None:
        raise ValueError("now must be timezone-aware")
    rng = random.Random(rng_seed)
    library = load_library(packs_dir or Settings.from_env().packs_dir)
    say = progress or (lambda _message: None)
    with database.session() as session:
        year_ago = now - timedelta(days=366)
        people = _people(session, library, year_ago)
        say(f"{len(people)} practitioners with their managers and safeguarding leads")
        packs = {pack.id: pack for pack in library}
        ids = [p for p in PARTNERSHIP_WEIGHTS if p in packs] + sorted(set(packs) - set(PARTNERSHIP_WEIGHTS))
        weights = [PARTNERSHIP_WEIGHTS.get(p, 15) for p in ids]
        plans = [
            _plan(rng, number, packs[rng.choices(ids, weights=weights)[0]], list(people), now)
            for number in range(count)
        ]
        # One travelling clock: every event of every escalation, in the order they happened.
        events: list[tuple[datetime, int, int]] = []
        for plan in plans:
            events.append((plan.opened_at, plan.number, -1))
            events.extend((when, plan.number, step) for step, (when, _a, _r) in enumerate(plan.steps) if when <= now)
        events.sort()
        done = 0
        for when, number, step in events:
            plan = plans[number]
            person = people[plan.person_key]
            if step == -1:
                first_review = plan.steps[0][2]
                plan.escalation = store.open_escalation(
                    session, person=person, pack=plan.pack, subject=plan.subject,
                    case_reference=plan.case_reference, other_agency=plan.other_agency,
                    category=plan.category, summary=SUMMARIES[plan.category], desired_outcome=DESIRED,
                    agencies=[person.agency], safeguarding_lead_aware=rng.random() < 0.8,
                    review_on=first_review, now=when,
                )  # fmt: skip
                done += 1
                if done % max(1, count // 10) == 0 or done == count:
                    say(f"{done}/{count} escalations opened")
                continue
            _when, action, _review = plan.steps[step]
            escalation = plan.escalation
            if action == "cancel":
                store.cancel(session, escalation=escalation, person=person, now=when)
                continue
            store.record_stage(
                session, escalation=escalation, person=person, now=when, involved=INVOLVED,
                other_agency_position=POSITION, outcome=RESOLVED_TEXT if action == "resolve" else NOT_AGREED,
                key_points_in_writing=rng.random() < 0.7,
            )  # fmt: skip
            if action == "resolve":
                store.close_resolved(
                    session, escalation=escalation, person=person, outcome=RESOLVED_TEXT,
                    outcome_for_person=FOR_PERSON, now=when,
                )  # fmt: skip
                continue
            store.escalate(session, escalation=escalation, person=person, now=when)
            following = plan.steps[step + 1][2] if step + 1 < len(plan.steps) else None
            if following is not None and following >= local_date(when):
                store.record_stage(session, escalation=escalation, person=person, now=when, review_on=following)
        session.flush()
        return _summary(session, [plan.escalation for plan in plans], len(people), now)


def _summary(session, escalations: list[Escalation], people: int, now: datetime) -> SeedSummary:
    by_status = Counter(e.status for e in escalations)
    resolved_at = Counter(e.stages[-1].index + 1 for e in escalations if e.status == store.RESOLVED)
    overdue = 0
    for escalation in escalations:
        current = escalation.stages[-1]
        due = current.nudge_due_on
        if escalation.status == store.OPEN and due is not None and due < local_date(now):
            overdue += 1
    opened = sorted(e.opened_at for e in escalations)
    return SeedSummary(
        escalations=len(escalations), people=session.query(Person).count() if people else 0,
        by_partnership=dict(Counter(e.partnership for e in escalations)),
        by_category=dict(Counter(e.category for e in escalations)), by_status=dict(by_status),
        resolved_at_position=dict(sorted(resolved_at.items())), overdue=overdue,
        first_opened=opened[0] if opened else None, last_opened=opened[-1] if opened else None,
    )  # fmt: skip


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description="Seed the records database (BOT_VAR_DIR / BOT_DATABASE_URL) with a realistic "
        "spread of escalations over the last twelve months, for the dashboard and demos."
    )
    parser.add_argument("--count", type=int, default=300, help="escalations to create (default: 300)")
    parser.add_argument("--seed", type=int, default=7, help="random seed, for the same spread again (default: 7)")
    parser.add_argument(
        "--now", help="the moment to seed up to, ISO 8601 with offset (default: BOT_NOW or the system clock)"
    )
    args = parser.parse_args(argv)
    if args.count < 1:
        parser.error("--count must be at least 1")
    settings = Settings.from_env()
    if args.now:
        now = datetime.fromisoformat(args.now)
        if now.tzinfo is None:
            parser.error("--now needs an offset, e.g. 2025-06-30T12:00:00+01:00")
    else:
        now = clock_for(settings.frozen_now)()
    database = open_database(settings)
    try:
        print(f"Seeding {settings.effective_database_url.split('?')[0]} up to {now:%Y-%m-%d %H:%M}")
        summary = seed(database, count=args.count, now=now, rng_seed=args.seed, progress=print)
    finally:
        database.dispose()
    print(
        f"Done: {summary.escalations} escalations ({', '.join(f'{k} {v}' for k, v in sorted(summary.by_status.items()))}; "
        f"{summary.overdue} overdue) across {len(summary.by_partnership)} partnerships, {summary.people} people."
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
