"""The records side of the conversation (bot.escalations.Desk) on a real SQLite database."""

from __future__ import annotations

import io
from datetime import timedelta

import docx
import pytest

from bot.clock import frozen_clock
from bot.config import Settings
from bot.dialogue import Assistant
from bot.escalations import Caller, Desk
from bot.records import store
from bot.records.db import open_database
from bot.triage import Thresholds
from tests.conftest import PARTNERSHIPS, london

NOW = london(2026, 11, 23, 10)
ME = Caller(channel="rest", sender="practitioner-7")


@pytest.fixture
def desk(library, tmp_path):
    settings = Settings.from_env({"BOT_VAR_DIR": str(tmp_path / "var")})
    database = open_database(settings)
    yield Desk(Assistant(library, frozen_clock(NOW), Thresholds()), database, settings.documents_dir)
    database.dispose()


def form(partnership: str, **overrides) -> dict:
    slots = {
        "partnership": partnership, "subject": "children" if partnership in ("bury-children", "south-tyneside") else "adults",
        "case_reference": "CSC-204518", "other_agency": "the other agency's team", "category": "risk",
        "summary": "The risk was judged lower than the evidence shows.", "desired_outcome": "A multi-agency meeting.",
        "evidence": "skip", "my_agency": "Health visiting", "my_role": "Health visitor",
    }  # fmt: skip
    slots.update(overrides)
    return slots


def responses(turn) -> list[str]:
    return [reply.response for reply in turn.replies]


def test_the_form_asks_only_what_is_missing(desk):
    assert desk.form_slots_needed(ME, {}) == [
        "partnership", "subject", "case_reference", "other_agency", "category", "summary",
        "desired_outcome", "evidence", "my_agency", "my_role",
    ]  # fmt: skip
    assert desk.form_slots_needed(ME, {"partnership": "warrington-adults"})[:1] == ["case_reference"]
    desk.open(ME, form("warrington-adults"))
    assert "my_agency" not in desk.form_slots_needed(ME, {"partnership": "warrington-adults"})


@pytest.mark.parametrize("partnership", PARTNERSHIPS)
def test_open_walk_and_resolve_for_every_partnership(desk, library, partnership):
    pack = library[partnership]
    opened = desk.open(ME, form(partnership))
    reference = opened.slots["escalation_ref"]
    assert opened.slots["has_record"] is True and opened.slots["stage"] == 0.0
    assert opened.replies[0].variables["stage_title"] == pack.stages[0].title
    for index in range(1, len(pack.stages)):
        moved = desk.advance(ME, {"escalation_ref": reference, "stage_outcome": "No agreement.", "key_points_in_writing": True, "outcome_kind": "not_resolved"})
        assert responses(moved)[:2] == ["utter_escalation_moved", "utter_stage"]
        assert moved.slots["stage"] == float(index)
    final = desk.advance(ME, {"escalation_ref": reference, "stage_outcome": "Still none.", "key_points_in_writing": False, "outcome_kind": "not_resolved"})
    assert responses(final) == ["utter_escalation_final"]
    closed = desk.advance(ME, {"escalation_ref": reference, "stage_outcome": "The panel decided.", "key_points_in_writing": True,
                               "outcome_for_person": "A plan is in place.", "outcome_kind": "resolved"})
    assert responses(closed) == ["utter_escalation_resolved", "utter_resolved"]
    assert closed.slots["has_record"] is False
    with desk.database.session() as session:
        escalation = store.find(session, reference=reference, person=None)
        assert escalation.status == "resolved"
        assert [s.key for s in escalation.stages] == [s.key for s in pack.stages]
        assert escalation.stages[-1].outcome == "The panel decided."  # the latest word on a stage
        assert escalation.outcome_for_person == "A plan is in place."


def test_no_timescale_asks_the_review_date_which_the_record_keeps(desk):
    opened = desk.open(ME, form("cambs-peterborough-adults"))
    assert responses(opened) == ["utter_escalation_opened", "utter_ask_review_date"]
    assert opened.replies[0].variables["due"] == "no due date yet: agree a review date"
    desk.set_review_date(ME, opened.slots["escalation_ref"], (NOW + timedelta(days=4)).date())
    with desk.database.session() as session:
        stage = store.find(session, reference=opened.slots["escalation_ref"], person=None).stages[0]
        assert (stage.due_on.isoformat(), stage.due_basis) == ("2026-11-27", "agreed_review")


