"""Whole conversations through the running assistant: the trained model, the Rasa server with its
REST channel and HTTP API, and the action server, started as `make serve` starts them.

The clock is frozen (BOT_NOW) on Monday 23 November 2026, 10:00, so due dates are fixed.
"""

from __future__ import annotations

import io

import pytest

from bot.chat import chat
from tests.conftest import PARTNERSHIPS
from tests.serving import URL, new_sender, say, slots

pytestmark = pytest.mark.server

@pytest.mark.parametrize(
    "message, route",
    [
        ("MASH have said it doesn't meet threshold and I think they're wrong, how do I challenge it", "disagreement"),
        ("adult social care closed the safeguarding concern without speaking to my patient and I don't agree", "disagreement"),
        ("the boy has just told me his dad will beat him when he gets home tonight", "immediate_risk"),
        ("an elderly lady with dementia is locked out in the cold and her carer has gone", "immediate_risk"),
        ("a teaching assistant has been messaging a year 10 pupil on snapchat late at night", "conduct"),
        ("one of the night carers is rough with residents and swears at them", "conduct"),
    ],
)
def test_a_worry_sets_the_route(server, message, route):
    sender = new_sender()
    say(sender, message)
    assert slots(sender)["route"] == route


def test_immediate_risk_answers_999_first(server):
    sender = new_sender()
    reply = say(sender, "a toddler has been left on her own in the flat and mum isn't answering")
    assert reply.startswith("🚨 • If anyone is in immediate danger, call the police on 999 now.")
    assert "must never delay it" in reply
    assert slots(sender)["route"] == "immediate_risk"


def test_a_message_with_no_worry_is_other(server):
    sender = new_sender()
    reply = say(sender, "what's a good recipe for banana bread")
    assert slots(sender)["route"] in (None, "other")
    assert "can't help with that" in reply


@pytest.mark.parametrize("partnership", PARTNERSHIPS)
def test_choosing_a_partnership_by_button_sets_the_id(server, partnership):
    sender = new_sender()
    say(sender, '/choose_partnership{"partnership": "%s"}' % partnership)
    assert slots(sender)["partnership"] == partnership


def test_a_typed_partnership_name_becomes_its_id(server):
    sender = new_sender()
    say(sender, "we are under warrington safeguarding adults board")
    assert slots(sender)["partnership"] == "warrington-adults"


def test_walk_south_tyneside_to_the_final_stage(server, library):
    pack = library["south-tyneside"]
    sender = new_sender()
    asked = say(sender, "the other agency's manager won't accept our view on the risk, I disagree with their decision")
    assert "Which safeguarding partnership" in asked
    first = say(sender, '/choose_partnership{"partnership": "south-tyneside"}')
    assert first.startswith(pack.stages[0].title)
    assert "within one working day: by Tue 24 Nov 2026" in first
    assert "Source: South Tyneside procedure (004_0a1c27d958957785.txt), 4. Timescales" in first
    for stage in pack.stages[1:]:
        reply = say(sender, "/not_resolved")
        assert reply.startswith(stage.title)
    assert "Appendix A" not in reply and "STSCP Chair / STSAB Independent Chair" in reply
    assert "by Mon 30 Nov 2026 for the whole escalation" in reply
    beyond = say(sender, "/not_resolved")
    assert "is the last stage of the South Tyneside procedure" in beyond
    assert slots(sender)["stage"] == 4.0


def test_walk_with_typed_updates_and_a_review_date(server):
    sender = new_sender()
    say(sender, "warrington")
    first = say(sender, "ASC won't open a section 42 enquiry and I think it meets the criteria, I disagree with them")
    assert first.startswith("Stage 1: Conversation between professionals")
    assert "The Warrington procedure sets no number of days" in first
    assert "Shall I open an escalation record" in first
    noted = say(sender, "we agreed to review it on friday")
    assert "Fri 27 Nov 2026" in noted
    assert slots(sender)["review_date"] == "2026-11-27"
    second = say(sender, "spoke to them again, still not resolved")
    assert second.startswith("Stage 2: Manager to equivalent manager")
    assert "What review date have you agreed?" in second


def test_immediate_risk_interrupts_a_walk_and_the_walk_resumes(server):
    sender = new_sender()
    say(sender, '/choose_partnership{"partnership": "bury-children"}')
    say(sender, "/professional_disagreement")
    say(sender, "/not_resolved")
    risk = say(sender, "wait, the child has just turned up at school with burns on her arms and says mum did it this morning")
    assert risk.startswith("🚨 • If anyone is in immediate danger, call the police on 999 now.")
    assert "MASH" in risk
    assert "your escalation is still at Level 2: Line Manager to Line Manager" in risk
    assert slots(sender)["route"] == "immediate_risk"
    resumed = say(sender, "/not_resolved")
    assert resumed.startswith("Level 3: Head of Service to Head of Service")


def test_conduct_about_a_child_goes_to_allegations_management(server):
    sender = new_sender()
    say(sender, '/choose_partnership{"partnership": "south-tyneside"}')
    asked = say(sender, "/conduct_concern")
    assert "child (under 18) or an adult" in asked
    answer = say(sender, '/inform_subject{"subject": "children"}')
    assert "Allegations Management Process" in answer
    assert "Source: South Tyneside procedure (004_0a1c27d958957785.txt), 1. Introduction" in answer


def test_the_terminal_chat_presses_buttons_by_number(server):
    typed = iter(["i disagree with the police decision to NFA, what do i do", "9", "2", "/quit"])
    out = io.StringIO()
    chat(URL, sender=new_sender(), read=lambda prompt: next(typed), out=out)
    text = out.getvalue()
    assert "[2] Bury children" in text
    assert "(Type a number from 1 to 5 to press a button, or type a message.)" in text
    assert "bot> Level 1: Practitioner to Practitioner (Level 1 of 4)" in text
