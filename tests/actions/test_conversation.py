"""The custom actions: events returned and messages sent, from tracker fixtures."""

from __future__ import annotations

from actions.conversation import (
    ActionBriefing,
    ActionContinue,
    ActionNextStage,
    ActionAnswerQuestion,
    ActionSetReviewDate,
    ActionStageResolved,
    ActionStartOver,
    ActionTriage,
)
from actions.validation import ValidateSlotMappings
from tests.actions.conftest import run, tracker


def slot_events(events) -> dict:
    return {e["name"]: e["value"] for e in events if e["event"] == "slot"}


def test_triage_of_a_disagreement_sets_the_route_and_asks_the_partnership():
    events, messages = run(ActionTriage(), tracker("CSC closed it and I disagree", "professional_disagreement"))
    assert slot_events(events)["route"] == "disagreement"
    assert [m["response"] for m in messages] == ["utter_ask_partnership"]
    assert len(messages[0]["buttons"]) == 5


def test_triage_of_immediate_risk_answers_with_999_at_once():
    events, messages = run(ActionTriage(), tracker("he has a knife and is at the door", "immediate_risk"))
    assert slot_events(events)["route"] == "immediate_risk"
    assert messages[0]["response"] == "utter_immediate_risk"
    assert "999" in messages[0]["lines"].splitlines()[0]


def test_choosing_a_partnership_starts_the_walk_with_the_stage_and_due_date():
    events, messages = run(
        ActionContinue(),
        tracker("/choose_partnership", "choose_partnership", slots={"route": "disagreement", "partnership": "bury-children"}),
    )
    slots = slot_events(events)
    assert slots["stage"] == 0.0
    assert slots["stage_started_at"] == "2026-11-23T10:00:00+00:00"
    assert messages[0]["response"] == "utter_stage"
    assert messages[0]["stage_title"] == "Level 1: Practitioner to Practitioner"
    assert "by Mon 7 Dec 2026" in messages[0]["timescale"]


def test_not_resolved_moves_to_the_next_stage():
    slots = {"route": "disagreement", "partnership": "south-tyneside", "stage": 1.0,
             "stage_started_at": "2026-11-23T10:00:00+00:00", "escalation_started_at": "2026-11-23T10:00:00+00:00"}
    events, messages = run(ActionNextStage(), tracker("no joy", "not_resolved", slots=slots))
    assert slot_events(events)["stage"] == 2.0
    assert messages[0]["stage_title"].startswith("Stage 2 – Escalation and Resolution")
    assert "by Mon 30 Nov 2026 for the whole escalation" in messages[0]["timescale"]


def test_review_date_action_reads_the_message_text():
    slots = {"route": "disagreement", "partnership": "bury-adults", "stage": 0.0, "stage_started_at": "2026-11-23T10:00:00+00:00"}
    events, messages = run(ActionSetReviewDate(), tracker("we said 4th dec", "inform_date", slots=slots))
    assert slot_events(events)["review_date"] == "2026-12-04"
    assert messages[0]["response"] == "utter_review_date_noted"


def test_resolved_overview_out_of_scope_and_start_over():
    slots = {"route": "disagreement", "partnership": "warrington-adults", "stage": 2.0, "stage_started_at": "2026-11-23T10:00:00+00:00"}
    events, messages = run(ActionStageResolved(), tracker("sorted", "resolved", slots=slots))
    assert messages[0]["response"] == "utter_resolved" and slot_events(events)["stage"] is None
    _, messages = run(ActionAnswerQuestion(), tracker("how many stages", "ask_procedure", slots={"partnership": "warrington-adults"}))
    assert messages[0]["response"] == "utter_answer"
    assert messages[0]["answer"].startswith("The Warrington procedure has 4 stages")
    events, messages = run(ActionTriage(), tracker("book me a table", "out_of_scope"))
    assert slot_events(events) == {"route": "other"} and messages[0]["response"] == "utter_out_of_scope"
    events, messages = run(ActionStartOver(), tracker("start again", "start_over", slots=slots))
    assert slot_events(events)["route"] is None and "partnership" not in slot_events(events)


def test_a_question_the_nlu_took_unsure_for_a_command_is_answered_instead():
    slots = {"partnership": "warrington-adults"}
    _, messages = run(ActionStageResolved(), tracker("how long have we got to resolve a dispute?", "resolved", 0.56, slots=slots))
    assert [m["response"] for m in messages] == ["utter_answer"]
    assert "within the shortest timescale possible" in messages[0]["answer"]
    _, messages = run(ActionBriefing(), tracker("Why was this briefing written?", "briefing", 0.6, slots={"partnership": "bury-adults"}))
    assert [m["response"] for m in messages] == ["utter_answer"]
    assert "recurrent theme within Safeguarding Adult Reviews" in messages[0]["answer"]
    # A fragment in the procedure's words is a question too, but never for "resolved".
    _, messages = run(ActionBriefing(), tracker("debrief for staff", "briefing", 0.43, slots={"partnership": "warrington-adults"}))
    assert [m["response"] for m in messages] == ["utter_answer"] and "opportunities to debrief" in messages[0]["answer"]
    # The command itself, said surely or as a request, or from a button, is the command.
    walking = {**slots, "route": "disagreement", "stage": 1.0, "stage_started_at": "2026-11-23T10:00:00+00:00"}
    for text, confidence in (
        ("how long have we got to resolve a dispute?", 0.95), ("we sorted it, what now?", 0.6), ("/resolved", 0.6),
        ("resolved at stage 2", 0.6),
    ):  # fmt: skip
        _, messages = run(ActionStageResolved(), tracker(text, "resolved", confidence, slots=walking))
        assert messages[0]["response"] == "utter_resolved", text


def test_a_failure_inside_an_action_gives_a_sentence(monkeypatch):
    monkeypatch.setenv("BOT_PACKS_DIR", "/nonexistent/packs")
    from actions.base import assistant

    assistant.cache_clear()
    events, messages = run(ActionTriage(), tracker("disagree with MASH", "professional_disagreement"))
    assert events == []
    assert [m["response"] for m in messages] == ["utter_something_went_wrong"]


def _validation_tracker(slots: dict, events: list) -> object:
    return tracker("text", "choose_partnership", slots=slots, events=events)


def test_validation_maps_names_to_ids_and_keeps_a_known_partnership():
    domain = {"slots": {"partnership": {}, "subject": {}}}
    user = {"event": "user", "text": "x"}
    set_bury = {"event": "slot", "name": "partnership", "value": "Bury"}
    events, _ = run(ValidateSlotMappings(), _validation_tracker({"partnership": "Bury"}, [user, set_bury]), domain)
    assert slot_events(events) == {"partnership": None, "partnership_options": ["bury-adults", "bury-children"]}

    child = {"event": "slot", "name": "subject", "value": "child"}
    events, _ = run(ValidateSlotMappings(), _validation_tracker({"partnership": "Bury", "subject": "child"}, [user, set_bury, child]), domain)
    assert slot_events(events) == {"partnership": "bury-children", "partnership_options": None, "subject": "children"}

    earlier = {"event": "slot", "name": "partnership", "value": "bury-children"}
    events, _ = run(ValidateSlotMappings(), _validation_tracker({"partnership": "Bury"}, [earlier, user, set_bury]), domain)
    assert slot_events(events)["partnership"] == "bury-children"

    leeds = {"event": "slot", "name": "partnership", "value": "leeds"}
    events, _ = run(ValidateSlotMappings(), _validation_tracker({"partnership": "leeds"}, [earlier, user, leeds]), domain)
    assert slot_events(events)["partnership"] == "bury-children"
