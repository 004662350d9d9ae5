"""Questions about each partnership's procedure, answered with the pack's own values."""

from __future__ import annotations

import re

import pytest

from bot.procedures.questions import MOST_SENTENCES, Topic, answer, answer_sentences, read_question, stage_numbers
from tests.conftest import PARTNERSHIPS


def ask(pack, text):
    question = read_question(text, pack)
    return question, answer(pack, question)


def says(text: str, fact: str) -> bool:
    """Whether ``text`` says ``fact``: word for word, or within a longer sentence of the seed that
    the answer gives instead of repeating it."""

    def plain(said: str) -> str:
        return " ".join(re.findall(r"[a-z0-9]+", said.lower()))

    return plain(fact) in plain(text)


def test_stage_numbers_follow_each_pack(library):
    assert stage_numbers(library["bury-children"]) == {1: 0, 2: 1, 3: 2, 4: 3}
    assert stage_numbers(library["cambs-peterborough-adults"]) == {1: 0, 2: 1, 3: 2, 4: 3}
    assert stage_numbers(library["south-tyneside"]) == {1: 1, 2: 2, 3: 3, 4: 4}  # "Before Stage 1" first


@pytest.mark.parametrize("partnership", PARTNERSHIPS)
def test_timescale_of_a_stage(library, partnership):
    pack = library[partnership]
    term = pack.stage_term.lower()
    question, said = ask(pack, f"how long do we have at {term} 2?")
    index = stage_numbers(pack)[2]
    assert (question.topic, question.stage) == (Topic.TIMESCALE, index)
    stage = pack.stage(index)
    if stage.timescale.text:
        assert stage.timescale.text.rstrip(".") in said.text
    elif not pack.limits:
        assert pack.resolve_quickly.text.rstrip(".") in said.text
    for limit in pack.limits:
        assert limit.timescale.text.rstrip(".").lower() in said.text.lower()


@pytest.mark.parametrize("partnership", PARTNERSHIPS)
def test_who_is_involved_at_each_stage(library, partnership):
    pack = library[partnership]
    for number, index in stage_numbers(pack).items():
        question, said = ask(pack, f"who is involved at {pack.stage_term.lower()} {number}")
        stage = pack.stage(index)
        assert question.topic is Topic.WHO
        assert stage.raised_by in said.text and stage.raised_with in said.text
        assert stage.source in said.sources


@pytest.mark.parametrize("partnership", PARTNERSHIPS)
def test_what_to_record_at_a_stage(library, partnership):
    pack = library[partnership]
    _, said = ask(pack, f"what should I record at {pack.stage_term.lower()} 1?")
    stage = pack.stage(stage_numbers(pack)[1])
    assert all(fact.text.rstrip(".") in said.text for fact in stage.record)


@pytest.mark.parametrize("partnership", PARTNERSHIPS)
def test_what_happens_at_the_final_stage_and_who_decides(library, partnership):
    pack = library[partnership]
    question, said = ask(pack, "who makes the final decision?")
    assert question.topic is Topic.FINAL
    assert pack.final_body.name in said.text and says(said.text, pack.final_body.decides)
    question, said = ask(pack, "what happens at the final stage?")
    assert question.stage == len(pack.stages) - 1
    assert says(said.text, pack.final_body.decides)


@pytest.mark.parametrize("partnership", PARTNERSHIPS)
def test_forms_and_contacts(library, partnership):
    pack = library[partnership]
    _, form = ask(pack, "what form do I need to send?")
    _, contact = ask(pack, "what's the e-mail address?")
    if pack.forms:
        assert all(f.title in form.text for f in pack.forms)
    else:
        assert "names no form" in form.text
    emails = [c.email for c in pack.contacts if c.email]
    if emails:
        assert all(email in contact.text for email in emails)
    else:
        assert not contact.answered and "no" in contact.text


@pytest.mark.parametrize("partnership", PARTNERSHIPS)
def test_stages_categories_and_immediate_risk(library, partnership):
    pack = library[partnership]
    _, stages = ask(pack, "how many stages are there?")
    assert f"has {len(pack.stages)} {pack.stage_term.lower()}s" in stages.text
    assert all(stage.title in stages.text for stage in pack.stages)
    question, categories = ask(pack, "what kind of disagreements does it cover?")
    assert question.topic is Topic.CATEGORIES
    assert all(c.text in categories.text for c in pack.categories)
    _, risk = ask(pack, "what if someone is in imminent danger?")
    assert all(d.text.rstrip(".") in risk.text for d in pack.diversions.immediate_risk)


