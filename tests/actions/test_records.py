"""The record actions and form validators, from tracker fixtures, on a real SQLite database."""

from __future__ import annotations

import asyncio

import pytest
from rasa_sdk.executor import CollectingDispatcher

from actions.base import desk
from actions.records import ActionAdvanceEscalation, ActionOpenEscalation, ValidateEscalationForm, ValidateOutcomeForm
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
    assert [m["response"] for m in messages] == ["utter_records_unavailable"]
