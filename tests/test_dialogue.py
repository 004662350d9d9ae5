"""The turn logic: replies and slot changes for each route, partnership and stage."""

from __future__ import annotations

import json

import pytest

from bot.clock import frozen_clock
from bot.dialogue import Assistant, State, Turn
from bot.triage import Thresholds
from tests.conftest import PARTNERSHIPS, london

NOW = london(2026, 11, 23, 10)  # Monday


@pytest.fixture
def assistant(library) -> Assistant:
    return Assistant(library, frozen_clock(NOW), Thresholds())


def sure(intent: str, confidence: float = 0.95):
    top = {"name": intent, "confidence": confidence}
    return top, [top, {"name": "out_of_scope", "confidence": (1 - confidence) / 2}]


def ranked(*scores: tuple[str, float]) -> tuple[dict, list[dict]]:
    """The top intent and the ranking of an NLU reading, from (intent, confidence) pairs."""
    ranking = [{"name": name, "confidence": confidence} for name, confidence in scores]
    return ranking[0], ranking


def responses(turn) -> list[str]:
    return [reply.response for reply in turn.replies]


def test_a_disagreement_without_partnership_asks_with_buttons(assistant):
    turn = assistant.triage(State(), *sure("professional_disagreement"))
    assert turn.slots["route"] == "disagreement"
    assert responses(turn) == ["utter_ask_partnership"]
    payloads = [button["payload"] for button in turn.replies[0].buttons]
    assert payloads == [
        '/choose_partnership{"partnership": "%s"}' % pid for pid in sorted(PARTNERSHIPS)
    ]
    assert turn.slots["awaiting"] == "partnership"


def test_partnership_buttons_are_narrowed_by_subject(assistant):
    turn = assistant.triage(State(subject="children"), *sure("professional_disagreement"))
    titles = [button["title"] for button in turn.replies[0].buttons]
    assert titles == ["Bury children", "South Tyneside"]
    ambiguous = assistant.proceed(State(route="disagreement", partnership_options=("bury-adults", "bury-children")))
    assert responses(ambiguous) == ["utter_ask_which_partnership"]
    assert [b["title"] for b in ambiguous.replies[0].buttons] == ["Bury adults", "Bury children"]


@pytest.mark.parametrize("partnership", PARTNERSHIPS)
def test_a_disagreement_walks_every_stage_to_the_final_body(assistant, library, partnership):
    pack = library[partnership]
    state = State(route="disagreement", partnership=partnership)
    turn = assistant.proceed(state)
    assert turn.slots["stage"] == 0.0
    assert turn.slots["stage_started_at"] == NOW.isoformat()
    assert turn.replies[0].response == "utter_stage"
    assert turn.replies[0].variables["stage_title"] == pack.stages[0].title
    for index in range(1, len(pack.stages)):
        state = State.from_slots({**_slots(state), **turn.slots})
        turn = assistant.next_stage(state)
        assert turn.slots["stage"] == float(index)
        stage_reply = turn.replies[0]
        assert stage_reply.variables["stage_title"] == pack.stages[index].title
        assert pack.stages[index].source.section in stage_reply.variables["sources"]
    assert "This is the final stage" in turn.replies[0].variables["next_step"]
    state = State.from_slots({**_slots(state), **turn.slots})
    beyond = assistant.next_stage(state)
    assert responses(beyond) == ["utter_final_stage_reached"]
    assert beyond.replies[0].variables["final_body"] == pack.final_body.name
    assert "stage" not in beyond.slots


def _slots(state: State) -> dict:
    return {
        "route": state.route,
        "partnership": state.partnership,
        "subject": state.subject,
        "stage": state.stage,
        "stage_started_at": state.stage_started_at.isoformat() if state.stage_started_at else None,
        "escalation_started_at": state.escalation_started_at.isoformat() if state.escalation_started_at else None,
        "review_date": state.review_date.isoformat() if state.review_date else None,
    }


def test_the_first_stage_offers_a_record(assistant):
    turn = assistant.proceed(State(route="disagreement", partnership="warrington-adults"))
    assert responses(turn) == ["utter_stage", "utter_offer_record"]
    with_record = assistant.proceed(State(route="disagreement", partnership="bury-children", has_record=True))
    assert responses(with_record) == ["utter_stage"]