@pytest.mark.parametrize("partnership", PARTNERSHIPS)
def test_conduct_is_not_covered(library, partnership):
    pack = library[partnership]
    question, said = ask(pack, "does it cover concerns about a worker's conduct?")
    assert question.topic is Topic.NOT_COVERED
    if pack.diversions.conduct:
        assert says(said.text, pack.diversions.conduct[0].text)
    else:
        assert "does not deal with concerns about a professional's conduct" in said.text


@pytest.mark.parametrize(
    "text",
    [
        "a support worker behaved badly towards a resident, do I use this escalation procedure?",
        "my worry is how a nurse is behaving with the family. is the escalation route right for that?",
        "does the Warrington escalation procedure cover a disagreement within my own team?",
        "does this process apply inside our own organisation too?",
    ],
)
def test_what_it_does_not_cover_is_recognised_however_it_is_asked(library, text):
    pack = library["cambs-peterborough-adults"]
    question, said = ask(pack, text)
    assert question.topic is Topic.NOT_COVERED
    seed_says = [*pack.diversions.conduct, *pack.not_covered]  # the seed's own sentences
    assert any(fact.text.rstrip(".") in said.text for fact in seed_says)


def test_specific_facts(library):
    assert "within 2 working days" in ask(library["bury-children"], "what is the deadline for directors?")[1].text
    themes = ask(library["south-tyneside"], "how often are escalations reviewed?")[1]
    assert "6 monthly basis" in themes.text and "Performance, Management and Evaluation" in themes.text
    panel = ask(library["cambs-peterborough-adults"], "who sits on the resolution panel?")[1].text
    assert "LA, Police and CCG" in panel
    email = ask(library["bury-adults"], "what should the email contain?")[1].text
    assert "details of the disagreement and action which has already been taken" in email
    assert "Appendix A" in ask(library["south-tyneside"], "who do we notify at stage 2?")[1].text


def test_an_unanswerable_question_says_so(library):
    said = ask(library["warrington-adults"], "what colour is the sky")[1]
    assert not said.answered
    assert "does not say" in said.text


@pytest.mark.parametrize("partnership", ["bury-adults", "cambs-peterborough-adults"])
def test_a_question_no_topic_names_is_answered_in_the_seeds_words(library, partnership):
    pack = library[partnership]
    assert any("open mind" in p.text for p in pack.passages)
    # Ask in other words about a passage of the seed; the answer quotes a passage with its section.
    question, said = ask(pack, "tell me what it says about keeping an open mind when challenged")
    assert question.topic is None and said.answered
    quoted = [p for p in pack.passages if p.said.rstrip(".") in said.text]
    assert quoted, said.text
    assert quoted[0].source in said.sources


def test_passages_are_ordered_by_the_fitted_weights_and_gated_by_relevance(library):
    from bot.procedures.questions import ORDER_RELEVANT, PASSAGE_RELEVANT, passage_evidence, ranked_passages

    pack = library["bury-adults"]
    question = read_question("how long do line managers have to sort it out?", pack)
    evidence = passage_evidence(pack, question)
    ranked = ranked_passages(pack, question)
    orders = sorted((e.order for e in evidence), reverse=True)
    by_passage = dict(zip((id(p) for p in pack.passages), evidence))
    assert [by_passage[id(p)].order for _, p in ranked] == orders
    for relevance, passage in ranked:
        each = by_passage[id(passage)]
        assert relevance == (max(each.score, PASSAGE_RELEVANT) if each.order >= ORDER_RELEVANT else each.score)


@pytest.mark.parametrize("partnership", PARTNERSHIPS)
def test_who_takes_it_on_when_a_stage_fails(library, partnership):
    pack = library[partnership]
    number, index = sorted(stage_numbers(pack).items())[0]
    question, said = ask(pack, f"{pack.stage_term.lower()} {number} didn't resolve it, who do we go to next?")
    assert question.stage == index + 1
    assert pack.stage(index + 1).raised_with in said.text


def test_why_the_procedure_exists(library):
    for pack in library:
        question, said = ask(pack, "why was this procedure brought in?")
        assert question.topic is Topic.BACKGROUND
        assert pack.background[0].text in said.text


