"""The record actions and form validators, from tracker fixtures, on a real SQLite database."""

from __future__ import annotations

import asyncio

import pytest
from rasa_sdk.executor import CollectingDispatcher

from actions.base import desk
from actions.records import (
    ActionAdvanceEscalation,
    ActionAskStageOutcome,
    ActionListEscalations,
    ActionOpenEscalation,
    ValidateEscalationForm,
    ValidateOutcomeForm,
)
from tests.actions.conftest import run, tracker


@pytest.fixture(autouse=True)
def records_dir(monkeypatch, tmp_path):
    monkeypatch.setenv("BOT_VAR_DIR", str(tmp_path / "var"))
    desk.cache_clear()
    yield tmp_path / "var"
    desk.cache_clear()


FORM = {
    "partnership": "bury-adults", "subject": "adults", "case_reference": "ASC-10101", "other_agency": "ASC",
    "category": "risk", "summary": "The risk was judged low.", "desired_outcome": "A s42 enquiry.",
    "evidence": "skip", "my_agency": "District nursing", "my_role": "Nurse",
}  # fmt: skip


def slot_events(events) -> dict:
    return {e["name"]: e["value"] for e in events if e["event"] == "slot"}


def validate(action, slots: dict, requested: str, text: str, intent: str = "inform_category"):
    form_tracker = tracker(text, intent, slots={**slots, "requested_slot": requested})
    form_tracker.active_loop = {"name": action.name().replace("validate_", "")}
    form_tracker.events = [
        {"event": "user", "text": text},
        {"event": "slot", "name": requested, "value": text},
    ]
    form_tracker.slots[requested] = text
    dispatcher = CollectingDispatcher()
    events = asyncio.run(action.run(dispatcher, form_tracker, {"forms": {}, "slots": {}}))
    return slot_events(events), dispatcher.messages


def test_a_name_in_the_summary_is_refused_and_asked_again():
    slots, messages = validate(ValidateEscalationForm(), {"partnership": "bury-adults"}, "summary", "Mr Okafor was refused a service")
    assert slots["summary"] is None
    assert messages[0]["response"] == "utter_personal_data_found" and messages[0]["found"] == "a name"


def test_a_case_reference_is_normalised_or_explained():
    slots, _ = validate(ValidateEscalationForm(), {"partnership": "bury-adults"}, "case_reference", "asc-10101")
    assert slots["case_reference"] == "ASC-10101"
    slots, messages = validate(ValidateEscalationForm(), {"partnership": "bury-adults"}, "case_reference", "the one from tuesday")
    assert slots["case_reference"] is None
    assert "agency's own number for the case" in messages[0]["problem"]


def test_only_missing_questions_are_asked():
    slots, _ = validate(ValidateEscalationForm(), dict(FORM, my_role=None), "my_role", "Nurse")
    assert slots["my_role"] == "Nurse"
    assert slots["requested_slot"] is None  # everything else was already known


def test_immediate_risk_makes_the_form_step_aside():
    from rasa_sdk.interfaces import ActionExecutionRejection

    with pytest.raises(ActionExecutionRejection):
        validate(ValidateOutcomeForm(), {"outcome_kind": "not_resolved"}, "stage_outcome", "he has a knife and is at the door", intent="immediate_risk")


def test_open_then_advance_through_the_actions(records_dir):
    events, messages = run(ActionOpenEscalation(), tracker("", "affirm", slots=FORM))
    opened = slot_events(events)
    assert messages[0]["response"] == "utter_escalation_opened"
    assert opened["has_record"] is True and opened["summary"] is None  # the form's answers are cleared
    outcome = {"escalation_ref": opened["escalation_ref"], "has_record": True, "stage_outcome": "No agreement.",
               "other_agency_position": "They stand by it.", "key_points_in_writing": True, "outcome_kind": "not_resolved"}
    events, messages = run(ActionAdvanceEscalation(), tracker("", "affirm", slots=outcome))
    assert [m["response"] for m in messages][:2] == ["utter_escalation_moved", "utter_stage"]
    assert slot_events(events)["stage"] == 1.0


