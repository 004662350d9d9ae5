"""Signs of immediate danger, read in the words of a message, beside what the classifier learned.

The classifier recognises immediate risk from examples, and a message it has not seen the like of
can slip past it ("is this a 999? baby very floppy"). Safety comes first, so a message naming a
concrete sign that someone is in danger now (not breathing, unresponsive, an overdose taken, a
weapon, a threat to kill, a perpetrator on their way to the victim, a child missing or left
alone, someone said to be at imminent risk now) is given the ``immediate_risk`` intent whatever else it says, and the 999 / referral
answer comes before anything else, in any part of any conversation (the rules send that intent
to triage at once). The signs are written from safeguarding practice, not from the training or
evaluation messages, and kept concrete: a question about the procedure ("what do I do in an
emergency?") is still the classifier's to read.
"""

from __future__ import annotations

import re

_CHILD = r"(?:baby|babies|infant|new ?born|toddler|child|children|kid|kids|pupil|girl|boy|son|daughter|teen(?:ager)?|young person|\d+ ?(?:yo|year ?old|month ?old))"
_PERSON = rf"(?:{_CHILD}|he|she|they|him|her|them|patient|resident|client|service user|tenant|mum|mother|dad|father|woman|man|adult|victim|partner)"

SIGNS: dict[str, str] = {
    "not breathing": r"\b(?:not|isn'?t|stopped|struggling|can'?t|cannot|barely) (?:breathing|breathe)\b",
    "unresponsive": r"\b(?:unconscious|unresponsive|passed out|(?:won'?t|will not|can'?t|cannot|couldn'?t) (?:be )?(?:wake|woken|rouse|roused))\b",
    "floppy or blue": r"\b(?:floppy|limp|turning blue|gone blue|lips? (?:are |is )?blue)\b",
    "collapsed": r"\b(?:has |have |just )?collapsed\b",
    "fitting": r"\b(?:fitting|having a (?:fit|seizure)|seizing)\b",
    "bleeding": r"\b(?:bleeding (?:heavily|badly|a lot|everywhere)|losing (?:a lot of )?blood|covered in blood)\b",
    "overdose": r"\b(?:(?:has|have|'s|just|s?he|they) (?:taken|had|took) (?:an )?overdose|overdosed (?:just now|tonight|this (?:morning|afternoon|evening))|(?:is|are) overdosing|taken (?:a load of |all (?:of )?(?:her|his|their|the) )(?:pills|tablets|meds|medication)|swallowed (?:\w+ )?(?:pills|tablets|bleach))\b",
    "suicide": r"\b(?:threat\w* (?:suicide|to end)|(?:is|'s|are|feeling|actively|now) suicidal|attempted suicide (?:tonight|today|just now)|kill (?:him|her|them|my)sel(?:f|ves)|end (?:his|her|their|my) (?:own )?life|(?:hang|hanging|hanged) (?:him|her|them)sel(?:f|ves)|noose|jump (?:off|from) (?:a|the) (?:bridge|roof|building))\b",
    "weapon": r"\b(?:knife|knives|machete|stabbed|stabbing|gun|firearm|shot (?:at|him|her))\b",
    "threat to kill": r"\b(?:threat(?:en(?:ed|ing)?|s)? to (?:kill|hurt|harm|stab|burn|shoot)|(?:going to|gonna|will|wants to) (?:kill|stab|shoot|burn))\b",
    "attack happening": rf"\b(?:(?:is|are|being) (?:beaten|attacked|assaulted|raped|strangled|hit|punched|kicked)(?: up)? (?:now|right now|as we speak)|strangl\w*|chok(?:ed|ing) (?:her|him|them)|raped)\b",
    "on the way to them": r"\b(?:heading|on (?:his|her|their) way|driving|going|gone|turned up|outside|released) (?:back )?(?:to|at) (?:the |her |his |their |my )?(?:victim'?s? )?(?:address|house|home|flat|door|school)\b",
    "missing": rf"\b{_CHILD}\b[^.?!]{{0,40}}\b(?:(?:is|are|'s|has|have|has been|have been|went|gone) missing(?! (?:a lot of |loads of |lots of |some |most of |so much )?(?:school|lessons|classes|appointments|sessions|education))|(?:has|have) (?:run|ran) away|can'?t be found|cannot be found|(?:has|have)n'?t been seen since)\b|\bmissing from (?:home|care) (?:now|tonight|since)\b",
    "left alone": rf"\b{_CHILD}\b[^.?!]{{0,30}}\b(?:left (?:home )?alone|home alone|on (?:his|her|their) own (?:at home|overnight|all night)|alone (?:at|in the) (?:home|house|flat) (?:overnight|all night|for hours))\b",
    "harm about to happen": r"\b(?:about to|going to)(?: come to| suffer)? (?:serious |significant |grave )?(?:harm|be (?:seriously |badly )?(?:harmed|hurt|injured))\b(?! (?:in the (?:long|longer) (?:run|term)|over time|eventually|one day|in future))",
    "needs protecting now": r"\b(?:need|needs|needing) (?:protecting|protection|to be protected|to be kept safe|safeguarding) (?:today|tonight|now|right now|immediately|urgently|straight away)\b",
    "said to be at risk now": rf"\b{_PERSON}s?\b[^.?!]{{0,40}}?\b(?:is|are|'s|being|was|were|seems?|looks?|appears?|may be|might be|could be)(?: to be)? (?:now |currently |still |already |really |clearly )?(?:at|in) (?:an? )?(?:imminent|immediate|serious and imminent|real and immediate) (?:risk|danger)\b|\b(?:at|in) (?:imminent|immediate) (?:risk|danger) (?:now|right now|tonight|today|as we speak)\b",
    "locked in": rf"\b{_PERSON}\b[^.?!]{{0,30}}\b(?:locked (?:(?:him|her|them) )?(?:in|inside|up)|being held|can'?t get out|won'?t let (?:him|her|them) (?:leave|out))\b",
}
PATTERNS = {name: re.compile(pattern, re.IGNORECASE) for name, pattern in SIGNS.items()}
# Signs told in the procedure's own words ("at imminent risk") are also how a question about it is
# put: these count when stated, not when supposed ("who do I call if a child is at immediate risk?").
STATED_ONLY = frozenset({"said to be at risk now"})
SUPPOSED = re.compile(r"\b(?:if|when|whenever|where|whether|in case|suppose|supposing|should)\b[^.?!;]*$", re.IGNORECASE)


def danger_sign(text: str) -> str | None:
    """The name of the first sign of immediate danger ``text`` states, if any."""
    lowered = text.replace("’", "'")
    for name, pattern in PATTERNS.items():
        for found in pattern.finditer(lowered):
            if name not in STATED_ONLY or not SUPPOSED.search(lowered[: found.start()]):
                return name
    return None