def test_the_key_principles_are_the_seeds_own_in_its_order(library):
    for pack in library:
        question, said = ask(pack, "what are the key principles?")
        assert question.topic is Topic.PRINCIPLES
        assert said.text.startswith(pack.principles[0].text.split(".")[0]), said.text
        assert said.sources[0] == pack.principles[0].source
    # "in principle" is not the principles
    assert read_question("can I in principle skip a stage?", library["bury-adults"]).topic is not Topic.PRINCIPLES


def test_a_structured_answer_carries_the_seeds_sentence_for_its_stage(library):
    pack = library["warrington-adults"]
    question, said = ask(pack, "what do I record at stage 2?")
    assert question.stage == 1
    assert any(p.text in said.text and "2" in p.source.section for p in pack.passages), said.text


@pytest.mark.parametrize("partnership", PARTNERSHIPS)
def test_the_next_stage_is_given_with_its_people_timescale_and_own_words(library, partnership):
    pack = library[partnership]
    number, index = sorted(stage_numbers(pack).items())[1]
    question, said = ask(pack, f"if {pack.stage_term.lower()} {number} can't sort it, where does it go next?")
    following = pack.stage(index + 1)
    assert (question.stage, question.after) == (index + 1, index)
    assert following.raised_with in said.text and following.source in said.sources
    if following.timescale.text:
        assert following.timescale.text.rstrip(".") in said.text
    # in the seed's own words: the failed stage's "if it remains…" sentence, or the next stage's own
    failed = pack.stage(index)
    own = [p.text for p in pack.passages if p.source.section == following.source.section]
    own += [*failed.actions[1:], *([failed.if_not_resolved] if failed.if_not_resolved else []), *following.actions]
    if own:
        assert any(says(said.text, each) for each in own), said.text
    assert len(answer_sentences(said.text)) <= MOST_SENTENCES


def test_the_stage_that_failed_can_be_named_by_its_people(library):
    pack = library["bury-children"]
    numbers = stage_numbers(pack)
    question, said = ask(pack, "the heads of service can't agree, who does it go to now?")
    assert (question.stage, question.after) == (numbers[4], numbers[3])
    assert pack.stage(numbers[4]).raised_with in said.text


def test_what_a_form_asks_for(library):
    for pack in library:
        fields = [field for form in pack.forms for field in (form.fields or [ask.label for ask in form.asks])]
        if not fields:
            continue
        question, said = ask(pack, "what information does the form ask for?")
        assert question.topic is Topic.FORM
        assert all(field.rstrip(".") in said.text for field in fields[:3]), said.text


def test_when_the_procedure_was_approved_and_reviewed(library):
    pack = library["cambs-peterborough-adults"]
    dated = [p.text for p in pack.passages if p.source.section in ("Approved:", "Reviewed:")]
    question, said = ask(pack, "when was this policy last reviewed?")
    assert question.topic is Topic.DOCUMENT and dated
    assert all(text in said.text for text in dated)


def test_how_to_raise_it_is_answered_from_the_principles_not_the_contacts(library):
    pack = library["south-tyneside"]
    question, said = ask(pack, "can I just raise it by email rather than face to face?")
    assert question.topic is None
    principle = next(p for p in pack.principles if "face-to-face" in p.text)
    assert principle.source in said.sources


def test_word_forms_compare_equal():
    from bot.procedures.questions import _content_words

    assert _content_words("logged") == _content_words("recorded") == _content_words("record")
    assert _content_words("resolved") == _content_words("resolve")
    assert _content_words("referred") == _content_words("refer")


def test_a_rare_word_of_the_seed_outweighs_common_ones(library):
    pack = library["south-tyneside"]
    question, said = ask(pack, "is there a spreadsheet the escalations go on?")
    assert any("spreadsheet" in p.said and p.said.rstrip(".") in said.text for p in pack.passages), said.text


@pytest.mark.parametrize("partnership", PARTNERSHIPS)
def test_the_first_talk_described_not_named(library, partnership):
    pack = library[partnership]
    question, said = ask(pack, "the chat with the other professional didn't settle it, who's next?")
    assert (question.after, question.stage) == (0, 1)
    assert pack.stage(1).raised_with in said.text


@pytest.mark.parametrize("partnership", PARTNERSHIPS)
def test_who_holds_the_decision_at_the_end(library, partnership):
    pack = library[partnership]
    question, said = ask(pack, "once it reaches the board, who holds the decision?")
    assert question.topic is Topic.FINAL
    assert says(said.text, pack.final_body.decides)


