"""Sweeps on real databases (a SQLite file, a PostgreSQL database), delivering to a fake Rasa over
HTTP, with the clock moved across a weekend, bank holidays and Christmas; failures, restarts and
two sweeps at once."""

from __future__ import annotations

import dataclasses
import io
import threading
from datetime import date, timedelta

from sqlalchemy import select

from bot.nudges import cli, sweep
from bot.nudges.delivery import RasaDelivery
from bot.nudges.sweep import Sweeper
from bot.records import store
from bot.records.db import open_database
from bot.records.models import Nudge, NudgeAttempt
from tests.conftest import london
from tests.nudges.conftest import open_for, register
from tests.nudges.fake_rasa import FAIL, NORMAL


def sent(database) -> list[tuple[str, date, str, str]]:
    """(kind, due date, recipient, status) of every stored nudge, in order."""
    with database.session() as session:
        return [
            (n.kind, n.due_on, n.recipient.channel_id, n.status)
            for n in session.scalars(select(Nudge).order_by(Nudge.id))
        ]


def sweep_at(sweeper, clock, moment):
    clock.now = moment
    return sweeper.sweep()


def test_a_due_stage_waits_out_the_weekend_and_the_night_then_goes_overdue(database, library, sweeper, clock, rasa):
    with database.session() as session:
        me = register(session, "practitioner-1", now=clock())
        # South Tyneside, practitioner to practitioner: within one working day.
        escalation = open_for(session, library, me, "south-tyneside", london(2026, 11, 27, 16))  # Friday
        reference = escalation.reference
        assert escalation.stages[0].due_on == date(2026, 11, 30)  # Monday
    for quiet in (london(2026, 11, 28, 10), london(2026, 11, 29, 12), london(2026, 11, 30, 8, 59)):
        assert sweep_at(sweeper, clock, quiet).sent == 0  # Saturday, Sunday, Monday before 09:00
    assert rasa.nudges() == []

    report = sweep_at(sweeper, clock, london(2026, 11, 30, 9, 0))
    assert (report.recorded, report.sent) == (1, 1)
    assert sent(database) == [("due", date(2026, 11, 30), "practitioner-1", "sent")]
    assert sweep_at(sweeper, clock, london(2026, 11, 30, 9, 1)).sent == 0  # never twice
    assert sweep_at(sweeper, clock, london(2026, 11, 30, 17, 30)).recorded == 0  # evening
    assert sweep_at(sweeper, clock, london(2026, 12, 1, 10)).sent == 0  # one working day late: not yet

    assert sweep_at(sweeper, clock, london(2026, 12, 2, 9, 0)).sent == 1  # two working days late
    assert [kind for kind, *_ in sent(database)] == ["due", "overdue"]
    keys = [key for _, key in rasa.nudges("practitioner-1")]
    assert len(keys) == 2 and keys[1].endswith(":overdue:2026-11-30")
    with database.session() as session:
        assert store.find(session, reference=reference, person=None).stages[0].resolved is None


def test_christmas_and_the_substitute_boxing_day_are_not_working_days(database, library, sweeper, clock, rasa):
    with database.session() as session:
        me = register(session, "practitioner-2", manager="manager-2", now=clock())
        escalation = open_for(session, library, me, "south-tyneside", london(2026, 12, 22, 10))
        store.escalate(session, escalation=escalation, person=me, now=london(2026, 12, 23, 10))
        assert escalation.stages[1].due_on == date(2026, 12, 24)  # Stage 1, line managers: within 1 day
    sweep_at(sweeper, clock, london(2026, 12, 24, 9, 30))
    assert {(kind, who) for kind, _, who, _ in sent(database)} == {("due", "practitioner-2"), ("due-manager", "manager-2")}
    # Christmas Day, a weekend, the substitute Boxing Day bank holiday (Monday 28th): nothing.
    for day in (25, 26, 27, 28):
        assert sweep_at(sweeper, clock, london(2026, 12, day, 11)).recorded == 0
    assert sweep_at(sweeper, clock, london(2026, 12, 29, 11)).recorded == 0  # one working day late
    report = sweep_at(sweeper, clock, london(2026, 12, 30, 9, 0))
    assert report.sent == 2
    assert [(kind, who) for kind, _, who, _ in sent(database)][2:] == [("overdue", "practitioner-2"), ("overdue-manager", "manager-2")]
    assert len(rasa.nudges("manager-2")) == 2