def test_no_timescale_asks_for_the_review_date_which_becomes_due(assistant):
    first = assistant.proceed(State(route="disagreement", partnership="warrington-adults"))
    state = State.from_slots({"route": "disagreement", "partnership": "warrington-adults", **first.slots})
    turn = assistant.next_stage(state)
    assert responses(turn) == ["utter_stage", "utter_ask_review_date"]
    assert turn.slots["awaiting"] == "review_date"
    state = State.from_slots({"route": "disagreement", "partnership": "warrington-adults", **turn.slots})
    noted = assistant.review_date(state, "we agreed to review on friday")
    assert noted.slots["review_date"] == "2026-11-27"
    assert responses(noted) == ["utter_review_date_noted"]
    assert noted.replies[0].variables["date"] == "Fri 27 Nov 2026"


def test_a_review_date_in_the_past_or_unreadable_is_asked_again(assistant):
    state = State(route="disagreement", partnership="bury-adults", stage=0, stage_started_at=NOW)
    assert responses(assistant.review_date(state, "20/11/2026")) == ["utter_review_date_past"]
    assert responses(assistant.review_date(state, "soonish")) == ["utter_ask_review_date_again"]
    weekend = assistant.review_date(state, "saturday")
    assert responses(weekend) == ["utter_review_date_noted", "utter_review_date_not_working_day"]


def test_a_review_date_after_the_procedures_own_date_is_flagged(assistant):
    state = State(route="disagreement", partnership="south-tyneside", stage=1, stage_started_at=NOW, escalation_started_at=NOW)
    turn = assistant.review_date(state, "4/12")
    assert responses(turn) == ["utter_review_date_noted", "utter_review_date_later_than_procedure"]
    assert turn.replies[1].variables["due"] == "Tue 24 Nov 2026"


def test_immediate_risk_comes_first_and_needs_no_partnership(assistant):
    turn = assistant.triage(State(), *sure("immediate_risk", 0.9))
    assert turn.slots["route"] == "immediate_risk"
    assert responses(turn) == ["utter_immediate_risk"]
    assert turn.replies[0].variables["lines"].startswith("• If anyone is in immediate danger, call the police on 999 now.")


def test_immediate_risk_mid_walk_keeps_the_stage(assistant):
    state = State(route="disagreement", partnership="bury-children", stage=1, stage_started_at=NOW, escalation_started_at=NOW)
    turn = assistant.triage(state, *sure("immediate_risk", 0.51))
    assert responses(turn) == ["utter_immediate_risk", "utter_walk_paused"]
    assert "MASH" in turn.replies[0].variables["lines"]
    assert "stage" not in turn.slots
    assert turn.replies[1].variables["stage_title"] == "Level 2: Line Manager to Line Manager"


def test_conduct_asks_child_or_adult_then_answers(assistant):
    turn = assistant.triage(State(), *sure("conduct_concern"))
    assert turn.slots["route"] == "conduct"
    assert responses(turn) == ["utter_ask_subject"]
    assert [b["payload"] for b in turn.replies[0].buttons] == [
        '/inform_subject{"subject": "children"}',
        '/inform_subject{"subject": "adults"}',
    ]
    child = assistant.proceed(State(route="conduct", subject="children"))
    assert responses(child) == ["utter_conduct", "utter_ask_partnership_for_contacts"]
    assert "LADO" in child.replies[0].variables["lines"]


def test_conduct_for_an_adults_partnership_needs_no_question(assistant):
    turn = assistant.triage(State(partnership="bury-adults"), *sure("conduct_concern"))
    assert responses(turn) == ["utter_conduct", "utter_partnership_contacts"]
    assert "PIPOT" in turn.replies[0].variables["lines"]
    assert "BSP@bury.gov.uk" in turn.replies[1].variables["contacts"]


def test_unsure_asks_one_clarifying_question(assistant):
    ranking = [
        {"name": "professional_disagreement", "confidence": 0.45},
        {"name": "conduct_concern", "confidence": 0.4},
        {"name": "immediate_risk", "confidence": 0.1},
    ]
    turn = assistant.triage(State(), ranking[0], ranking)
    assert responses(turn) == ["utter_ask_route"]
    payloads = [b["payload"] for b in turn.replies[0].buttons]
    assert payloads == ["/professional_disagreement", "/conduct_concern", "/immediate_risk", "/help"]
    assert turn.slots["route"] == "disagreement"