@pytest.mark.parametrize("partnership", PARTNERSHIPS)
def test_an_answer_of_two_sentences_adds_one_of_the_seeds_sentences_at_most(library, partnership):
    from bot.procedures.questions import _passages_to_add, ranked_passages

    pack = library[partnership]
    question = read_question(f"what happens at {pack.stage_term.lower()} 2?", pack)
    ranked = [(1.0, p) for _, p in ranked_passages(pack, question)]  # every passage as good as the best
    assert len(_passages_to_add(pack, question, ranked, "It goes up. Within a week.", 0.5)) == 1
    assert len(_passages_to_add(pack, question, ranked, "Three. Sentences. Already.", 0.5)) == 1  # (the seed's best still)
    assert len(_passages_to_add(pack, question, ranked, "It goes up.", 0.5)) == 2


def test_a_stage_named_in_another_sentence_than_the_failure_is_asked_about_itself(library):
    pack = library["warrington-adults"]
    at = read_question("Spoke to the other worker, still not sorted. What happens at stage 2?", pack)
    assert (at.stage, at.after) == (1, None)
    after = read_question("what happens if stage 2 doesn't sort it?", pack)
    assert (after.stage, after.after) == (2, 1)
    both = read_question("Level 1 hasn't worked - what's level 2 and what does my manager do?", library["bury-children"])
    assert (both.stage, both.after) == (1, 0)


def test_who_it_is_for_and_when_people_come_in(library):
    aimed = ask(library["bury-children"], "who is this process aimed at, only social workers?")[1]
    assert "from practitioners to strategic leaders" in aimed.text
    when = read_question("when do the heads of service get involved?", library["bury-children"])
    assert when.stage == 2 and when.topic is Topic.ACTIONS