def test_an_unwritable_database_gives_a_sentence(records_dir, monkeypatch):
    events, _ = run(ActionOpenEscalation(), tracker("", "affirm", slots=FORM))
    reference = slot_events(events)["escalation_ref"]
    monkeypatch.setenv("BOT_DATABASE_URL", f"sqlite:///file:{records_dir / 'records.db'}?mode=ro&uri=true")
    desk.cache_clear()
    outcome = {"escalation_ref": reference, "has_record": True, "stage_outcome": "x", "other_agency_position": "y",
               "key_points_in_writing": True, "outcome_kind": "not_resolved"}
    events, messages = run(ActionAdvanceEscalation(), tracker("", "affirm", slots=outcome))
    assert events == []
    assert [m["response"] for m in messages] == ["utter_records_unavailable_outcome"]


def stored(records_dir) -> list[tuple[str, list[int], list[str]]]:
    """Every record in the test's database: reference, stage indexes, audit trail."""
    from bot.config import Settings
    from bot.records import store
    from bot.records.db import open_database
    from bot.records.models import Escalation

    database = open_database(Settings.from_env({"BOT_VAR_DIR": str(records_dir)}))
    try:
        with database.session() as session:
            return [
                (e.reference, [s.index for s in e.stages], [a.action for a in store.audit_trail(session, reference=e.reference)])
                for e in session.query(Escalation).order_by(Escalation.id)
            ]
    finally:
        database.dispose()


def responses(messages) -> list[str]:
    return [m["response"] for m in messages]


# A message sent again after its answer was lost (a process killed after the record was written) ---


def test_the_form_sent_again_opens_one_record(records_dir):
    first, _ = run(ActionOpenEscalation(), tracker("", "affirm", slots=FORM))
    again, messages = run(ActionOpenEscalation(), tracker("", "affirm", slots=FORM))
    # Bury adults sets no timescale: as when it was opened, the review date is asked.
    assert responses(messages) == ["utter_escalation_already_open", "utter_ask_review_date"]
    reference = slot_events(first)["escalation_ref"]
    assert slot_events(again)["escalation_ref"] == reference and slot_events(again)["summary"] is None
    assert stored(records_dir) == [(reference, [0], ["escalation.opened"])]


def test_a_stage_sent_again_moves_the_record_once(records_dir):
    reference = slot_events(run(ActionOpenEscalation(), tracker("", "affirm", slots=FORM))[0])["escalation_ref"]
    outcome = {"escalation_ref": reference, "has_record": True, "stage": 0.0, "stage_outcome": "No agreement.",
               "other_agency_position": "They stand by it.", "key_points_in_writing": True, "outcome_kind": "not_resolved"}
    run(ActionAdvanceEscalation(), tracker("", "affirm", slots=outcome))
    # The conversation never heard the answer: it still says stage 0, and sends the same again.
    events, messages = run(ActionAdvanceEscalation(), tracker("", "affirm", slots=outcome))
    assert responses(messages) == ["utter_escalation_already_moved"]
    assert messages[0]["where"].startswith("at Step 2: Discussion between Line Managers")
    assert slot_events(events)["stage"] == 1.0 and slot_events(events)["stage_outcome"] is None
    assert stored(records_dir) == [(reference, [0, 1], ["escalation.opened", "stage.recorded", "stage.escalated"])]


# The records database down ----------------------------------------------------------------------

DOWN = "postgresql://bot@127.0.0.1:9/records"  # nothing listens on loopback's discard port: refused at once


@pytest.fixture
def database_down(monkeypatch):
    """The records database unreachable until the test calls the fixture's value (back to SQLite)."""
    monkeypatch.setenv("BOT_DATABASE_URL", DOWN)
    desk.cache_clear()
    return lambda: monkeypatch.delenv("BOT_DATABASE_URL")