def test_unsure_with_plausible_risk_says_999_before_asking(assistant):
    ranking = [
        {"name": "professional_disagreement", "confidence": 0.45},
        {"name": "immediate_risk", "confidence": 0.3},
    ]
    turn = assistant.triage(State(), ranking[0], ranking)
    assert responses(turn) == ["utter_emergency_first", "utter_ask_route"]
    assert "999" in turn.replies[0].variables["emergency"]
    assert turn.replies[0].variables["procedure"] == ""  # no partnership chosen: 999 alone


def test_unsure_with_plausible_risk_gives_the_partnerships_own_words_on_imminent_risk_after_999(assistant):
    ranking = [
        {"name": "professional_disagreement", "confidence": 0.45},
        {"name": "immediate_risk", "confidence": 0.3},
    ]
    turn = assistant.triage(State(partnership="cambs-peterborough-adults"), ranking[0], ranking)
    assert responses(turn) == ["utter_emergency_first", "utter_ask_route"]
    first = turn.replies[0].variables
    assert "999" in first["emergency"]
    assert "referred immediately to the Police/Social Care" in first["procedure"]
    assert "Source: Cambridgeshire & Peterborough procedure (003_c453dfc5e6d1359d.txt), 2. Key Principles" in first["procedure"]


def test_resolved_says_what_to_record(assistant, library):
    state = State(route="disagreement", partnership="cambs-peterborough-adults", stage=1, stage_started_at=NOW)
    turn = assistant.resolved(state)
    assert responses(turn) == ["utter_resolved"]
    assert library["cambs-peterborough-adults"].record_keeping[0].text in turn.replies[0].variables["record"]
    assert turn.slots["stage"] is None


def test_a_question_asks_for_the_partnership_first_then_is_answered(assistant):
    turn = assistant.question(State(), "how long does level 2 take?")
    assert responses(turn) == ["utter_ask_partnership"]
    assert turn.slots["awaiting"] == "overview" and turn.slots["pending_question"] == "how long does level 2 take?"
    after = assistant.proceed(State(partnership="bury-children", awaiting="overview", pending_question="how long does level 2 take?"))
    assert responses(after) == ["utter_answer"]
    assert after.replies[0].variables["answer"].startswith("Level 2: Line Manager to Line Manager: Within one week.")
    assert after.replies[0].variables["sources"].startswith("Source: Bury children procedure (001_a704d4c7fdc83123.txt)")


def test_a_compare_question_answers_for_both(assistant):
    turn = assistant.question(
        State(partnership="south-tyneside", pending_question="what's the overall time limit?"),
        "is it the same in south tyneside?",
        previous_partnership="bury-adults",
    )
    assert [r.variables["partnership"] for r in turn.replies] == ["Bury adults", "South Tyneside"]
    assert "sets no number of days" in turn.replies[0].variables["answer"]


def test_out_of_scope_sets_other_only_without_a_worry(assistant):
    turn = assistant.triage(State(), *sure("out_of_scope"))
    assert (turn.slots, responses(turn)) == ({"route": "other"}, ["utter_out_of_scope"])
    assert assistant.triage(State(route="disagreement"), *sure("out_of_scope")).slots == {}


def test_start_over_keeps_the_partnership(assistant):
    turn = assistant.start_over(State(route="conduct", partnership="bury-adults", stage=2))
    assert "partnership" not in turn.slots
    assert turn.slots["route"] is None and turn.slots["stage"] is None


def test_state_ignores_unusable_slot_values():
    state = State.from_slots({"stage": "two", "stage_started_at": "yesterday", "review_date": 5, "partnership_options": ["a", 3]})
    assert (state.stage, state.stage_started_at, state.review_date) == (None, None, None)
    assert state.partnership_options == ("a",)
    naive = State.from_slots({"stage_started_at": "2026-11-23T10:00:00"})
    assert naive.stage_started_at is None


def test_payloads_are_json():
    from bot.dialogue import payload

    text = payload("choose_partnership", partnership="south-tyneside")
    assert text.startswith("/choose_partnership")
    assert json.loads(text[len("/choose_partnership"):]) == {"partnership": "south-tyneside"}