# Questions in everyday words, each answered with the seed's own sentence; grouped by what the
# question turns on.
EVERYDAY_QUESTIONS = [
    # Everyday words for a principle: the seed speaks of status and confidence, not nerves.
    ("cambs-peterborough-adults", "I'm a newly qualified nurse and nervous about challenging a senior doctor, does the policy get that?", "differences in status and /or experience"),
    ("bury-adults", "my view as an inexperienced worker - does it matter?", "whatever their level of experience"),
    # the longest a stage may take, and the whole procedure's pace in the seed's words
    ("bury-children", "what's the longest any one level can last?", "Each stage should not exceed 10 working days"),
    ("cambs-peterborough-adults", "is there an overall deadline for sorting a disagreement out?", "within the shortest timescale possible"),
    # where the completed form goes, not what it asks for
    ("bury-children", "I've filled in the request for resolution document, where does it go?", "bsp@bury.gov.uk"),
    # who can help is the partnership's contact
    ("bury-children", "who can help me find the right manager in the other agency?", "bsp@bury.gov.uk"),
    # finding who to escalate to in the other agency is the seed's sentence on key contacts
    ("bury-children", "how do I find out who to escalate to in another agency?", "Professionals are responsible for finding out the key contacts"),
    # the procedure's aim, where disagreements crop up
    ("cambs-peterborough-adults", "what's the main aim of this policy?", "resolve a professional disagreement at the earliest possible stage"),
    ("warrington-adults", "where do disputes between services typically crop up?", "roles and responsibilities"),
    ("warrington-adults", "what are the usual issues that agencies disagree over?", "roles and responsibilities"),
    # a stage named by its people, not its number
    ("bury-children", "during the manager level, who should be told?", "Level 2: Line Manager to Line Manager"),
    # how a matter gets to the final body is that stage's first action, not what the body does
    ("cambs-peterborough-adults", "how would a case be taken to the executive board, and through whom?", "made via the Head of Service"),
    # "…hasn't sorted it, what happens at level 2?" asks about level 2 itself
    ("bury-children", "if a chat with the school nurse hasn't sorted it, what happens at level 2?", "opposite manager in the other agency"),
    # who else is told at a stage: the stage's own action
    ("bury-children", "at level 1 who else should I inform?", "Inform the lead professional/chair"),
    # harm described rather than named: the seed's immediate-risk lines
    ("bury-adults", "a resident could come to serious harm tonight, what do I do first?", "calling 999"),
    # who has the last word at the top of the procedure
    ("bury-adults", "when it reaches the board, who actually has the final call?", "Decision making remains with statutory agencies"),
    # who the procedure is for, in the seed's sentence that says so
    ("south-tyneside", "is this protocol for children, adults or both?", "joint protocol across Children’s and Adults safeguarding"),
    ("bury-children", "who is the escalation process aimed at?", "from practitioners to strategic leaders"),
    # what the failed stage itself says happens next
    ("cambs-peterborough-adults", "what if the senior managers at stage three can't resolve it?", "escalation continues through the appropriate tiers of management"),
    # where disagreements arise, in the seed's own list
    ("bury-adults", "what sort of things do disagreements come up over?", "criteria for referrals, outcomes of assessments"),
    # inside one's own organisation: the seed's sentence on single agencies
    ("bury-adults", "can professional challenge happen within my own organisation as well?", "within single agency working"),
    ("south-tyneside", "does this apply to a disagreement inside the same agency?", "does not cover disagreement within single agencies"),
    # reported anywhere at the last stage: the final body, not the themes review
    ("warrington-adults", "at stage 4 is the chair's recommendation reported to anyone?", "reported to the WSAB Main Board"),
    # the partnership's name is not a stage's people; a talk described is the first stage
    ("bury-adults", "I've talked with the ward sister directly and we still disagree. What's next under the Bury adults procedure?", "Discussion between Line Managers"),
    ("south-tyneside", "does it apply to both adults and children's services?", "joint protocol across Children’s and Adults safeguarding"),
    # how it gets to a stage: the stage before's own sentence
    ("warrington-adults", "to get it to stage 2, who do I take it to?", "escalate the issue to their line manager"),
    # what the failed stage itself says, when that is where it goes
    ("south-tyneside", "heads of service couldn't sort it, where next?", "passed to STSCP / STSAB Business Manager"),
    # each step's own record line
    ("warrington-adults", "is there anything I need to record at every stage?", "record this step within their case recording"),
    # a concern raised with the other agency that failed: the first stage failed
    ("warrington-adults", "I contacted the other agency myself and got nowhere. Who now?", "line manager or the named/ designated safeguarding lead"),
    ("warrington-adults", "after raising it with their worker, who in my own agency do I take it to if it's not sorted?", "line manager or the named/ designated safeguarding lead"),
    # feeling unable to challenge specialists, and whether one may: the seed's own sentences
    ("bury-adults", "the consultants are the specialists and I find questioning them awkward", "one agency is seen as the “expert”"),
    ("warrington-adults", "are support workers allowed to challenge a social worker's decision?", "All staff should have the opportunity to challenge decision making"),
    ("bury-adults", "will challenging the police be seen as negative?", "should be seen in a positive way"),
    # words that colour a question do not hide what it asks
    ("bury-adults", "what do I really have to put in the e-mail to the board?", "details of the disagreement and action"),
    ("warrington-adults", "what exactly do we need to record?", "Concerns, actions, responses and outcomes must be recorded"),
    # the board named as the author of the aim, not as the last stage
    ("cambs-peterborough-adults", "what's the Executive Safeguarding Partnership Board's aim for when disputes get resolved?", "at the earliest possible stage"),
    # what comes before anything formal is the stage before the first formal one
    ("south-tyneside", "what am I expected to do before it goes formal?", "contact the practitioner who made the decision"),
    ("south-tyneside", "what should happen before it reaches stage 1?", "contact the practitioner who made the decision"),
    # a talk with someone no stage names is the first stage's talk
    ("warrington-adults", "I spoke with the hospital discharge nurse and we still disagree, who next?", "escalate the issue to their line manager"),
    # e-mail as a way of raising it, not an address to write to
    ("south-tyneside", "can we raise a challenge over email?", "E-mail communication, whilst important, can be open to misinterpretation"),
    ("bury-adults", "what does my challenge need to include?", "clearly identifying concerns and the impact on the adult"),
    # an abbreviation the seed spells out
    ("bury-adults", "do SARs say anything about challenge?", "recurrent theme within Safeguarding Adult Reviews"),
    # when the partnership is told is the stage that tells it
    ("south-tyneside", "when do we have to notify the partnership about an escalation?", "should be notified of the nature of the professional challenge"),
    # a manager brought a disagreement: the stage of managers
    ("south-tyneside", "I'm a line manager and one of my workers has brought a disagreement to me, what do I do?", "contact the line manager of the practitioner who made the decision"),
    ("south-tyneside", "before going to my manager what should I do about a decision I disagree with?", "contact the practitioner who made the decision"),
    ("south-tyneside", "where do multi-agency disagreements usually come up?", "levels of need"),
    ("warrington-adults", "the ward won't back down after I spoke to them, who now?", "escalate the issue to their line manager"),
    # skipping stages, and the adult meanwhile
    ("warrington-adults", "can I skip straight to the safeguarding adults board?", "resolved at the lowest stage possible"),
    ("cambs-peterborough-adults", "do we wait until the dispute is settled before acting for the adult?", "should never leave an adult at risk unprotected"),
    # "after a difficult escalation" is not a stage that failed
    ("warrington-adults", "should managers debrief staff after an escalation?", "opportunities to debrief"),
    # how it moves on to a stage it names: the stage before's own sentence
    ("warrington-adults", "how does it progress to stage 3 if the managers still disagree?", "consult with senior management and representatives"),
    ("warrington-adults", "talking directly got nowhere; who do I see to move it on to stage 2?", "their line manager or the named/ designated safeguarding lead"),
    # the failed stage's own timed step
    ("bury-children", "the two heads of service couldn't agree, what now?", "equivalent directors/assistant directors"),
    # a first talk's record, and what a referral to the board includes
    ("warrington-adults", "I phoned the hospital ward about it this morning, do I need to write that up?", "record this step within their case recording"),
    ("bury-adults", "what details need to be included when referring it to the board?", "details of the disagreement and action"),
    # what it is not to be confused with, who approved it, harm coming soon
    ("bury-children", "what shouldn't this procedure be confused with?", "Multi Agency Safeguarding Hub"),
    ("cambs-peterborough-adults", "who approved this policy?", "Approved: LSAB October 2018"),
    ("cambs-peterborough-adults", "the adult is likely to be harmed today while we argue, what now?", "referred immediately to the Police/Social Care"),
    # keeping track of patterns, the final body's recommendation reported
    ("south-tyneside", "is anyone keeping track of trends in escalations?", "Escalation and Challenge spreadsheet"),
    ("warrington-adults", "is the independent chair's recommendation reported to anyone?", "reported to the WSAB Main Board"),
    # when the partnership is told, in other words; where the policy is kept
    ("south-tyneside", "at what point is the partnership informed?", "should be notified of the nature of the professional challenge"),
    ("bury-adults", "how do I make sure my team can access the policy?", "accessible to all your team members"),
    # typed short: abbreviations and quick spellings
    ("bury-adults", "email to refer to the SAB?", "BSP@bury.gov.uk"),
    ("warrington-adults", "hw quickly do disputes need sorting", "within the shortest timescale possible"),
    # holding back, counting for less, where it should be dealt with, hearing the outcome
    ("bury-adults", "why are some staff reluctant to challenge other agencies?", "agencies can feel unable to challenge decisions"),
    ("warrington-adults", "which level should a disagreement normally be dealt with at?", "resolved at the lowest stage possible"),
    ("bury-children", "after the request for resolution goes in, how do I hear back about the decision?", "informing them of the decision in writing"),
    ("south-tyneside", "at what stage do we tell the board?", "should be notified of the nature of the professional challenge"),
    # how to get it to the final body, named by its stage
    ("cambs-peterborough-adults", "how do we take a case to the board at stage four?", "via the Head of Service"),
    ("bury-adults", "if I challenge the ward's plan, what am I meant to be setting out for them?", "clearly identifying concerns and the impact on the adult"),
    # the seed's sentence on starting at a later stage, word for word
    ("warrington-adults", "if they're at immediate risk can I skip stage 1?", "discretion should be used to initiate at the most relevant stage"),
    # a stage placed by whom it has reached; before it goes formal
    ("bury-children", "once it's with the BSCP business manager, what happens?", "A further meeting will be facilitated"),
    ("south-tyneside", "before it goes formal, what should I do?", "contact the practitioner who made the decision"),
    ("bury-children", "is it better to raise it verbally or in writing?", "it is the preference to raise disagreements verbally"),
    # what a body does is not the procedure's background
    ("cambs-peterborough-adults", "what's the point of the resolution panel, what does it do?", "The Panel will receive representations"),
    # support for staff, what never to let happen, what to be able to show, taking a challenge
    ("warrington-adults", "is there any support for staff after a stressful escalation?", "opportunities to debrief"),
    ("south-tyneside", "what must never happen while the dispute is ongoing?", "At no time should professional disagreement detract"),
    ("cambs-peterborough-adults", "what do I need to be able to show about my concern?", "evidence the nature and source of the concerns"),
    ("bury-adults", "how should I respond when another agency challenges my decision?", "should be seen in a positive way"),
    # a run of the seed's own words quoted back
    ("warrington-adults", "what does the procedure say most disagreements can be resolved by", "by having a conversation about the reasons"),
    # a relative "who" does not ask who; leaving someone out until later
    ("south-tyneside", "I'm the line manager of the worker who raised it at Stage 1. What do I do?", "Without delay, the line manager will then contact"),
    ("bury-children", "can we leave our safeguarding lead out of it until the later levels?", "consulted with throughout the escalation process"),
    # every stage tried is the last; what an e-mail needs to include
    ("bury-adults", "we've been through every step and still disagree. how do we send the referral?", "BSP@bury.gov.uk"),
    ("bury-adults", "I'm writing to the board now. What does the email need to include?", "details of the disagreement and action which has already been taken"),
    # who to take it to in one's own agency is the procedure's next stage, not what it leaves out
    ("warrington-adults", "Talking to the other professional didn't work. Who should I take it to within my own organisation?", "line manager"),
    # the final stage's own meeting failing is what that stage says comes next
    ("bury-children", "the meeting the BSCP set up didn't resolve it either. what happens after that?", "Executive of the Partnership"),
    # whether the board takes over the decision; how often feedback comes (not the themes review)
    ("bury-adults", "once it's referred, does the board take over the decision?", "Decision making remains with statutory agencies"),
    ("south-tyneside", "how often will I get feedback while it's being escalated?", "feedback will be provided at every stage"),
    # whether one's own case is the kind of disagreement it is for: where disagreements arise
    ("bury-adults", "they won't fund the care we think she needs. Is that the sort of disagreement this is for?", "service provision"),
    # the partnership's own name does not place a stage ("bury" is in Step 4's title)
    ("bury-adults", "a junior worker is challenging a consultant: should their view still count in bury?", "whatever their level of experience"),
]  # fmt: skip