def test_opening_while_the_database_is_down_saves_nothing_and_works_once_it_is_back(records_dir, database_down):
    events, messages = run(ActionOpenEscalation(), tracker("", "affirm", slots=FORM))
    assert events == []  # the form's answers stay in the conversation, to be saved later
    assert responses(messages) == ["utter_records_unavailable_open"]
    database_down()  # back: nothing to restart
    events, messages = run(ActionOpenEscalation(), tracker("", "affirm", slots=FORM))
    assert responses(messages)[0] == "utter_escalation_opened"
    assert [(r, s) for r, s, _ in stored(records_dir)] == [(slot_events(events)["escalation_ref"], [0])]


def test_moving_a_stage_while_the_database_is_down_saves_nothing_and_works_once_it_is_back(records_dir, monkeypatch):
    reference = slot_events(run(ActionOpenEscalation(), tracker("", "affirm", slots=FORM))[0])["escalation_ref"]
    monkeypatch.setenv("BOT_DATABASE_URL", DOWN)
    desk.cache_clear()
    outcome = {"escalation_ref": reference, "has_record": True, "stage": 0.0, "stage_outcome": "No agreement.",
               "other_agency_position": "They stand by it.", "key_points_in_writing": True, "outcome_kind": "not_resolved"}
    events, messages = run(ActionAdvanceEscalation(), tracker("", "affirm", slots=outcome))
    assert events == [] and responses(messages) == ["utter_records_unavailable_outcome"]
    assert stored(records_dir)[0][1] == [0]
    monkeypatch.delenv("BOT_DATABASE_URL")
    events, messages = run(ActionAdvanceEscalation(), tracker("", "affirm", slots=outcome))
    assert responses(messages)[0] == "utter_escalation_moved"
    assert stored(records_dir)[0][1] == [0, 1]


def test_the_escalation_form_goes_on_while_the_database_is_down(database_down):
    known = {"partnership": "bury-adults", "subject": "adults", "case_reference": "ASC-10101", "other_agency": "ASC",
             "category": "risk"}
    slots, messages = validate(ValidateEscalationForm(), known, "summary", "The risk was judged low.")
    assert messages == [] and slots["summary"] == "The risk was judged low."
    assert slots["requested_slot"] == "desired_outcome"
    # Who the practitioner is cannot be read, so their agency and role are asked at the end.
    slots, _ = validate(ValidateEscalationForm(), {**FORM, "my_agency": None, "my_role": None}, "evidence", "skip")
    assert slots["requested_slot"] == "my_agency"


def test_the_stage_outcome_is_asked_while_the_database_is_down(database_down):
    _, messages = run(ActionAskStageOutcome(), tracker("not resolved", "not_resolved", slots={"escalation_ref": "ESC-ABC123", "has_record": True}))
    assert responses(messages) == ["utter_ask_stage_outcome"] and messages[0]["stage_title"] == "this stage"


def test_my_escalations_while_the_database_is_down_is_a_sentence(database_down):
    events, messages = run(ActionListEscalations(), tracker("my escalations", "my_escalations"))
    assert events == [] and responses(messages) == ["utter_records_unavailable"]


def test_a_connection_lost_during_commit_is_said_as_uncertain_and_sending_again_saves_once(records_dir, monkeypatch):
    from sqlalchemy import event
    from sqlalchemy.exc import OperationalError
    from sqlalchemy.orm import Session

    lost = []

    def connection_lost_after_the_commit(session):
        # The server committed; the answer to COMMIT never came back.
        if not lost:
            lost.append(True)
            raise OperationalError("COMMIT", {}, Exception("server closed the connection unexpectedly"))

    event.listen(Session, "after_commit", connection_lost_after_the_commit)
    try:
        events, messages = run(ActionOpenEscalation(), tracker("", "affirm", slots=FORM))
    finally:
        event.remove(Session, "after_commit", connection_lost_after_the_commit)
    assert events == [] and responses(messages) == ["utter_records_uncertain"]
    assert len(stored(records_dir)) == 1  # it was saved, and the sentence did not say otherwise
    events, messages = run(ActionOpenEscalation(), tracker("", "affirm", slots=FORM))
    assert len(stored(records_dir)) == 1  # sent again: still one record
    assert "ESC-" in " ".join(str(m) for m in messages)