@pytest.mark.parametrize("name", ["text", "image", "json_message", "attachment", "elements"])
def test_a_template_variable_may_not_shadow_an_utter_message_argument(name):
    # utter_message(text=...) would silently replace the whole template with the variable.
    with pytest.raises(ValueError, match=name):
        Turn().say("utter_briefing_step", **{name: "x"})


def test_a_question_about_what_follows_a_stage_is_answered_not_walked(assistant, library):
    # "Not resolved" read from a question, with no walk under way: the procedure's answer.
    state = State(partnership="warrington-adults")
    turn = assistant.next_stage(state, "stage 1 didnt work, who do I go to?")
    assert [r.response for r in turn.replies] != ["utter_stage"]
    assert library["warrington-adults"].stages[1].raised_with in json.dumps([r.variables for r in turn.replies])
    # A plain "not resolved" still starts the walk.
    assert responses(assistant.next_stage(state, "not resolved"))[0] == "utter_stage"


def test_a_question_the_nlu_found_unclear_is_answered_when_the_seed_plainly_answers_it(assistant):
    unclear = ({"name": "nlu_fallback", "confidence": 0.3}, [{"name": "inform_category", "confidence": 0.33}])
    state = State(partnership="warrington-adults")
    turn = assistant.triage(state, *unclear, text="how should I put my concern across at step 1")
    assert responses(turn) == ["utter_answer"]
    assert "specific and clear about their concerns" in turn.replies[0].variables["answer"]
    assert "002_39504ec4b5584d8c.txt" in turn.replies[0].variables["sources"]


def test_a_question_unsure_between_worries_is_answered_when_the_seed_plainly_answers_it(assistant, library):
    ranking = [
        {"name": "professional_disagreement", "confidence": 0.45},
        {"name": "conduct_concern", "confidence": 0.4},
        {"name": "immediate_risk", "confidence": 0.05},
    ]
    state = State(partnership="warrington-adults")
    turn = assistant.triage(state, ranking[0], ranking, text="how should I put my concern across at step 1")
    assert responses(turn) == ["utter_answer"]
    assert "specific and clear about their concerns" in turn.replies[0].variables["answer"]
    # A sign of immediate risk among the candidates: the 999 line and the route buttons, as before.
    risky = [ranking[0], {"name": "immediate_risk", "confidence": 0.3}]
    turn = assistant.triage(state, risky[0], risky, text="how should I put my concern across at step 1")
    assert responses(turn) == ["utter_emergency_first", "utter_ask_route"]
    # Not a question: the buttons.
    turn = assistant.triage(state, ranking[0], ranking, text="the ward and the hospice disagree about discharge")
    assert responses(turn) == ["utter_ask_route"]


@pytest.mark.parametrize(
    "text", ["how much is an overdraft fee for bank?", "what's the weather like tomorrow", "who sang thriller?"]
)
def test_an_unrelated_question_is_still_out_of_scope_with_a_partnership_chosen(assistant, text):
    turn = assistant.triage(State(partnership="bury-adults"), *sure("out_of_scope"), text=text)
    assert responses(turn) == ["utter_out_of_scope"]


def test_a_question_about_a_stage_with_no_walk_is_answered_not_walked(assistant):
    state = State(partnership="bury-adults")
    turn = assistant.next_stage(state, "apart from ringing the police for imminent risk, what else do I have to make?")
    assert responses(turn) == ["utter_answer"]
    assert "safeguarding adults referral" in turn.replies[0].variables["answer"]


