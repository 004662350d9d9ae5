"""The assistant's turn logic, free of Rasa: from the conversation's slots to replies and slot
changes. Custom actions (``actions/``) are glue around these methods.

A reply names a domain response and passes it variables composed from the pack; the wording of
each response is in the domain, the facts are in the packs.
"""

from __future__ import annotations

import dataclasses
import json
import re
from datetime import date, datetime
from typing import Any, Iterable, Mapping

from bot.clock import Clock
from bot.nlp.dates import PastDate, parse_review_date
from bot.procedures import guidance, questions
from bot.procedures.loader import Library
from bot.procedures.schema import Pack, Subject
from bot.procedures.timescales import DueBasis, calendar_for
from bot.triage import (
    CONDUCT,
    DISAGREEMENT,
    FALLBACK_INTENT,
    IMMEDIATE_RISK,
    INTENT_OF_ROUTE,
    OTHER,
    Thresholds,
    triage,
)

# Slot names (the domain declares the same).
ROUTE = "route"
PARTNERSHIP = "partnership"
PARTNERSHIP_OPTIONS = "partnership_options"
SUBJECT = "subject"
STAGE = "stage"
STAGE_STARTED_AT = "stage_started_at"
ESCALATION_STARTED_AT = "escalation_started_at"
REVIEW_DATE = "review_date"
AWAITING = "awaiting"
HAS_RECORD = "has_record"
PENDING_QUESTION = "pending_question"
COMPARE = re.compile(r"\b(same|compare|comparison|different|differ|what about|how about|and in|and for|versus|vs)\b")

# A message phrased as a question, and one about a stage or its people: with no walk under way,
# "managers couldn't resolve it at stage two - next step?" asks about the procedure.
ASKED = re.compile(
    r"\?$|^(who|whose|what|whats|what's|where|when|how|which|is|does|do|can|should|give|tell|show|explain|list|name)\b|\bexamples?\b"
    r"|\b(who|what|where|when|how|which) (do|does|did|should|can|could|is|are|was|will|must|happens"
    r"|gets?|goes|go|has|have|needs?|decides?|deals?|handles?)\b"
    r"|\b(who|where) (next|now)\b|\bhow (fast|long|quickly|soon|often)\b"
    r"|\b(can|could|should|must|shall|may) (i|we) (\w+ )?(talk|speak|go|raise|escalate|challenge|contact|e-?mail|ring|call|ask|use|refer|skip|start|put|send|run)\b"
)
# A question asked beside a disagreement is answered when a seed sentence scores this well (the
# NLU has read a worry, so this is above the floor of relevance, 0.4, below a plain answer, 0.6).
QUESTION_BESIDE_A_WORRY = 0.5
# A command (the briefing, the quiz, one's records, "it's resolved") read by the NLU with less
# confidence than this may be a question in its words ("why was this briefing written?").
COMMAND_SURE = 0.8
# Asking for a command rather than asking something ("give me the briefing", "can you quiz me?").
REQUESTED = re.compile(
    r"^(please |pls )?(give|show|list|start|run|begin|do|brief|quiz|test|train|take|walk|talk|let'?s|i'?d like|i want|i need"
    r"|can i (have|do|see|get|start|try)|(can|could|will|would) (you|we) (give|show|list|start|run|do|brief|quiz|test|train|take|walk|talk))\b"
    r"|\b(brief|quiz|test|train) (me|us|my team)\b|\bmy (records?|escalations?|cases?|challenges?|esc'?s)\b"
)
# A message this short that names a topic or a stage asks about it ("stage 3 who", "overall
# timescale south tyneside"), however it is typed.
TERSE_WORDS = 8
WH_ASKED = re.compile(r"\b(why|what|whats|wat|where|who|whose|how|hw|when|which)\b")


def _lowered(text: str) -> str:
    """``text`` in lower case with plain apostrophes, as the patterns here are written."""
    return text.lower().replace("’", "'")


def _from_sentence_at(text: str, at: int) -> str:
    """``text`` from the start of the sentence holding character ``at`` to its end."""
    starts = [0] + [match.end() for match in re.finditer(r"[.?!]\s+", text) if match.end() <= at]
    return text[starts[-1]:].strip()


def asked_part(text: str) -> str:
    """The last sentence of ``text`` that asks something ("… closed it. Can we escalate jointly?"),
    or "" when none does."""
    asked = [s for s in questions.split_sentences(text) if ASKED.search(_lowered(s))]
    return asked[-1] if asked else ""