def test_easter_bank_holidays_move_the_due_date_and_the_nudge(database, library, sweeper, clock, rasa):
    with database.session() as session:
        me = register(session, "practitioner-3", now=clock())
        escalation = open_for(session, library, me, "south-tyneside", london(2027, 3, 25, 10))  # Maundy Thursday
        assert escalation.stages[0].due_on == date(2027, 3, 30)  # after Good Friday and Easter Monday
    for day in (26, 29):
        assert sweep_at(sweeper, clock, london(2027, 3, day, 10)).sent == 0
    assert sweep_at(sweeper, clock, london(2027, 3, 30, 9, 0)).sent == 1


def test_a_procedure_without_timescales_is_chased_on_the_agreed_review_date(database, library, sweeper, clock, rasa):
    with database.session() as session:
        me = register(session, "practitioner-4", now=clock())
        open_for(session, library, me, "warrington-adults", london(2026, 11, 23, 10), subject="adults",
                 review_on=date(2026, 12, 2))  # fmt: skip
        open_for(session, library, me, "warrington-adults", london(2026, 11, 23, 10), subject="adults")
    assert sweep_at(sweeper, clock, london(2026, 12, 1, 12)).sent == 0
    assert sweep_at(sweeper, clock, london(2026, 12, 2, 10)).sent == 1  # the one with a review date
    assert sent(database) == [("due", date(2026, 12, 2), "practitioner-4", "sent")]


def test_more_time_agreed_moves_the_chase_to_the_new_date(database, library, sweeper, clock, rasa):
    with database.session() as session:
        me = register(session, "practitioner-5", now=clock())
        reference = open_for(session, library, me, "south-tyneside", london(2026, 11, 27, 16)).reference
    sweep_at(sweeper, clock, london(2026, 11, 30, 10))
    with database.session() as session:
        escalation = store.find(session, reference=reference, person=None)
        store.agree_more_time(session, escalation=escalation, person=escalation.raised_by,
                              until=date(2026, 12, 4), now=london(2026, 11, 30, 10, 5))  # fmt: skip
    for day in (1, 2, 3):  # 2 December would have been overdue
        assert sweep_at(sweeper, clock, london(2026, 12, day, 10)).recorded == 0
    assert sweep_at(sweeper, clock, london(2026, 12, 4, 9, 0)).sent == 1
    assert [(kind, due) for kind, due, _, _ in sent(database)] == [("due", date(2026, 11, 30)), ("due", date(2026, 12, 4))]


def test_south_tyneside_notifies_the_business_manager_at_stage_2(database, library, sweeper, clock, rasa):
    with database.session() as session:
        me = register(session, "practitioner-6", now=clock())
        business = register(session, "st-business-manager", now=clock(), agency="STSCP")
        store.set_contact(session, partnership="south-tyneside", contact_id="partnership", person=business,
                          now=clock(), actor="test")  # fmt: skip
        escalation = open_for(session, library, me, "south-tyneside", london(2026, 11, 23, 10))
        store.escalate(session, escalation=escalation, person=me, now=london(2026, 11, 24, 10))
        reference = escalation.reference
    assert sweep_at(sweeper, clock, london(2026, 11, 24, 12)).sent == 0  # Stage 1: no notification
    with database.session() as session:
        escalation = store.find(session, reference=reference, person=None)
        store.escalate(session, escalation=escalation, person=escalation.raised_by, now=london(2026, 11, 25, 10))
    sweep_at(sweeper, clock, london(2026, 11, 25, 10, 1))
    assert ("notify-partnership", date(2026, 11, 25), "st-business-manager", "sent") in sent(database)
    assert len(rasa.nudges("st-business-manager")) == 1


def test_nudges_due_says_what_would_be_sent_and_who_is_missing(database, library, clock, settings):
    with database.session() as session:
        me = register(session, "practitioner-7", now=clock())  # no line manager registered
        escalation = open_for(session, library, me, "south-tyneside", london(2026, 11, 23, 10))
        store.escalate(session, escalation=escalation, person=me, now=london(2026, 11, 24, 10))
        reference = escalation.reference
    out = io.StringIO()
    cli.due(None, dataclasses.replace(settings, frozen_now=london(2026, 11, 25, 10)), out)
    lines = out.getvalue().splitlines()
    assert lines[0].startswith("At Wed 25 Nov 2026 10:00 (Europe/London; nudges on working days 09:00-17:00)")
    assert any(reference in line and "due " in line and "to rest:practitioner-7" in line and "[to send]" in line for line in lines)
    assert any("due-manager" in line and "(no one registered: not sent)" in line for line in lines)
    out = io.StringIO()
    cli.due(None, dataclasses.replace(settings, frozen_now=london(2026, 11, 28, 10)), out)  # Saturday
    assert out.getvalue().splitlines()[1] == "Nothing to send."


