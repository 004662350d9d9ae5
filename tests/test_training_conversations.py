"""Asking, training and a real worry, through the running assistant."""

from __future__ import annotations

import pytest

from tests.serving import new_sender, replies, say, slots

pytestmark = pytest.mark.server


def buttons(sender: str, message: str) -> tuple[str, list[dict]]:
    sent = replies(sender, message)
    return "\n".join(r.get("text") or "" for r in sent), [b for r in sent for b in r.get("buttons") or []]


def test_factual_questions_are_answered_from_the_pack_with_sources(server):
    sender = new_sender()
    answer = say(sender, "how long does level 2 take in bury children's partnership?")
    assert answer.startswith("Bury children: Level 2: Line Manager to Line Manager: Within one week.")
    assert "Source: Bury children procedure (001_a704d4c7fdc83123.txt)" in answer
    assert slots(sender)["route"] in (None, "other")
    email = say(sender, "who do I email at the partnership?")
    assert "bsp@bury.gov.uk" in email
    both = say(sender, "is it the same in south tyneside?")
    assert "Bury children:" in both and "South Tyneside:" in both


def test_a_question_without_a_partnership_asks_for_it_first(server):
    sender = new_sender()
    asked = say(sender, "what's the overall time limit for escalations?")
    assert "Which safeguarding partnership" in asked
    answer = say(sender, '/choose_partnership{"partnership": "south-tyneside"}')
    assert "within a maximum of 5 working days" in answer


def test_a_quiz_immediate_risk_in_the_middle_and_no_record(server):
    sender = new_sender()
    say(sender, '/choose_partnership{"partnership": "warrington-adults"}')
    text, options = buttons(sender, "train me on the escalation procedure")
    assert "Level 3 training on the Warrington Safeguarding Adults Board procedure" in text
    assert slots(sender)["training_active"] is True
    text, _ = buttons(sender, options[0]["payload"])
    assert text.startswith(("Right.", "Not quite"))
    risk = say(sender, "sorry, real life: a resident has collapsed and the carer has locked the door, he's not breathing properly")
    assert risk.startswith("🚨 • If anyone is in immediate danger, call the police on 999 now.")
    refused = say(sender, "/open_record")
    assert "In training mode nothing is recorded" in refused
    stopped = say(sender, "stop the quiz")
    assert "Training stopped" in stopped
    assert slots(sender)["training_active"] is False


def test_the_seven_minute_briefing_one_step_at_a_time(server):
    sender = new_sender()
    say(sender, '/choose_partnership{"partnership": "cambs-peterborough-adults"}')
    first = say(sender, "give me the 7 minute briefing")
    assert first.startswith("7-minute briefing (1/4), Cambridgeshire & Peterborough: Background")
    second = say(sender, "/continue_briefing")
    assert "(2/4)" in second and "Why it matters" in second
