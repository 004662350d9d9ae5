"""Signs of immediate danger read in a message's words (``bot.nlp.danger``)."""

from __future__ import annotations

import pytest

from bot.nlp.danger import SIGNS, danger_sign


STATED = [
        ("is this a 999? the little one is very floppy and won't feed", "floppy or blue"),
        ("health visitor here, the infant isn't breathing properly and mum won't open the door", "not breathing"),
        ("resident on the floor, we can't rouse him", "unresponsive"),
        ("he's taken all of his tablets and is saying goodbye on the phone", "overdose"),
        ("the young person says she is going to kill herself after school", "suicide"),
        ("dad has a knife and the kids are in the house", "weapon"),
        ("her ex has threatened to kill her and he knows where she lives", "threat to kill"),
        ("MARAC perp released this morning and heading to the victim's address", "on the way to them"),
        ("year 8 pupil has gone missing from the school trip and nobody knows where", "missing"),
        ("neighbour says the toddler was left home alone since yesterday", "left alone"),
        ("the tenant says her partner locked her in the flat and took her phone", "locked in"),
        ("care home: a resident has collapsed in the lounge", "collapsed"),
        ("the child is fitting on the classroom floor", "fitting"),
        ("she cut her arm and is bleeding heavily, refusing help", "bleeding"),
        ("mum says he is being beaten right now, we can hear shouting", "attack happening"),
        ("a pupil has just told me what happens at home and I think she needs protecting tonight", "needs protecting now"),
        ("on scene now and I think the old gentleman is about to come to serious harm", "harm about to happen"),
        ("night shift on the ward: I'm worried a patient is in immediate danger from a visitor", "said to be at risk now"),
        ("we keep emailing back and forth and meanwhile our tenant is at imminent risk of harm", "said to be at risk now"),
        ("the school nurse thinks two of the pupils are at immediate risk at home tonight", "said to be at risk now"),
]


def test_every_sign_has_an_example():
    assert {sign for _, sign in STATED} == set(SIGNS)


@pytest.mark.parametrize(("text", "sign"), STATED)
def test_a_stated_sign_of_danger_now_is_read(text, sign):
    assert danger_sign(text) == sign


@pytest.mark.parametrize(
    "text",
    [
        # Questions about the procedure, and disagreements about past or chronic matters.
        "what do I do in an emergency under the bury procedure?",
        "who do I call if a child is at immediate risk?",
        "the children are missing loads of school and early help want to close",
        "ED discharged a 16 year old after an overdose last month without a CAMHS assessment",
        "SW says the teenager is choosing to go missing, I don't think that's how exploitation works",
        "I disagree with the social worker about the threshold for the family",
        "how long does level 2 take?",
        "the school trip was a knockout, thanks",
        "what does the policy say about children who need protection?",
        "what if the adult is at imminent risk of harm, do I still escalate?",
        "when a resident is in immediate danger does the dispute wait?",
        "does the procedure say what to do where someone is at immediate risk?",
        "is immediate risk of harm covered by the escalation policy?",
        # the statutory threshold is a judgement under dispute, not a sign of danger now
        "I think she is likely to suffer significant harm but children's services say it's below threshold",
    ],
)
def test_a_message_with_no_sign_of_danger_now_is_left_to_the_classifier(text):
    assert danger_sign(text) is None