@pytest.mark.parametrize(("partnership", "question", "seed_says"), EVERYDAY_QUESTIONS)
def test_a_question_in_everyday_words_is_answered_with_the_seeds_sentence(library, partnership, question, seed_says):
    said = ask(library[partnership], question)[1]
    assert said.answered and seed_says in said.text, said.text


def test_an_answer_says_each_sentence_once():
    said = answer_sentences(
        "Each stage should not exceed 10 working days. Timescales should be agreed at each stage. "
        "Each stage should not exceed 10 working days. Reference should be made to the LADO. "
        "Reference should be made to the LADO (children) or PIPOT (adults)."
    )
    assert said == [
        "Each stage should not exceed 10 working days.",
        "Timescales should be agreed at each stage.",
        "Reference should be made to the LADO (children) or PIPOT (adults).",
    ]


@pytest.mark.parametrize("partnership", PARTNERSHIPS)
def test_every_stage_timescale_is_one_sentence_of_the_answer(library, partnership):
    pack = library[partnership]
    _, said = ask(pack, "how long does each stage take?")
    timed = [stage for stage in pack.stages if stage.timescale.text]
    if timed:
        listing = answer_sentences(said.text)[0]
        assert all(f"{stage.title}: {stage.timescale.text.rstrip('.')}" in listing for stage in timed)
    assert len(answer_sentences(said.text)) <= MOST_SENTENCES + 1  # (the list, the limits, the seed's word on pace)