def test_a_disagreement_with_a_specific_question_gets_the_answer_then_the_offer_of_the_walk(assistant):
    sure = [{"name": "professional_disagreement", "confidence": 0.9}, {"name": "immediate_risk", "confidence": 0.01}]
    state = State(partnership="bury-children")
    text = "The health visitor and I think the social worker's plan is unsafe. Can two agencies raise it jointly?"
    turn = assistant.triage(state, sure[0], sure, text=text)
    assert responses(turn) == ["utter_answer", "utter_offer_walk"]
    assert "jointly escalate" in turn.replies[0].variables["answer"]
    assert turn.slots["route"] == "disagreement" and "stage" not in turn.slots
    assert turn.replies[1].buttons[0]["payload"] == "/what_next"
    # Asked for the walk, it starts at the first level.
    walked = assistant.next_stage(State(partnership="bury-children", route="disagreement"), "/what_next")
    assert responses(walked)[0] == "utter_stage"
    # Asking what to do about it is what the walk answers.
    generic = assistant.triage(state, sure[0], sure, text="CSC closed the case too early and I disagree, what should I do?")
    assert responses(generic)[0] == "utter_stage" and generic.slots["stage"] == 0.0
    # A sign of immediate risk: no question answering, the 999 line first.
    risky = [{"name": "professional_disagreement", "confidence": 0.7}, {"name": "immediate_risk", "confidence": 0.25}]
    turn = assistant.triage(state, risky[0], risky, text=text)
    assert responses(turn)[0] == "utter_emergency_first"


@pytest.mark.parametrize(
    ("partnership", "text", "stage"),
    [
        # a stage that has failed, named by its people: the walk starts at the stage after it
        ("bury-adults", "The two line managers have met twice and still can't agree about the care plan", 2),
        # a stage named by number
        ("bury-children", "I disagree with the school's plan and we're at level 3 now, what does that involve?", 2),
        # nothing says how far it has got: the first stage, with the offer of a record
        ("warrington-adults", "I disagree with the hospital's decision to discharge him home", 0),
    ],
)
def test_a_worry_that_says_how_far_it_has_got_is_walked_from_there(assistant, library, partnership, text, stage):
    turn = assistant.triage(State(partnership=partnership), *sure("professional_disagreement", 0.9), text=text)
    assert turn.slots["stage"] == float(stage)
    assert turn.replies[0].variables["stage_title"] == library[partnership].stages[stage].title
    # A record is kept from the first stage, so only a walk from there offers one.
    assert ("utter_offer_record" in responses(turn)) == (stage == 0)
    # A walk joined later first says how a matter gets there, in the seed's words.
    handed_on = library[partnership].how_it_gets_to(stage)
    assert (handed_on is not None and handed_on.rstrip(".") in turn.replies[0].variables["who"]) == (stage > 0 and handed_on is not None)


def test_a_talk_with_the_other_worker_that_failed_is_walked_from_the_next_stage(assistant, library):
    text = "I spoke to the community nurse myself and we still disagree. Who do I take it to now?"
    turn = assistant.triage(State(partnership="warrington-adults"), *sure("professional_disagreement", 0.9), text=text)
    assert turn.slots["stage"] == 1.0
    assert turn.replies[0].variables["who"].startswith(
        "How it gets here: If a resolution can't be reached, professionals must escalate the issue to their line manager"
    )


@pytest.mark.parametrize(
    ("partnership", "text", "seed_says"),
    [
        # a question that points back at the worry is asked of the whole message
        ("bury-adults", "The GP practice are the specialists so I feel I can't question them. Is that a known problem?", "one agency is seen as the “expert”"),
        ("warrington-adults", "I'm a support worker and I'm not sure I'm allowed to challenge the hospital social worker. Am I?", "empowered and supported within their agencies to challenge"),
        # asking what the procedure says of one's situation
        ("bury-adults", "Nobody in my team ever challenges the consultants, they're the experts. Does the procedure acknowledge that?", "one agency is seen as the “expert”"),
        # who to think it through with when a decision seems unsafe is the seed's principle
        ("south-tyneside", "The hospital's discharge decision looks unsafe to me. Who should I speak to?", "consult their manager or designated safeguarding lead"),
        # not feeling confident or senior enough is asked of the seed, even with "what should I do?"
        ("south-tyneside", "I'm newly qualified and the CAMHS decision worries me, but I don't feel confident taking it on. Who do I go to?", "may affect the confidence of some workers"),
        ("warrington-adults", "The consultant's plan leaves my client unsafe, I think. I feel awkward questioning a consultant. Am I expected to?", "empowered and supported within their agencies to challenge"),
        ("bury-adults", "The psychiatrist says their view outweighs mine. Does a support worker's view count for less?", "whatever their level of experience"),
        # a shared worry, a gap in policy, being challenged oneself
        ("bury-children", "We don't really disagree with the school, we're both worried about the same boy. Can we still use this?", "a disagreement between agencies or a shared concern"),
        ("warrington-adults", "Our dispute with the ward has shown a gap in the hospital's discharge policy. What happens to that?", "raised via the relevant representative to the WSAB Independent Chair"),
        ("cambs-peterborough-adults", "The police have challenged one of our assessments and my team feel got at. What should we do?", "should not be defensive when challenged"),
    ],
)
def test_a_worry_that_asks_what_the_procedure_says_of_it_is_answered_then_offered_the_walk(assistant, partnership, text, seed_says):
    turn = assistant.triage(State(partnership=partnership), *sure("professional_disagreement", 0.9), text=text)
    assert responses(turn) == ["utter_answer", "utter_offer_walk"]
    assert seed_says in turn.replies[0].variables["answer"]
    assert turn.slots["route"] == "disagreement"


