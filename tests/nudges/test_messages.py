"""What a nudge says in its recipient's conversation (``Desk.nudge``), and more time agreed from
one (``Desk.agree_more_time``), on a real database."""

from __future__ import annotations

from datetime import date

import pytest
from sqlalchemy import select

from bot.clock import frozen_clock
from bot.dialogue import Assistant
from bot.escalations import Caller, Desk
from bot.records import store
from bot.records.models import Nudge
from bot.triage import Thresholds
from tests.conftest import london
from tests.nudges.conftest import open_for, register

NOW = london(2026, 11, 27, 10)  # Friday


@pytest.fixture
def desk(library, database, settings):
    return Desk(Assistant(library, frozen_clock(NOW), Thresholds()), database, settings.documents_dir)


def stored_nudge(database, reference: str, kind: str, due_on: date, recipient: str) -> str:
    with database.session() as session:
        escalation = store.find(session, reference=reference, person=None)
        person = store.person_for(session, channel="rest", channel_id=recipient, now=NOW)
        nudge = Nudge(escalation_id=escalation.id, stage_index=escalation.stages[-1].index, kind=kind, due_on=due_on,
                      recipient_id=person.id, status="pending", created_at=NOW, next_attempt_at=NOW, attempts=0)  # fmt: skip
        session.add(nudge)
        session.flush()
        return nudge.key


@pytest.fixture
def at_stage_1(database, library):
    """South Tyneside, Stage 1 (line managers) due Wednesday 25 November; a line manager."""
    with database.session() as session:
        me = register(session, "practitioner-m", manager="manager-m", now=NOW, agency="Riverside Primary School")
        escalation = open_for(session, library, me, "south-tyneside", london(2026, 11, 23, 10))
        store.escalate(session, escalation=escalation, person=me, now=london(2026, 11, 24, 10))
        return escalation.reference


def test_an_overdue_nudge_to_the_manager_names_the_next_stage(desk, database, at_stage_1, library):
    key = stored_nudge(database, at_stage_1, "overdue-manager", date(2026, 11, 25), "manager-m")
    turn = desk.nudge(Caller("rest", "manager-m"), key)
    reply = turn.replies[0]
    assert reply.response == "utter_nudge_overdue_manager"
    stage = library["south-tyneside"].stages[2]
    assert reply.variables["late"] == "2"  # Wednesday to Friday
    assert reply.variables["agency"] == "Riverside Primary School"
    assert reply.variables["next_step"] == library["south-tyneside"].stages[1].if_not_resolved
    assert "Stage 2" in reply.variables["next_step"] and stage.key == "stage-2"
    assert [b["payload"] for b in reply.buttons] == ["/resolved", "/not_resolved", "/more_time"]
    assert turn.slots["escalation_ref"] == at_stage_1 and turn.slots["has_record"] is True


def test_a_nudge_is_shown_only_in_its_recipients_conversation(desk, database, at_stage_1):
    key = stored_nudge(database, at_stage_1, "due", date(2026, 11, 25), "practitioner-m")
    assert desk.nudge(Caller("rest", "someone-else"), key).replies == []
    assert desk.nudge(Caller("rest", "practitioner-m"), "not-a-key").replies == []
    assert desk.nudge(Caller("rest", "practitioner-m"), key).replies[0].response == "utter_nudge_due"


def test_the_business_managers_notification_carries_no_free_text(desk, database, library):
    with database.session() as session:
        me = register(session, "practitioner-n", now=NOW)
        escalation = open_for(session, library, me, "south-tyneside", london(2026, 11, 23, 10))
        for day in (24, 25):
            store.escalate(session, escalation=escalation, person=me, now=london(2026, 11, day, 10))
        reference = escalation.reference
    key = stored_nudge(database, reference, "notify-partnership", date(2026, 11, 25), "st-business")
    reply = desk.nudge(Caller("rest", "st-business"), key).replies[0]
    assert reply.response == "utter_nudge_notify"
    assert reply.variables["form"] == " (Appendix A: Escalation Notification Form / Template)"
    assert reply.variables["category"] and "missed health appointments" not in str(reply.variables)


def test_more_time_agreed_by_the_manager_from_a_nudge(desk, database, at_stage_1):
    manager = Caller("rest", "manager-m")
    asked = desk.ask_more_time(manager, at_stage_1)
    assert asked.replies[0].response == "utter_ask_more_time" and asked.slots["awaiting"] == "more_time"
    unclear = desk.agree_more_time(manager, at_stage_1, "whenever they can")
    assert unclear.replies[0].response == "utter_ask_review_date_again"
    agreed = desk.agree_more_time(manager, at_stage_1, "next Thursday")
    assert agreed.replies[0].response == "utter_more_time_noted"
    assert agreed.replies[0].variables["date"] == "Thu 3 Dec 2026"
    with database.session() as session:
        escalation = store.find(session, reference=at_stage_1, person=None)
        assert escalation.stages[-1].more_time_until == date(2026, 12, 3)
        trail = store.audit_trail(session, reference=at_stage_1)
        assert trail[-1].action == "stage.more_time" and trail[-1].detail["until"] == "2026-12-03"
        assert session.scalars(select(Nudge)).all() == []