# Asking what to do about a disagreement: the stage walk is the answer.
WHAT_TO_DO = re.compile(
    r"\b(what (do|should|can|shall|must) (i|we) do|what now|what next|next steps?|what are (my|our|the) options"
    r"|how (do|should|can) (i|we) (escalate|challenge|raise|take)|where do (i|we) (start|begin)|what('s| is) the (process|procedure))\b"
)
# What a question can ask of the procedure that the walk would not answer at once.
SPECIFIC_TOPICS = frozenset(
    {
        questions.Topic.TIMESCALE, questions.Topic.FORM, questions.Topic.CONTACT, questions.Topic.RECORD,
        questions.Topic.FINAL, questions.Topic.THEMES, questions.Topic.AUDIENCE, questions.Topic.CATEGORIES,
        questions.Topic.NOT_COVERED, questions.Topic.BACKGROUND, questions.Topic.DOCUMENT, questions.Topic.PRINCIPLES,
    }
)  # fmt: skip
# Words of the procedures themselves, which an out-of-scope message does not use.
PROCEDURE_WORDS = re.compile(
    r"\b(stage|level|lvl|step|escalat\w*|disagree\w*|dispute|challeng\w*|themes?|timescales?|form|board|partnership|"
    r"safeguarding|referr\w*|panel|chair|pipot|lado|whistle\w*|imminent|procedure|protocol|policy|agenc\w*|sab|e-?mail)\b"
)
# What a fragment may name to be asking it ("overall timescale", "imminent risk", "stages"): not
# who or what in general, which any short message with "who" in it seems to ask.
TERSE_TOPICS = SPECIFIC_TOPICS | {questions.Topic.IMMEDIATE_RISK, questions.Topic.STAGES}
# A question that only points back at what the message said before it ("Is that normal?", "Am I?").
REFERS_BACK = re.compile(r"^((\w+ ){1,2}(that|this|it|these|those)\b(?! (stage|level|step|procedure|policy|protocol|process)\b)|(am|are|is|can|should|do|does) (i|we|they|it)\??$)|\b(that|this)\??$")
# Asking what the procedure itself says of one's situation, which the walk does not answer.
ABOUT_THE_PROCEDURE = re.compile(
    r"\b(does|do|did|would|will) (the|this|our|my) (guidance|procedure|policy|protocol|briefing|document|partnership|board) (\w+ )?(recogni[sz]e|acknowledge|accept|say anything|mention|address)"
    # what the procedure says, expects or allows, asked in so many words
    r"|\b(what|how) (does|do|did|would|will) (the|this|our|my)( [\w']+){0,3} (guidance|procedure|policy|protocol|briefing|document|process) (say|expect|want|require|recommend|suggest|advise|tell)"
    r"|\bdoes (the|this|our)( [\w']+){0,3} (guidance|procedure|policy|protocol|briefing|document|process) (allow|permit|let)\b"
    r"|\b(the|this|our) (guidance|procedure|policy|protocol|briefing|document) (\w+ )?(recogni[sz]es|acknowledges|accepts|mentions|addresses)\b"
    r"|\b(is|are) (that|this|it) (normal|common|usual|recogni[sz]ed|acknowledged|a (known|common|recogni[sz]ed) (issue|problem|thing))\b"
    r"|\b(am i|are we|i'?m|i am|we'?re|we are) (not sure (if |whether )?(i'?m |we'?re |i am |we are )?)?(even )?(allowed|entitled|permitted) to (challenge|question|disagree|push back)\b"
    # being challenged oneself: the seed's word on how to respond, not the walk for raising one
    r"|\b(i'?ve been|i have been|i'?m being|i am being|we'?ve been|we have been|we'?re being|my \w+ (has|have) been) challenged\b"
    r"|\b(has|have|had) (just )?challenged (me|my|our|us|one of)\b"
    # whether one must, or one's view counts: the seed's principles, not the walk
    r"|\b(am i|are we) (really |actually |still |even )?(expected|supposed|meant|obliged|required) to ((challenge|question|push back|speak up|disagree)\b|(it|this|that)?\??$)"
    r"|\b(count|counts|matter|matters|worth) (for )?less\b|\bless weight\b"
    r"|\b(don'?t|do not|doesn'?t|does not|not) feel (\w+ ){0,2}(confident|senior|experienced|qualified|able|comfortable|brave|empowered)\b"
    r"|\b(awkward|daunting|intimidat\w*|nervous) (about |to be |)?(challeng|question)\w*|\b(challeng|question)\w* (it|them|him|her|someone)? ?(is|feels|seems) (awkward|daunting|intimidating)\b"
    # a shared worry rather than a difference, or a gap in policy: what the seed says becomes of it
    r"|\b(don'?t|do not) (actually |really )?disagree\b|\bshared (concern|worry)\b|\bboth (worried|concerned)\b"
    r"|\b(gap|flaw|weakness|hole)s? in\b.{0,40}\b(policy|policies|procedure|protocol|guidance)\b|\bpolicy (issue|gap|problem)s?\b"
    # who to think it through with when a decision seems unsafe: the seed's principle, not the walk
    r"|\b(unsafe|not safe|isn'?t safe)\b.{0,60}\bwho (should|do|can|could) (i|we) (speak|talk|go|turn) to\b"
)
ABOUT_A_STAGE = re.compile(r"\b(stage|level|step|manager|managers|lead|leads|head|heads|director|directors|board|partnership)s?\b")