def test_a_stage_is_named_by_its_own_title(library):
    pack = library["bury-children"]
    question, said = ask(pack, "who else needs telling while we try to sort it head of service to head of service?")
    assert (question.topic, question.stage) == (Topic.WHO, stage_numbers(pack)[3])
    assert pack.stage(question.stage).raised_with in said.text


@pytest.mark.parametrize("text", ["does the request form ask if the DSL is aware?", "does the template ask anything about our dsl?"])
def test_a_question_whether_the_form_asks_something_gets_its_fields(library, text):
    pack = library["bury-children"]
    question, said = ask(pack, text)
    assert question.topic is Topic.FORM
    assert "Designated safeguarding lead aware of this notice?" in said.text


def test_when_the_partnership_is_told_is_the_stage_that_notifies(library):
    pack = library["south-tyneside"]
    question, said = ask(pack, "at which point do the partnership and the adults board have to be told about it?")
    notifying = next(index for index, stage in enumerate(pack.stages) if stage.notify)
    assert question.stage == notifying
    assert "notified of the nature of the professional challenge" in said.text


def test_what_goes_in_the_email_is_what_it_should_contain(library):
    pack = library["bury-adults"]
    question, said = ask(pack, "the email to the board - what do I put in it?")
    assert question.topic is Topic.RECORD
    assert "details of the disagreement and action which has already been taken" in said.text