def test_a_partnership_named_with_a_question_gets_the_answer(assistant):
    turn = assistant.proceed(State(partnership="warrington-adults"), "stage 3 warrington?")
    assert responses(turn) == ["utter_answer"]
    assert "Senior management and WSAB representatives" in turn.replies[0].variables["answer"]
    # Immediate risk named beside the partnership is the 999 answer, with the partnership's own words.
    turn = assistant.proceed(State(partnership="cambs-peterborough-adults"), "imminent risk cambs")
    assert responses(turn) == ["utter_immediate_risk"] and turn.slots["route"] == "immediate_risk"
    assert "999" in turn.replies[0].variables["lines"]
    assert "referred immediately to the Police/Social Care" in turn.replies[0].variables["lines"]
    # The partnership alone, or a button's payload, just sets it.
    for text in ("warrington", "we're in warrington adults", '/choose_partnership{"partnership": "warrington-adults"}'):
        assert responses(assistant.proceed(State(partnership="warrington-adults"), text)) == ["utter_partnership_set"], text


@pytest.mark.parametrize(
    ("partnership", "nlu", "text", "seed_says"),
    [
        # read as conduct, but saying nothing of anyone's conduct
        ("cambs-peterborough-adults", sure("conduct_concern", 0.7),
         "I'm a team leader and my worker has brought a disagreement to me at Stage Two. What am I expected to do?",
         "contact their respective counterpart"),
        # unsure between worries, but asking in so many words what the procedure expects
        ("bury-adults", ranked(("professional_disagreement", 0.45), ("conduct_concern", 0.35)),
         "The ward won't look again at their plan though we've sent new information. What does the briefing expect of them?",
         "review decisions and plans with an open mind"),
    ],
)  # fmt: skip
def test_a_message_the_nlu_misread_is_answered_when_it_asks_what_the_pack_answers(assistant, partnership, nlu, text, seed_says):
    turn = assistant.triage(State(partnership=partnership), *nlu, text=text)
    assert responses(turn) == ["utter_answer"]
    assert seed_says in turn.replies[0].variables["answer"]


def test_a_message_about_someones_conduct_keeps_the_conduct_route(assistant):
    turn = assistant.triage(State(partnership="bury-adults"), *sure("conduct_concern", 0.7), text="A carer keeps shouting at a resident. What should I do?")
    assert responses(turn)[0] == "utter_conduct"


def test_a_terse_message_the_nlu_could_not_place_is_answered_when_it_names_a_topic(assistant):
    unsure = ranked(("nlu_fallback", 0.3), ("professional_disagreement", 0.2))
    turn = assistant.triage(State(partnership="south-tyneside"), *unsure, text="overall timescale south tyneside")
    assert responses(turn) == ["utter_answer"]
    assert "within a maximum of 5 working days" in turn.replies[0].variables["answer"]
    turn = assistant.triage(State(partnership="bury-adults"), *unsure, text="step 3 who - bury adults")
    assert "Escalation to Safeguarding Leads or Senior Managers" in turn.replies[0].variables["answer"]
    # Short words that name no topic are not answered as a question.
    assert "utter_answer" not in responses(assistant.triage(State(partnership="bury-adults"), *unsure, text="blue sky"))