# What the assistant last asked for (slot AWAITING).
AWAITING_PARTNERSHIP = "partnership"
AWAITING_SUBJECT = "subject"
AWAITING_REVIEW_DATE = "review_date"
AWAITING_ROUTE = "route"
AWAITING_OVERVIEW = "overview"
AWAITING_MORE_TIME = "more_time"

ROUTE_BUTTON_TITLES = {
    IMMEDIATE_RISK: "Someone may be in danger now",
    DISAGREEMENT: "I disagree with another agency's decision",
    CONDUCT: "A professional's behaviour or conduct",
}
SUBJECT_BUTTON_TITLES = {Subject.CHILDREN.value: "A child", Subject.ADULTS.value: "An adult"}


@dataclasses.dataclass(frozen=True)
class Reply:
    """One message: a domain response, its variables and any buttons."""

    response: str
    variables: Mapping[str, str] = dataclasses.field(default_factory=dict)
    buttons: tuple[Mapping[str, str], ...] = ()
    attachment: Mapping[str, str] | None = None


# Keyword arguments of rasa_sdk's ``CollectingDispatcher.utter_message``.
RESERVED_VARIABLES = frozenset({"text", "image", "json_message", "response", "attachment", "buttons", "elements"})


@dataclasses.dataclass
class Turn:
    """What an action does: messages to send and slots to set (None clears a slot)."""

    replies: list[Reply] = dataclasses.field(default_factory=list)
    slots: dict[str, Any] = dataclasses.field(default_factory=dict)

    def say(self, response: str, buttons: Iterable[Mapping[str, str]] = (), **variables: str) -> None:
        shadowed = RESERVED_VARIABLES.intersection(variables)
        if shadowed:  # utter_message would take these as its own arguments, not the template's
            raise ValueError(f"{response}: template variables may not be named {sorted(shadowed)}")
        self.replies.append(Reply(response, variables, tuple(buttons)))


@dataclasses.dataclass(frozen=True)
class State:
    """The slots the turn logic reads."""

    route: str | None = None
    partnership: str | None = None
    partnership_options: tuple[str, ...] = ()
    subject: str | None = None
    stage: int | None = None
    stage_started_at: datetime | None = None
    escalation_started_at: datetime | None = None
    review_date: date | None = None
    awaiting: str | None = None
    has_record: bool = False
    pending_question: str | None = None

    @classmethod
    def from_slots(cls, slots: Mapping[str, Any]) -> "State":
        """Read slots as Rasa stores them (text, numbers, lists), ignoring unusable values."""

        def moment(name: str) -> datetime | None:
            try:
                value = datetime.fromisoformat(slots.get(name) or "")
            except (TypeError, ValueError):
                return None
            return value if value.tzinfo else None

        def day(name: str) -> date | None:
            try:
                return date.fromisoformat(slots.get(name) or "")
            except (TypeError, ValueError):
                return None

        stage = slots.get(STAGE)
        options = slots.get(PARTNERSHIP_OPTIONS) or ()
        return cls(
            route=slots.get(ROUTE),
            partnership=slots.get(PARTNERSHIP),
            partnership_options=tuple(o for o in options if isinstance(o, str)),
            subject=slots.get(SUBJECT),
            stage=int(stage) if isinstance(stage, (int, float)) and stage >= 0 else None,
            stage_started_at=moment(STAGE_STARTED_AT),
            escalation_started_at=moment(ESCALATION_STARTED_AT),
            review_date=day(REVIEW_DATE),
            awaiting=slots.get(AWAITING),
            has_record=slots.get(HAS_RECORD) is True,
            pending_question=slots.get(PENDING_QUESTION),
        )