def test_still_disagreeing_what_now_and_how_quickly_is_the_next_stage(library):
    pack = library["south-tyneside"]
    question, said = ask(pack, "we talked it through between us two practitioners, still disagree - what now and how fast?")
    assert (question.stage, question.after) == (1, 0)
    assert "within one working day" in said.text and pack.stage(1).raised_with in said.text
    # a relative "who" does not ask what comes next
    question = read_question("I've spoken to the nurse who made the decision and we can't agree. How long do I have?", pack)
    assert question.after is None


def test_a_sentence_said_again_at_more_length_keeps_the_heading_before_it():
    said = answer_sentences(
        "Stage One: Discussion between workers: If the problem is not resolved the worker should contact their manager. "
        "It goes to Stage Two. "
        "If the problem is not resolved the worker should contact their manager to consider the issue raised."
    )
    assert said == [
        "Stage One: Discussion between workers: If the problem is not resolved the worker should contact their manager to consider the issue raised.",
        "It goes to Stage Two.",
    ]


def test_when_it_moves_on_to_named_people_is_their_stage(library):
    pack = library["bury-adults"]
    question, said = ask(pack, "at what point does it move up to the line managers?")
    assert (question.topic, question.stage) == (Topic.ACTIONS, 1)
    assert "if the discussion between practitioners is not resolved" in said.text


def test_how_to_send_it_up_to_the_final_body_is_the_last_stage(library):
    pack = library["bury-adults"]
    question, said = ask(pack, "how would we send a dispute up to the adults board?")
    assert (question.topic, question.stage) == (Topic.ACTIONS, len(pack.stages) - 1)
    assert "BSP@bury.gov.uk" in said.text


def test_how_to_put_it_to_the_other_professional_is_answered_by_the_seed_on_manner(library):
    pack = library["warrington-adults"]
    question, said = ask(pack, "how should I phrase it when I raise it with the worker in the other team?")
    assert question.topic is None  # how, not with whom
    assert "must be specific and clear about their concerns" in said.text


def test_a_sentence_on_what_the_question_turns_on_comes_with_the_best(library):
    from bot.procedures.questions import _passages_to_add, ranked_passages

    pack = library["warrington-adults"]
    question = read_question("when I go to the other agency, how do I put it across?", pack)
    ranked = ranked_passages(pack, question)
    clear = next(p for _, p in ranked if "specific and clear" in p.said)
    others = [p for _, p in ranked if p is not clear]
    plain = [(1.0, others[0]), (1.0, others[1]), (0.5, clear)]
    assert _passages_to_add(pack, question, plain, "", 0.4) == [others[0], others[1]]
    assert _passages_to_add(pack, question, plain, "", 0.4, frozenset({id(clear)})) == [others[0], clear]


def test_a_team_manager_is_a_line_manager_of_the_seeds(library):
    pack = library["bury-adults"]
    question, said = ask(pack, "team leader here - me and my opposite number have talked and still can't agree, where now?")
    assert (question.stage, question.after) == (2, 1)
    assert "Step 3" in said.text


@pytest.mark.parametrize(("who", "says"), [
    ("the line managers", "the line managers raise"),
    ("senior management representatives", "senior management representatives raise"),
    ("your head of service", "your head of service raises"),
    ("the manager / named safeguarding lead", "the manager / named safeguarding lead raises"),
    ("the Head of Service (or equivalent)", "the Head of Service (or equivalent) raises"),
])
def test_who_raises_it_agrees_with_its_verb(who, says):
    from bot.procedures.questions import _raises

    assert _raises(who) == says


def test_the_seeds_next_sentence_comes_with_the_best_when_it_goes_on_from_it(library):
    pack = library["bury-children"]
    _, said = ask(pack, "not sure who the key contact is at the other agency, who could help me find them?")
    assert "Professionals are responsible for finding out the key contacts" in said.text
    assert "If there is difficulty in this, the BSP can be contacted for assistance" in said.text