def test_an_undeliverable_nudge_is_retried_with_backoff_and_every_attempt_recorded(database, library, sweeper, clock, rasa):
    with database.session() as session:
        me = register(session, "practitioner-8", now=clock())
        open_for(session, library, me, "south-tyneside", london(2026, 11, 23, 10))
    rasa.mode = FAIL
    start = london(2026, 11, 24, 10)
    assert sweep_at(sweeper, clock, start).failed == 1
    assert sweep_at(sweeper, clock, start + timedelta(seconds=30)).failed == 0  # retry not due yet
    assert sweep_at(sweeper, clock, start + timedelta(minutes=1)).failed == 1  # after 1 minute
    assert sweep_at(sweeper, clock, start + timedelta(minutes=2)).failed == 0  # next after 2 more
    rasa.mode = NORMAL
    assert sweep_at(sweeper, clock, start + timedelta(minutes=3)).sent == 1
    with database.session() as session:
        nudge = session.scalars(select(Nudge)).one()
        attempts = [(a.outcome, a.error) for a in session.scalars(select(NudgeAttempt).order_by(NudgeAttempt.id))]
        assert (nudge.status, nudge.attempts, nudge.last_error) == ("sent", 3, None)
    assert [outcome for outcome, _ in attempts] == ["undeliverable", "undeliverable", "sent"]
    assert attempts[0][1] == "the assistant answered HTTP 500 (Internal Server Error)"
    assert len(rasa.nudges()) == 1


def test_a_nudge_not_yet_delivered_when_the_stage_is_resolved_is_not_sent(database, library, sweeper, clock, rasa):
    with database.session() as session:
        me = register(session, "practitioner-9", now=clock())
        reference = open_for(session, library, me, "south-tyneside", london(2026, 11, 23, 10)).reference
    rasa.mode = FAIL
    sweep_at(sweeper, clock, london(2026, 11, 24, 10))
    with database.session() as session:
        escalation = store.find(session, reference=reference, person=None)
        store.close_resolved(session, escalation=escalation, person=escalation.raised_by,
                             outcome="Agreed a strategy discussion.", outcome_for_person="Seen the same week.",
                             now=london(2026, 11, 24, 10, 30))  # fmt: skip
    rasa.mode = NORMAL
    assert sweep_at(sweeper, clock, london(2026, 11, 24, 11)).obsolete == 1
    assert rasa.nudges() == []
    assert sent(database)[0][3] == "obsolete"


def test_two_sweepers_on_one_database_never_send_twice(database, library, clock, rasa, settings, monkeypatch):
    monkeypatch.setattr(sweep, "INSERT_CHUNK", 7)  # several INSERTs per sweep, each counted
    with database.session() as session:
        for number in range(30):
            me = register(session, f"practitioner-{number:02}", manager="manager-x", now=clock())
            escalation = open_for(session, library, me, "south-tyneside", london(2026, 11, 23, 10))
            store.escalate(session, escalation=escalation, person=me, now=london(2026, 11, 23, 11))
    clock.now = london(2026, 11, 25, 10)  # every Stage 1 overdue: practitioner and manager each
    other = open_database(settings)  # a second scheduler's engine on the same database
    sweepers = [Sweeper(db, RasaDelivery(rasa.url, timeout=5), clock, settings) for db in (database, other)]
    start = threading.Barrier(2)
    reports = []

    def run(sweeper):
        start.wait()
        reports.append(sweeper.sweep())

    threads = [threading.Thread(target=run, args=(s,)) for s in sweepers]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    try:
        delivered = rasa.nudges()
        assert len(delivered) == 60
        assert len(set(delivered)) == 60  # no nudge twice
        assert sum(r.sent for r in reports) == 60 and sum(r.recorded for r in reports) == 60
        assert {status for *_, status in sent(database)} == {"sent"}
        assert sweepers[1].sweep().sent == 0  # and nothing left over
    finally:
        other.dispose()