def test_personal_data_and_bad_references_are_refused_with_a_reason(desk):
    kept, response, found = desk.check_text("summary", "Mum Kerry says the referral was refused")
    assert (kept, response, found) == (None, "utter_personal_data_found", "a name")
    kept, response, problem = desk.check_text("summary", "x" * 2500)
    assert kept is None and "2500 characters" in problem
    assert desk.check_text("evidence", "none yet") == ("skip", None, None)
    assert desk.check_text("summary", "I emailed bsp@bury.gov.uk about it")[0] is not None
    assert desk.check_case_reference("csc-204518") == ("CSC-204518", None)
    kept, problem = desk.check_case_reference("DOB 03/04/2015")
    assert kept is None and "date of birth" in problem


def test_list_show_and_someone_elses(desk):
    first = desk.open(ME, form("south-tyneside")).slots["escalation_ref"]
    listing = desk.list_mine(ME)
    assert responses(listing) == ["utter_escalations_list"]
    assert first in listing.replies[0].variables["lines"]
    assert listing.replies[0].buttons[0]["payload"] == '/show_escalation{"reference": "%s"}' % first
    shown = desk.show(ME, first.lower())
    assert "Before Stage 1: practitioner to practitioner: started Mon 23 Nov 2026, due Tue 24 Nov 2026" in shown.replies[0].variables["timeline"]
    with pytest.raises(store.NotYourEscalation):
        desk.show(Caller(channel="rest", sender="someone-else"), first)
    assert responses(desk.list_mine(Caller(channel="rest", sender="someone-else"))) == ["utter_no_escalations"]


def test_welcome_back_picks_up_the_open_record(desk):
    assert desk.welcome_back(ME).replies == []
    reference = desk.open(ME, form("bury-adults")).slots["escalation_ref"]
    back = desk.welcome_back(ME)
    assert responses(back) == ["utter_welcome_back"]
    assert back.slots["escalation_ref"] == reference and back.slots["has_record"] is True


def test_the_form_document_is_written_and_offered(desk):
    reference = desk.open(ME, form("bury-children")).slots["escalation_ref"]
    for _ in range(3):
        desk.advance(ME, {"escalation_ref": reference, "stage_outcome": "No agreement.", "key_points_in_writing": True, "outcome_kind": "not_resolved"})
    turn = desk.document(ME, reference)
    reply = turn.replies[0]
    assert reply.response == "utter_form_ready"
    assert reply.attachment["name"] == f"{reference}-request-for-resolution.docx"
    document = docx.Document(io.BytesIO(open(reply.attachment["path"], "rb").read()))
    text = "\n".join(cell.text for table in document.tables for row in table.rows for cell in row.cells)
    assert "CSC-204518" in text and "To be completed in your agency's secure system" in text
    with desk.database.session() as session:
        assert [e.action for e in store.audit_trail(session, reference=reference)][-1] == "document.produced"


def test_the_form_is_produced_at_the_stage_that_asks_for_it(desk):
    reference = desk.open(ME, form("south-tyneside")).slots["escalation_ref"]
    outcome = {"escalation_ref": reference, "stage_outcome": "No agreement.", "key_points_in_writing": True, "outcome_kind": "not_resolved"}
    to_stage_1 = desk.advance(ME, outcome)
    assert "utter_form_ready" not in responses(to_stage_1)
    to_stage_2 = desk.advance(ME, outcome)
    assert responses(to_stage_2)[-1] == "utter_form_ready"
    assert to_stage_2.replies[-1].attachment["name"] == f"{reference}-escalation-notification.docx"