def test_a_fragment_in_the_procedures_words_read_as_out_of_scope_is_answered(assistant):
    out = sure("out_of_scope", 0.96)
    turn = assistant.triage(State(partnership="south-tyneside"), *out, text="themes reviewed how often")
    assert responses(turn) == ["utter_answer"]
    assert "6 monthly basis" in turn.replies[0].variables["answer"]
    # A question in other words, though it asks how long, is still out of scope.
    for text in ("how long should i boil eggs", "who sang thriller?", "what forms of exercise burn most calories"):
        assert responses(assistant.triage(State(partnership="south-tyneside"), *out, text=text)) == ["utter_out_of_scope"], text


def test_an_unsure_message_asking_where_it_goes_after_a_named_stage_is_answered(assistant):
    unsure = ranked(("professional_disagreement", 0.45), ("ask_procedure", 0.35), ("immediate_risk", 0.05))
    state = State(partnership="south-tyneside")
    turn = assistant.triage(state, *unsure, text="both heads of service have met and we're still stuck. where does it go now?")
    assert responses(turn) == ["utter_answer"]
    assert "passed to STSCP / STSAB Business Manager" in turn.replies[0].variables["answer"]
    # A worry that names no question is still asked about.
    turn = assistant.triage(state, *unsure, text="both heads of service have met and we're still stuck")
    assert responses(turn) == ["utter_ask_route"]


def test_a_message_the_nlu_could_not_place_is_answered_when_it_asks_about_a_named_stage_or_the_final_say(assistant):
    unclear = {"name": "nlu_fallback", "confidence": 0.3}
    _, ranking = ranked(("ask_procedure", 0.25), ("out_of_scope", 0.2))
    state = State(partnership="bury-adults")
    turn = assistant.triage(state, unclear, ranking, text="once it's with the board who has the last word on it")
    assert responses(turn) == ["utter_answer"]
    assert "Decision making remains with statutory agencies" in turn.replies[0].variables["answer"]
    turn = assistant.triage(State(partnership="cambs-peterborough-adults"), unclear, ranking, text="new to the team, can I run it past someone before stage 1?")
    assert responses(turn) == ["utter_answer"]
    # Something specific of the pack: where disagreements arise.
    turn = assistant.triage(state, unclear, ranking, text="examples please of the areas where challenge tends to come up")
    assert responses(turn) == ["utter_answer"]
    assert "criteria for referrals" in turn.replies[0].variables["answer"]
    # The same question the NLU is sure is out of scope stays out of scope.
    sure_out = {"name": "out_of_scope", "confidence": 0.95}
    turn = assistant.triage(state, sure_out, [sure_out], text="who has the final say on the office rota?")
    assert responses(turn) == ["utter_out_of_scope"]


def test_asking_if_the_procedure_is_the_route_is_answered_from_what_it_does_not_cover(assistant):
    # The NLU read a conduct concern; the message asks whether this is the procedure to use.
    turn = assistant.triage(
        State(partnership="bury-children"), *sure("conduct_concern", 0.7),
        text="Newly qualified teacher here. If a pupil tells me someone at home is hurting them, is this the process I use?",
    )  # fmt: skip
    assert responses(turn) == ["utter_answer"]
    assert "Multi Agency Safeguarding Hub" in turn.replies[0].variables["answer"]
    # Read as a disagreement, the same kind of question is answered, then offered the walk.
    turn = assistant.triage(
        State(partnership="south-tyneside", subject="children"), *sure("professional_disagreement", 0.8),
        text="What bothers me is how one support worker behaves with the children. Is escalation the right route?",
    )  # fmt: skip
    assert responses(turn) == ["utter_answer", "utter_offer_walk"]
    assert "does not apply to cases where there may be concerns" in turn.replies[0].variables["answer"]


def test_an_unsure_message_whose_last_sentence_asks_is_answered_from_that_sentence(assistant):
    ranking = [
        {"name": "professional_disagreement", "confidence": 0.45},
        {"name": "conduct_concern", "confidence": 0.4},
        {"name": "immediate_risk", "confidence": 0.05},
    ]
    state = State(partnership="bury-children")
    text = "The school nurse and I see it differently from social care about a pupil at home. Which manual should this procedure be read alongside?"
    turn = assistant.triage(state, ranking[0], ranking, text=text)
    assert responses(turn) == ["utter_answer"]
    assert "Greater Manchester Safeguarding Children Procedures Manual" in turn.replies[0].variables["answer"]