def payload(intent: str, **entities: str) -> str:
    """A button payload that Rasa reads as an intent with entities (no NLU involved)."""
    return f"/{intent}{json.dumps(entities)}" if entities else f"/{intent}"


class Assistant:
    """The turn logic over the procedure library, with an injected clock."""

    def __init__(self, library: Library, clock: Clock, thresholds: Thresholds) -> None:
        self.library = library
        self.clock = clock
        self.thresholds = thresholds

    # Triage -------------------------------------------------------------------------------

    def triage(self, state: State, intent: Mapping | None, ranking: Iterable[Mapping], text: str = "") -> Turn:
        """A message that may state a worry: set the route and answer it, or ask which. A message
        that states no worry but asks something the partnership's procedure plainly answers
        ("which manual should this be read alongside?") is answered as a question."""
        decision = triage(intent, ranking, self.thresholds)
        # Not a worry, or unsure which worry with no sign of immediate risk: a question the
        # procedure plainly answers ("what do I do at stage 1?") is answered, not met with buttons.
        unsure = decision.route == OTHER or not decision.confident
        # What the NLU could not place at all, or placed between worries, may still be a question
        # the pack's own structure answers ("who keeps the decision once it's at the board?").
        by_structure = decision.route != OTHER or (intent or {}).get("name") in (None, FALLBACK_INTENT)
        asked = self._plain_question(state, text, by_structure=by_structure) if unsure and not decision.risk_alert else None
        if decision.route == OTHER and not unsure and PROCEDURE_WORDS.search(_lowered(text)):
            # read surely as out of scope, yet a fragment in the procedure's own terms ("themes
            # reviewed how often") that names one of its topics or stages
            asked = self._terse_question(state, text, by_meaning=False)
        if asked:
            return self.question(state, asked)
        if decision.route == CONDUCT and not decision.risk_alert and self._asks_if_it_applies(state, text):
            # "…the way one worker behaves. Is this the right route?": what the pack says it does
            # not cover, which names where conduct goes, in the partnership's words.
            return self.question(state, text)
        if decision.route == CONDUCT and not decision.risk_alert and not questions.CONDUCT_SAID.search(_lowered(text)):
            # Read as conduct, but saying nothing of anyone's conduct, and asking what the procedure
            # answers ("my worker has brought me a disagreement at Stage Two: what do I do?").
            asked = self._plain_question(state, text)
            if asked:
                return self.question(state, asked)
        specific = self._specific_question(state, text) if decision.route == DISAGREEMENT and not decision.risk_alert and state.stage is None else None
        if specific:
            # "…they closed it too early. Can two agencies escalate it jointly?": the question is
            # answered; the route is set, so the walk starts from there when they ask for it.
            turn = self.question(state, specific)
            turn.slots[ROUTE] = DISAGREEMENT
            turn.say("utter_offer_walk", buttons=[{"title": "Walk me through the stages", "payload": payload("what_next")}])
            return turn
        turn = Turn()
        if decision.route != OTHER or state.route is None:
            turn.slots[ROUTE] = decision.route
        if not decision.confident and decision.options:
            if decision.risk_alert:
                self._say_emergency_first(turn, state)
            turn.say(
                "utter_ask_route",
                buttons=[
                    {"title": ROUTE_BUTTON_TITLES[route], "payload": payload(INTENT_OF_ROUTE[route])}
                    for route in decision.options
                ]
                + [{"title": "Something else", "payload": payload("help")}],
            )
            turn.slots[AWAITING] = AWAITING_ROUTE
            return turn
        if decision.route == OTHER:
            turn.say("utter_out_of_scope" if decision.confident else "utter_not_understood")
            return turn
        if decision.risk_alert and decision.route != IMMEDIATE_RISK:
            self._say_emergency_first(turn, state)
        state = dataclasses.replace(state, route=decision.route)
        return self._answer_route(state, turn, text)

    # Continuing after the assistant asked something -----------------------------------------

    def proceed(self, state: State, text: str = "") -> Turn:
        """Carry on with the conversation's route once a partnership or subject is given; or, when
        the message that gave the partnership also asks something of it ("step 2 bury adults?",
        "imminent risk cambs"), answer that."""
        turn = Turn()
        asked = self._terse_question(state, text) if text and not text.startswith("/") else None
        if asked and questions.read_question(asked, self.library[state.partnership]).topic is questions.Topic.IMMEDIATE_RISK:
            # safety first: the 999 / referral answer, with the partnership's own words
            turn.slots[ROUTE] = IMMEDIATE_RISK
            return self._immediate_risk(dataclasses.replace(state, route=IMMEDIATE_RISK), turn)
        if asked:
            return self.question(state, asked)
        if state.awaiting == AWAITING_OVERVIEW and state.route in (None, OTHER):
            return self._overview(state, turn)
        if state.route in (DISAGREEMENT, CONDUCT, IMMEDIATE_RISK):
            return self._answer_route(state, turn)
        pack = self.library.get(state.partnership)
        if pack is None:
            return self._ask_partnership(state, turn)
        turn.slots[AWAITING] = None
        turn.say("utter_partnership_set", partnership=pack.name)
        return turn

    def _answer_route(self, state: State, turn: Turn, text: str = "") -> Turn:
        if state.route == IMMEDIATE_RISK:
            return self._immediate_risk(state, turn)
        if state.route == CONDUCT:
            return self._conduct(state, turn)
        return self._disagreement(state, turn, text)

    # Immediate risk and conduct -------------------------------------------------------------

    def _immediate_risk(self, state: State, turn: Turn) -> Turn:
        pack = self.library.get(state.partnership)
        lines = guidance.immediate_risk_lines(self.library, pack, state.subject)
        turn.say(
            "utter_immediate_risk",
            lines=guidance.bullets(line.text for line in lines),
            sources=guidance.sources_text(lines, self.library),
        )
        turn.slots[AWAITING] = None
        if state.stage is not None and pack is not None:
            turn.say("utter_walk_paused", stage_title=pack.stage(state.stage).title)
        return turn

    def _say_emergency_first(self, turn: Turn, state: State) -> None:
        """999 first; with a partnership chosen, also what its own procedure says of immediate
        risk ("referred immediately to the Police/Social Care … whilst the dispute is being
        resolved"), cited."""
        lines = guidance.immediate_risk_lines(self.library, self.library.get(state.partnership), state.subject)
        own = guidance.partnership_lines(lines[1:], self.library)
        procedure = "".join(f"\n{line.text}" for line in own)
        if own:
            procedure += "\n" + guidance.sources_text(own, self.library)
        turn.say("utter_emergency_first", emergency=lines[0].text, procedure=procedure)

    def _conduct(self, state: State, turn: Turn) -> Turn:
        pack = self.library.get(state.partnership)
        subject = state.subject
        if subject is None and pack is not None and len(pack.covers) == 1:
            subject = pack.covers[0].value
        if subject is None:
            turn.slots[AWAITING] = AWAITING_SUBJECT
            turn.replies.extend(self.ask_subject(state).replies)
            return turn
        lines = guidance.conduct_lines(self.library, pack, subject)
        turn.say(
            "utter_conduct",
            lines=guidance.bullets(line.text for line in lines),
            sources=guidance.sources_text(lines, self.library),
        )
        if pack is None:
            return self._ask_partnership(state, turn, response="utter_ask_partnership_for_contacts")
        contacts = guidance.contact_lines(pack)
        if contacts:
            turn.say("utter_partnership_contacts", partnership=pack.name, contacts=guidance.bullets(contacts))
        turn.slots[AWAITING] = None
        return turn

    # The stage walk -------------------------------------------------------------------------

    def _disagreement(self, state: State, turn: Turn, text: str = "") -> Turn:
        pack = self.library.get(state.partnership)
        if pack is None:
            return self._ask_partnership(state, turn)
        if state.subject and Subject(state.subject) not in pack.covers:
            turn.say(
                "utter_partnership_does_not_cover",
                partnership=pack.name,
                covers=" and ".join(s.value for s in pack.covers),
                subject=state.subject,
            )
        if state.stage is None:
            return self._start_stage(pack, self._stage_reached(pack, text), state, turn, first=True)
        return self._explain_stage(pack, state, turn)

    @staticmethod
    def _stage_reached(pack: Pack, text: str) -> int:
        """Where a worry says it has got to: the stage after one it says has failed ("our line
        managers met and still can't agree"), or a stage it names by number ("who does it go to
        at step 3?"); else the first stage."""
        if not text:
            return 0
        read = questions.read_question(text, pack)
        return read.stage if read.placed else 0

    def next_stage(self, state: State, text: str = "") -> Turn:
        """'Not resolved' or 'what next': move to the next stage, up to the final body. With no
        walk under way, a question about a stage ("stage 1 didn't work, who do I go to?") is
        answered as a question about the procedure."""
        turn = Turn()
        pack = self.library.get(state.partnership)
        if state.stage is None and ASKED.search(text.strip().lower()) and (
            ABOUT_A_STAGE.search(text.lower()) or self._plain_question(state, text)
        ):
            return self.question(state, text)
        if state.stage is None:
            if state.route in (None, DISAGREEMENT, OTHER):
                turn.slots[ROUTE] = DISAGREEMENT
                # (from where the message says it has got to: "stage 3 unresolved, where next")
                return self._disagreement(dataclasses.replace(state, route=DISAGREEMENT), turn, text)
            return self._answer_route(state, turn)
        if pack is None:
            return self._ask_partnership(state, turn)
        if state.stage >= len(pack.stages) - 1:
            stage = pack.stage(len(pack.stages) - 1)
            body = pack.final_body
            turn.say(
                "utter_final_stage_reached",
                stage_title=stage.title,
                partnership=pack.short_name,
                final_body=body.name,
                decides=body.decides,
                sources=guidance.citation(pack, [body.source]),
            )
            return turn
        return self._start_stage(pack, state.stage + 1, state, turn, first=False)

    def _start_stage(self, pack: Pack, index: int, state: State, turn: Turn, *, first: bool) -> Turn:
        now = self.clock()
        turn.slots.update(
            {
                ROUTE: DISAGREEMENT,
                STAGE: float(index),
                STAGE_STARTED_AT: now.isoformat(),
                REVIEW_DATE: None,
            }
        )
        escalation_started_at = state.escalation_started_at
        if first or escalation_started_at is None:
            escalation_started_at = now
            turn.slots[ESCALATION_STARTED_AT] = now.isoformat()
        state = dataclasses.replace(
            state,
            route=DISAGREEMENT,
            stage=index,
            stage_started_at=now,
            escalation_started_at=escalation_started_at,
            review_date=None,
        )
        # A record is kept from the first stage: a walk joined later offers none, and says how it got there.
        joined = first and index > 0
        return self._explain_stage(pack, state, turn, offer_record=first and index == 0 and not state.has_record, joined=joined)

    def _explain_stage(self, pack: Pack, state: State, turn: Turn, *, offer_record: bool = False, joined: bool = False) -> Turn:
        stage_guidance = guidance.stage_guidance(
            pack,
            state.stage,
            stage_started_at=state.stage_started_at or self.clock(),
            escalation_started_at=state.escalation_started_at,
            agreed_review_on=state.review_date,
            joined=joined,
        )
        variables = {
            field.name: getattr(stage_guidance, field.name)
            for field in dataclasses.fields(stage_guidance)
            if isinstance(getattr(stage_guidance, field.name), str)
        }
        turn.say("utter_stage", **variables)
        if offer_record:
            # The record, once opened, asks for the review date itself.
            turn.slots[AWAITING] = None
            turn.say("utter_offer_record")
        elif stage_guidance.needs_review_date:
            turn.slots[AWAITING] = AWAITING_REVIEW_DATE
            turn.say("utter_ask_review_date")
        else:
            turn.slots[AWAITING] = None
        return turn

    def resolved(self, state: State) -> Turn:
        """The disagreement was resolved: what to record, from the pack."""
        turn = Turn()
        pack = self.library.get(state.partnership)
        if pack is None or state.stage is None:
            turn.say("utter_resolved_no_walk")
            return turn
        facts = list(pack.record_keeping) or list(pack.stage(state.stage).record)
        turn.say(
            "utter_resolved",
            stage_title=pack.stage(state.stage).title,
            record=guidance.bullets(fact.text for fact in facts),
            sources=guidance.citation(pack, [fact.source for fact in facts]),
        )
        turn.slots.update({STAGE: None, STAGE_STARTED_AT: None, REVIEW_DATE: None, AWAITING: None})
        return turn

    def review_date(self, state: State, text: str) -> Turn:
        """The practitioner gives the review date they agreed; it becomes the due date."""
        turn = Turn()
        pack = self.library.get(state.partnership)
        today = self.clock().date()
        calendar = calendar_for(pack.bank_holidays) if pack else None
        try:
            agreed = parse_review_date(text, today, calendar)
        except PastDate as past:
            turn.say("utter_review_date_past", date=guidance.format_date(past.day))
            return turn
        if agreed is None:
            turn.say("utter_ask_review_date_again")
            return turn
        turn.slots[REVIEW_DATE] = agreed.isoformat()
        turn.slots[AWAITING] = None
        if pack is None or state.stage is None:
            turn.say("utter_review_date_noted", date=guidance.format_date(agreed), stage_title="this stage")
            return turn
        due = guidance.stage_guidance(
            pack,
            state.stage,
            stage_started_at=state.stage_started_at or self.clock(),
            escalation_started_at=state.escalation_started_at,
            agreed_review_on=agreed,
        ).due
        turn.say(
            "utter_review_date_noted",
            date=guidance.format_date(agreed),
            stage_title=pack.stage(state.stage).title,
        )
        if due.on is not None and due.on < agreed and due.basis is not DueBasis.AGREED_REVIEW:
            turn.say("utter_review_date_later_than_procedure", due=guidance.format_date(due.on))
        if calendar and not calendar.is_working_day(agreed):
            turn.say("utter_review_date_not_working_day")
        return turn

    # Questions and housekeeping -------------------------------------------------------------

    def question(self, state: State, text: str, previous_partnership: str | None = None) -> Turn:
        """A question about the procedure, answered from the partnership's pack; a "compare"
        question ("is it the same in Warrington?") is answered for both partnerships."""
        turn = Turn()
        pack = self.library.get(state.partnership)
        if pack is None:
            turn.slots[PENDING_QUESTION] = text
            return self._ask_partnership(state, turn, awaiting=AWAITING_OVERVIEW)
        packs = [pack]
        earlier = self.library.get(previous_partnership)
        if earlier is not None and earlier.id != pack.id and COMPARE.search(text.lower()):
            packs = [earlier, pack]
            # The earlier question, if this one only names the other partnership.
            if questions.read_question(text, pack).topic is None and state.pending_question:
                text = state.pending_question
        for each in packs:
            answered = questions.answer(each, questions.read_question(text, each))
            sources = guidance.citation(each, answered.sources) if answered.sources else ""
            turn.say("utter_answer", partnership=each.short_name, answer=answered.text, sources=sources)
        turn.slots.update({AWAITING: None, PENDING_QUESTION: text})
        return turn

    def question_instead(self, state: State, text: str, confidence: float, *, terse: bool = True) -> Turn | None:
        """The answer to a question the NLU took, unsure, for a command: "why was this briefing
        written?" for the briefing, "how long have we got to resolve it?" for saying it is
        resolved, "where are the escalations logged?" for one's own records. Only a message that
        asks something (a wh-word, no request) which the partnership's procedure plainly
        answers, or, ``terse``, a fragment naming a topic or a stage ("form stage 2"); None for
        anything else, which the command then does."""
        lowered = _lowered(text.strip())
        if confidence >= COMMAND_SURE or REQUESTED.search(lowered):
            return None
        if WH_ASKED.search(lowered):
            asked = self._plain_question(state, text)
        else:
            asked = self._terse_question(state, text) if terse else None
        return self.question(state, asked) if asked else None

    def _specific_question(self, state: State, text: str) -> str | None:
        """The question, if a message that states a disagreement also asks something specific of
        the procedure ("can we escalate jointly?", "how long does stage 2 take?", "am I even
        allowed to challenge them?"), which the partnership's pack answers, rather than what to do
        about it (which the walk answers); the whole message when the question only points back
        at it ("…they're the experts. Is that a known issue?")."""
        pack = self.library.get(state.partnership)
        asked = asked_part(text)
        if pack is None or not asked:
            return None
        if REFERS_BACK.search(_lowered(asked)):
            asked = text
        if ABOUT_THE_PROCEDURE.search(_lowered(asked)):
            return asked
        about = ABOUT_THE_PROCEDURE.search(_lowered(text))
        if about:
            # "…it's not safe at all. Who should I talk to?": from the sentence that says so on
            return _from_sentence_at(text, about.start())
        if WHAT_TO_DO.search(_lowered(text)):
            return None
        question = questions.read_question(asked, pack)
        if question.topic in SPECIFIC_TOPICS:
            return asked
        if question.topic is None and questions.best_relevance(pack, asked) >= QUESTION_BESIDE_A_WORRY:
            return asked
        return None

    def _asks_if_it_applies(self, state: State, text: str) -> bool:
        """Whether a message asks if the procedure is the one to use ("is this the process I
        use?", "can I use this protocol?")."""
        pack = self.library.get(state.partnership)
        asked = asked_part(text)
        return pack is not None and bool(asked) and questions.read_question(asked, pack).topic is questions.Topic.NOT_COVERED

    def _plain_question(self, state: State, text: str, *, by_structure: bool = True) -> str | None:
        """A question about the chosen partnership's procedure that its seed plainly answers: the
        whole message, or else its last sentence that asks ("I'm not sure about my thinking yet.
        Can I talk it over first?"); a message that asks what the procedure says, expects or
        allows; a short one that names a topic or a stage however typed ("stage 3 who"); or,
        ``by_structure``, a message that asks where it goes once a stage the pack names has
        failed ("heads of service have looked at it, still stuck. where now?"), asks about a
        stage it names by number, or asks something specific of the pack (the final decision, a
        timescale, the form, where disagreements arise). None if none of these."""
        pack = self.library.get(state.partnership)
        text = text.strip()
        if pack is None:
            return None
        if not ASKED.search(text.lower()):
            return self._terse_question(state, text)
        if ABOUT_THE_PROCEDURE.search(_lowered(text)):
            return text  # "…won't look again at it. What does the briefing expect in that situation?"
        if by_structure:
            read = questions.read_question(text, pack)
            if read.placed or read.topic in SPECIFIC_TOPICS:
                return text
        plain = next((each for each in (text, asked_part(text)) if each and questions.plainly_answers(pack, each)), None)
        return plain or self._terse_question(state, text)

    def _terse_question(self, state: State, text: str, *, by_meaning: bool = True) -> str | None:
        """The words of a short message besides the partnership's name, when they name a topic of
        its procedure or place a stage ("stage 3 who - bury adults" -> "stage 3 who") or, ``by_meaning``,
        a seed sentence answers them well ("debrief for staff"); else None."""
        pack = self.library.get(state.partnership)
        rest = self.library.without_names(text)
        if pack is None or not rest or len(rest.split()) > TERSE_WORDS:
            return None
        read = questions.read_question(rest, pack)
        # (a topic counts in the procedure's own words: "how long should I boil eggs" asks no timescale of it)
        named = read.topic in TERSE_TOPICS and PROCEDURE_WORDS.search(_lowered(rest))
        if read.placed or named or (by_meaning and questions.best_relevance(pack, rest) >= QUESTION_BESIDE_A_WORRY):
            return rest
        return None

    def _overview(self, state: State, turn: Turn) -> Turn:
        """The question asked before the partnership was known, now answered."""
        answered = self.question(state, state.pending_question or "what are the stages")
        turn.replies.extend(answered.replies)
        turn.slots.update(answered.slots)
        return turn

    def start_over(self, state: State) -> Turn:
        turn = Turn()
        for slot in (ROUTE, SUBJECT, STAGE, STAGE_STARTED_AT, ESCALATION_STARTED_AT, REVIEW_DATE, AWAITING, PARTNERSHIP_OPTIONS):
            turn.slots[slot] = None
        turn.say("utter_start_over")
        return turn

    def ask_partnership(self, state: State) -> Turn:
        """The partnership question with its buttons (also the escalation form's question)."""
        return self._ask_partnership(state, Turn())

    def ask_subject(self, state: State) -> Turn:
        turn = Turn()
        turn.say(
            "utter_ask_subject",
            buttons=[
                {"title": title, "payload": payload("inform_subject", subject=value)}
                for value, title in SUBJECT_BUTTON_TITLES.items()
            ],
        )
        return turn

    def _ask_partnership(
        self,
        state: State,
        turn: Turn,
        *,
        response: str = "utter_ask_partnership",
        awaiting: str = AWAITING_PARTNERSHIP,
    ) -> Turn:
        packs = [self.library[p] for p in state.partnership_options if p in self.library]
        if len(packs) > 1 and response == "utter_ask_partnership":
            response = "utter_ask_which_partnership"
        if not packs:
            packs = [
                pack
                for pack in self.library
                if state.subject is None or Subject(state.subject) in pack.covers
            ]
        turn.slots[AWAITING] = awaiting
        turn.say(
            response,
            buttons=[
                {"title": pack.short_name, "payload": payload("choose_partnership", partnership=pack.id)}
                for pack in packs
            ],
        )
        return turn