def test_a_database_that_cannot_be_written_loses_nothing_and_says_so(desk, tmp_path):
    from sqlalchemy import create_engine
    from sqlalchemy.exc import OperationalError
    from sqlalchemy.orm import sessionmaker

    from bot.records.db import Database

    reference = desk.open(ME, form("bury-adults")).slots["escalation_ref"]
    # Root ignores file permissions, so the database is opened read-only instead.
    path = tmp_path / "var" / "records.db"
    engine = create_engine(f"sqlite:///file:{path}?mode=ro&uri=true", future=True)
    read_only = Desk(desk.assistant, Database(engine, sessionmaker(bind=engine, future=True)), desk.documents_dir)
    with pytest.raises(OperationalError, match="readonly database"):
        read_only.advance(ME, {"escalation_ref": reference, "stage_outcome": "x", "key_points_in_writing": True, "outcome_kind": "not_resolved"})
    engine.dispose()
    with desk.database.session() as session:
        escalation = store.find(session, reference=reference, person=None)
        assert [s.index for s in escalation.stages] == [0]  # unchanged, and still readable
        assert escalation.stages[0].outcome is None


# A message sent again after its answer was lost (a process killed once the record was written) ---


def trail(desk, reference: str) -> list[str]:
    with desk.database.session() as session:
        return [entry.action for entry in store.audit_trail(session, reference=reference)]


def test_the_same_answers_again_open_one_record(desk):
    first = desk.open(ME, form("south-tyneside"))
    again = desk.open(ME, form("south-tyneside"))
    assert responses(again) == ["utter_escalation_already_open"]
    assert again.slots["escalation_ref"] == first.slots["escalation_ref"] and again.slots["summary"] is None
    assert trail(desk, first.slots["escalation_ref"]) == ["escalation.opened"]
    # Another disagreement on the same case is another record.
    other = desk.open(ME, form("south-tyneside", summary="They will not share the health chronology."))
    assert responses(other)[0] == "utter_escalation_opened"
    assert other.slots["escalation_ref"] != first.slots["escalation_ref"]


def test_an_outcome_sent_again_moves_or_closes_the_record_once(desk):
    reference = desk.open(ME, form("south-tyneside")).slots["escalation_ref"]
    outcome = {"escalation_ref": reference, "stage": 0.0, "stage_outcome": "No agreement.", "key_points_in_writing": True,
               "outcome_kind": "not_resolved"}  # fmt: skip
    assert responses(desk.advance(ME, outcome))[0] == "utter_escalation_moved"
    again = desk.advance(ME, outcome)  # the conversation still says stage 0
    assert responses(again) == ["utter_escalation_already_moved"]
    assert again.replies[0].variables["where"].startswith("at Stage 1")
    assert again.slots["stage"] == 1.0 and again.slots["stage_outcome"] is None
    resolved = {**outcome, "stage": 1.0, "outcome_kind": "resolved", "outcome_for_person": "A plan is in place."}
    assert responses(desk.advance(ME, resolved))[0] == "utter_escalation_resolved"
    again = desk.advance(ME, resolved)
    assert again.replies[0].variables["where"] == "closed as resolved" and again.slots["has_record"] is False
    assert trail(desk, reference) == [
        "escalation.opened", "stage.recorded", "stage.escalated", "stage.recorded", "escalation.resolved",
    ]  # fmt: skip


def test_at_the_last_stage_the_same_outcome_again_adds_nothing(desk, library):
    reference = desk.open(ME, form("bury-children")).slots["escalation_ref"]
    last = len(library["bury-children"].stages) - 1
    for stage in range(last):
        desk.advance(ME, {"escalation_ref": reference, "stage": float(stage), "stage_outcome": f"No agreement at {stage}.",
                          "outcome_kind": "not_resolved"})  # fmt: skip
    final = {"escalation_ref": reference, "stage": float(last), "stage_outcome": "Still no agreement.",
             "key_points_in_writing": True, "outcome_kind": "not_resolved"}  # fmt: skip
    assert responses(desk.advance(ME, final))[0] == "utter_escalation_final"
    recorded = trail(desk, reference)
    assert responses(desk.advance(ME, final))[0] == "utter_escalation_final"
    assert trail(desk, reference) == recorded  # the same answers are no change


def test_more_time_agreed_again_is_recorded_once(desk):
    reference = desk.open(ME, form("south-tyneside")).slots["escalation_ref"]
    assert responses(desk.agree_more_time(ME, reference, "next Thursday")) == ["utter_more_time_noted"]
    assert responses(desk.agree_more_time(ME, reference, "next Thursday")) == ["utter_more_time_noted"]
    assert trail(desk, reference).count("stage.more_time") == 1
