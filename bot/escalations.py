"""The escalation record in conversation: open it from the form, advance or close it from a
stage's outcome, list and show a practitioner's records, produce the partnership's form.

Like ``bot.dialogue``, this returns ``Turn``s (replies naming domain responses, slot changes) and
knows nothing of Rasa; the database is the truth, so every turn reads the record afresh.
"""

from __future__ import annotations

import dataclasses
import logging
from datetime import date
from pathlib import Path
from typing import Any, Mapping

from sqlalchemy import select
from sqlalchemy.orm import Session

from bot.dialogue import (
    AWAITING,
    AWAITING_MORE_TIME,
    AWAITING_REVIEW_DATE,
    ESCALATION_STARTED_AT,
    PARTNERSHIP,
    REVIEW_DATE,
    ROUTE,
    STAGE,
    STAGE_STARTED_AT,
    SUBJECT,
    Assistant,
    State,
    Turn,
    payload,
)
from bot.procedures import guidance
from bot.procedures.schema import Pack
from bot.records import store
from bot.records.db import Database
from bot.procedures.timescales import calendar_for
from bot.records.models import Escalation, Nudge, Person, StageEntry
from bot.triage import DISAGREEMENT

logger = logging.getLogger(__name__)

# Slots of the forms (the domain declares the same).
CASE_REFERENCE = "case_reference"
OTHER_AGENCY = "other_agency"
CATEGORY = "category"
SUMMARY = "summary"
DESIRED_OUTCOME = "desired_outcome"
EVIDENCE = "evidence"
MY_AGENCY = "my_agency"
MY_ROLE = "my_role"
STAGE_OUTCOME = "stage_outcome"
KEY_POINTS_IN_WRITING = "key_points_in_writing"
OUTCOME_FOR_PERSON = "outcome_for_person"
OUTCOME_KIND = "outcome_kind"
ESCALATION_REF = "escalation_ref"
HAS_RECORD = "has_record"

WORK_EMAIL = "work_email"
INVITE_CODE = "invite_code"
MANAGER_EMAIL = "manager_email"
REGISTRATION_SLOTS = (WORK_EMAIL, INVITE_CODE, MANAGER_EMAIL)
NO_MANAGER = "none"  # the manager_email slot's value when there is no line manager to add
NO_MANAGER_WORDS = {"none", "no", "n/a", "na", "skip", "not applicable", "i am the manager", "i'm the manager", "no manager"}

ESCALATION_FORM_SLOTS = (CASE_REFERENCE, OTHER_AGENCY, CATEGORY, SUMMARY, DESIRED_OUTCOME, EVIDENCE, MY_AGENCY, MY_ROLE)
OTHER_AGENCY_POSITION = "other_agency_position"
OUTCOME_FORM_SLOTS = (STAGE_OUTCOME, OTHER_AGENCY_POSITION, KEY_POINTS_IN_WRITING, OUTCOME_FOR_PERSON, OUTCOME_KIND)
SKIPPED = "skip"  # the evidence slot's value when the practitioner will add it later
SKIP_WORDS = {"skip", "none", "none yet", "later", "n/a", "na", "not yet", "nothing yet", "-"}
FREE_TEXT_SLOTS = {
    OTHER_AGENCY: "other agency",
    SUMMARY: "summary",
    DESIRED_OUTCOME: "desired outcome",
    EVIDENCE: "evidence",
    MY_AGENCY: "agency",
    MY_ROLE: "role",
    STAGE_OUTCOME: "outcome",
    OTHER_AGENCY_POSITION: "other agency's position",
    OUTCOME_FOR_PERSON: "outcome for the child or adult",
}


@dataclasses.dataclass(frozen=True)
class Registration:
    """The partnership's rule for who may keep records: work e-mail domains or invitation codes
    (``BOT_REGISTRATION_DOMAINS``, ``BOT_REGISTRATION_CODES``). With neither, anyone may, and the
    escalation form's own questions (agency, role) register them."""

    domains: tuple[str, ...] = ()
    codes: tuple[str, ...] = ()

    @property
    def restricted(self) -> bool:
        return bool(self.domains or self.codes)


@dataclasses.dataclass(frozen=True)
class Caller:
    """Who is talking: their channel and their identity on it."""

    channel: str
    sender: str


def form_questions(
    library: Mapping[str, Pack], slots: Mapping[str, Any], person: Person | None, registration: tuple[str, ...] | list[str] = ()
) -> list[str]:
    """The escalation form's questions still to ask, given what the records know of ``person``
    and the ``registration`` questions they must answer first. ``person`` None: the records cannot
    be read just now, so their agency and role are asked (the answers wait in the conversation
    until the record can be written) and registration waits until the records can be read."""
    pack = library.get(slots.get(PARTNERSHIP))
    needed: list[str] = []
    if pack is None:
        needed.append(PARTNERSHIP)
    if slots.get(SUBJECT) is None and (pack is None or len(pack.covers) > 1):
        needed.append(SUBJECT)
    needed += [slot for slot in registration if slot not in needed]
    needed += [CASE_REFERENCE, OTHER_AGENCY, CATEGORY, SUMMARY, DESIRED_OUTCOME, EVIDENCE]
    if person is None or not person.agency:
        needed.append(MY_AGENCY)
    if person is None or not person.role:
        needed.append(MY_ROLE)
    return needed


def due_text(entry: StageEntry | Any) -> str:
    if entry.due_on is None:
        return "no due date yet: agree a review date"
    return f"due {guidance.format_date(entry.due_on)}"


def _moved_on(escalation: Escalation, stage_in_conversation: Any) -> bool:
    """Whether the record is no longer where the conversation last saw it (closed, or at another
    stage than the conversation's ``stage`` slot; a conversation without one is not checked)."""
    if escalation.status != store.OPEN:
        return True
    try:
        expected = int(float(stage_in_conversation))
    except (TypeError, ValueError):
        return False
    return expected != escalation.stages[-1].index


class Desk:
    """The records side of the conversation, over the procedure library and the database."""

    def __init__(
        self, assistant: Assistant, database: Database | None, documents_dir: Path, registration: Registration = Registration()
    ) -> None:
        """``database`` None: only the checks of answers, which read no records (``check_*``,
        ``registration_slots_needed``), for while the database cannot be reached."""
        self.assistant = assistant
        self.database = database
        self.documents_dir = documents_dir
        self.registration = registration

    @property
    def library(self):
        return self.assistant.library

    def _now(self):
        return self.assistant.clock()

    def _person(self, session: Session, caller: Caller) -> Person:
        return store.person_for(session, channel=caller.channel, channel_id=caller.sender, now=self._now())

    def _registered(self, session: Session, caller: Caller) -> Person:
        """The caller, who must be registered where the partnership restricts records."""
        person = self._person(session, caller)
        if self.registration.restricted and person.registered_at is None:
            raise store.RecordError("Only registered people can see escalation records: say \"register\" first.")
        return person

    # The escalation form --------------------------------------------------------------------

    def form_slots_needed(self, caller: Caller, slots: Mapping[str, Any]) -> list[str]:
        """The escalation form's questions still to ask: only what is missing."""
        with self.database.session() as session:
            person = self._person(session, caller)
            # Only registered people keep records where the partnership restricts them: register
            # first, inside the same form.
            register_first = self.registration.restricted and person.registered_at is None
            return form_questions(self.library, slots, person, self._registration_questions(slots) if register_first else ())

    def check_text(self, slot: str, value: Any) -> tuple[str | None, str | None, str | None]:
        """(value to keep, response to say, its 'problem' / 'found' text) for a free-text answer:
        personal data and over-long text are refused, so that nothing of them is stored."""
        from bot.records.privacy import contact_emails, describe, find_personal_data

        text = str(value or "").strip()
        if slot == EVIDENCE and text.lower().strip(".! ") in SKIP_WORDS:
            return SKIPPED, None, None
        if not text:
            return None, "utter_wrong_text", f"Please give the {FREE_TEXT_SLOTS[slot]} in a few words."
        findings = find_personal_data(text, allowed_emails=contact_emails(self.library))
        if findings:
            return None, "utter_personal_data_found", describe(findings)
        if len(text) > store.MAX_TEXT:
            return None, "utter_wrong_text", (
                f"That is {len(text)} characters; please keep it under {store.MAX_TEXT}: the detail "
                "belongs in your agency's case record."
            )
        return text, None, None

    @staticmethod
    def check_case_reference(value: Any) -> tuple[str | None, str | None]:
        from bot.records.privacy import describe, find_personal_data

        text = str(value or "")
        findings = find_personal_data(text)
        if findings:
            return None, f"That looks like it contains {describe(findings)}. " + (
                "Please give only your agency's case reference, such as CSC-204518."
            )
        try:
            return store.valid_case_reference(text), None
        except store.InvalidValue as error:
            return None, str(error)

    def open(self, caller: Caller, slots: Mapping[str, Any]) -> Turn:
        """Open the escalation from the filled form, at the pack's first stage."""
        if slots.get("training_active"):
            raise store.InvalidValue(
                "In training mode nothing is recorded. Say \"stop training\" first if this is a real disagreement."
            )
        turn = Turn()
        state = State.from_slots(slots)
        pack = self.library[slots[PARTNERSHIP]]
        subject = slots.get(SUBJECT) or pack.covers[0].value
        now = self._now()
        evidence = slots.get(EVIDENCE)
        if slots.get(WORK_EMAIL):
            turn.replies.extend(self.register(caller, {**slots, PARTNERSHIP: pack.id}).replies)
        with self.database.session() as session:
            person = self._person(session, caller)
            if self.registration.restricted and person.registered_at is None:
                raise store.InvalidValue("Only registered people can keep escalation records: say \"register\" first.")
            store.update_person(
                session, person=person, now=now, agency=slots.get(MY_AGENCY), role=slots.get(MY_ROLE),
                partnership=pack.id,
            )  # fmt: skip
            person.registered_at = person.registered_at or now  # unrestricted: the form registered them
            answers = dict(
                pack=pack, subject=subject, case_reference=slots[CASE_REFERENCE], other_agency=slots[OTHER_AGENCY],
                category=slots[CATEGORY], summary=slots[SUMMARY], desired_outcome=slots[DESIRED_OUTCOME],
                evidence=None if evidence == SKIPPED else evidence,
            )  # fmt: skip
            # The same answers again (the form's last answer sent twice, or sent again after its
            # reply was lost to a crash once the record was written) find that record: one, not two.
            escalation = store.same_open_escalation(session, person=person, **answers)
            response = "utter_escalation_already_open"
            if escalation is None:
                escalation = store.open_escalation(
                    session, person=person, **answers, agencies=[a for a in (person.agency, slots[OTHER_AGENCY]) if a],
                    review_on=state.review_date if state.stage in (None, 0) else None, now=now,
                )  # fmt: skip
                response = "utter_escalation_opened"
            entry = escalation.stages[-1]
            turn.say(
                response, reference=escalation.reference, case_reference=escalation.case_reference,
                stage_title=entry.title, due=due_text(entry),
            )  # fmt: skip
            self._follow(turn, escalation, entry)
        turn.slots.update({slot: None for slot in (*ESCALATION_FORM_SLOTS, *REGISTRATION_SLOTS)})
        if entry.due_on is None:
            turn.slots[AWAITING] = AWAITING_REVIEW_DATE
            turn.say("utter_ask_review_date")
        return turn

    def _follow(self, turn: Turn, escalation: Escalation, entry: StageEntry) -> None:
        """Point the conversation's slots at this record and its current stage."""
        turn.slots.update(
            {
                ESCALATION_REF: escalation.reference,
                HAS_RECORD: escalation.status == store.OPEN,
                ROUTE: DISAGREEMENT,
                PARTNERSHIP: escalation.partnership,
                SUBJECT: escalation.subject,
                STAGE: float(entry.index) if escalation.status == store.OPEN else None,
                STAGE_STARTED_AT: entry.started_at.isoformat(),
                ESCALATION_STARTED_AT: escalation.stages[0].started_at.isoformat(),
                REVIEW_DATE: entry.review_on.isoformat() if entry.review_on else None,
            }
        )

    # A stage's outcome ----------------------------------------------------------------------

    def current_stage_title(self, caller: Caller, reference: str | None) -> str:
        with self.database.session() as session:
            escalation = store.find(session, reference=reference or "", person=self._person(session, caller))
            return escalation.stages[-1].title

    def advance(self, caller: Caller, slots: Mapping[str, Any]) -> Turn:
        """Record the stage's outcome, then close as resolved or move to the next stage."""
        turn = Turn()
        now = self._now()
        form_due = False
        with self.database.session() as session:
            person = self._person(session, caller)
            escalation = store.find(session, reference=slots.get(ESCALATION_REF) or "", person=person)
            if _moved_on(escalation, slots.get(STAGE)):
                # The conversation is behind the record: this outcome was recorded already (its
                # reply lost to a crash, and the message sent again) or someone else moved the
                # record on. Recording it again would move the record twice.
                entry = escalation.stages[-1]
                where = f"at {entry.title}, {due_text(entry)}" if escalation.status == store.OPEN else f"closed as {escalation.status}"
                turn.say("utter_escalation_already_moved", reference=escalation.reference, where=where)
                self._follow(turn, escalation, entry)
                turn.slots.update({slot: None for slot in OUTCOME_FORM_SLOTS})
                return turn
            store.record_stage(
                session, escalation=escalation, person=person, now=now,
                outcome=slots.get(STAGE_OUTCOME), key_points_in_writing=slots.get(KEY_POINTS_IN_WRITING),
                other_agency_position=slots.get(OTHER_AGENCY_POSITION),
            )  # fmt: skip
            pack = store.pack_of(escalation)
            if slots.get(OUTCOME_KIND) == "resolved":
                entry = escalation.stages[-1]
                store.close_resolved(
                    session, escalation=escalation, person=person, now=now,
                    outcome=slots.get(STAGE_OUTCOME), outcome_for_person=slots.get(OUTCOME_FOR_PERSON),
                )  # fmt: skip
                turn.say("utter_escalation_resolved", reference=escalation.reference, stage_title=entry.title)
                facts = list(pack.record_keeping) or list(pack.stage(entry.index).record)
                turn.say(
                    "utter_resolved", stage_title=entry.title,
                    record=guidance.bullets(fact.text for fact in facts),
                    sources=guidance.citation(pack, [fact.source for fact in facts]),
                )  # fmt: skip
                self._follow(turn, escalation, entry)
                turn.slots.update({STAGE: None, HAS_RECORD: False})
            else:
                try:
                    entry = store.escalate(session, escalation=escalation, person=person, now=now)
                except store.FinalStageReached:
                    entry = escalation.stages[-1]
                    turn.say(
                        "utter_escalation_final", reference=escalation.reference, stage_title=entry.title,
                        decides=pack.final_body.decides, sources=guidance.citation(pack, [pack.final_body.source]),
                    )  # fmt: skip
                    self._follow(turn, escalation, entry)
                else:
                    stage = pack.stage(entry.index)
                    turn.say(
                        "utter_escalation_moved", reference=escalation.reference, stage_title=entry.title,
                        due=due_text(entry), raised_by=stage.raised_by, raised_with=stage.raised_with,
                    )  # fmt: skip
                    self._follow(turn, escalation, entry)
                    self._say_stage(turn, pack, escalation, entry)
                    form_due = stage.form is not None
        if form_due:
            # The seed asks for its form at this stage: produce it now, not only when asked.
            turn.replies.extend(self.document(caller, escalation.reference).replies)
        turn.slots.update({slot: None for slot in OUTCOME_FORM_SLOTS})
        return turn

    def _say_stage(self, turn: Turn, pack: Pack, escalation: Escalation, entry: StageEntry) -> None:
        said = guidance.stage_guidance(
            pack, entry.index, stage_started_at=entry.started_at,
            escalation_started_at=escalation.stages[0].started_at, agreed_review_on=entry.review_on,
        )  # fmt: skip
        turn.say("utter_stage", **{f.name: getattr(said, f.name) for f in dataclasses.fields(said) if isinstance(getattr(said, f.name), str)})
        if said.needs_review_date:
            turn.slots[AWAITING] = AWAITING_REVIEW_DATE
            turn.say("utter_ask_review_date")

    def set_review_date(self, caller: Caller, reference: str, review_on: date) -> None:
        """The agreed review date of the record's current stage (its due date where the
        procedure sets none)."""
        with self.database.session() as session:
            person = self._person(session, caller)
            escalation = store.find(session, reference=reference, person=person)
            store.record_stage(session, escalation=escalation, person=person, now=self._now(), review_on=review_on)

    # Reading ---------------------------------------------------------------------------------

    def list_mine(self, caller: Caller) -> Turn:
        turn = Turn()
        with self.database.session() as session:
            person = self._registered(session, caller)
            own = store.escalations_of(session, person=person)
            team = store.team_escalations(session, manager=person)
            if not own and not team:
                turn.say("utter_no_escalations")
                return turn
            lines, buttons = [], []
            for escalation in [*own[:10], *team[:10]]:
                entry = escalation.stages[-1]
                state = due_text(entry) if escalation.status == store.OPEN else escalation.status
                whose = "" if escalation.raised_by_id == person.id else f" (your team, {escalation.raised_by.agency or 'another agency'})"
                lines.append(f"{escalation.reference}{whose}: case {escalation.case_reference}, {entry.title}, {state}")
                buttons.append({"title": escalation.reference, "payload": payload("show_escalation", reference=escalation.reference)})
        turn.say("utter_escalations_list", buttons=buttons, lines=guidance.bullets(lines))
        return turn

    def show(self, caller: Caller, reference: str) -> Turn:
        turn = Turn()
        with self.database.session() as session:
            escalation = store.find(session, reference=reference, person=self._registered(session, caller))
            timeline = []
            for entry in escalation.stages:
                if entry.resolved is True:
                    state = f"resolved {entry.closed_at.date():%d/%m}"
                elif entry.resolved is False:
                    state = f"not resolved, moved on {entry.closed_at.date():%d/%m}"
                else:
                    state = due_text(entry)
                writing = {True: ", key points in writing", False: ", key points not in writing"}.get(entry.key_points_in_writing, "")
                timeline.append(f"{entry.title}: started {guidance.format_date(entry.started_at.date())}, {state}{writing}")
            turn.say(
                "utter_escalation_detail", reference=escalation.reference, status=escalation.status,
                case_reference=escalation.case_reference, other_agency=escalation.other_agency,
                category=store.category_label(escalation.category), timeline=guidance.bullets(timeline),
            )  # fmt: skip
            self._follow(turn, escalation, escalation.stages[-1])
        return turn

    def welcome_back(self, caller: Caller) -> Turn:
        """On a new session: where the practitioner's most recent open escalation stands."""
        turn = Turn()
        with self.database.session() as session:
            person = self._person(session, caller)
            open_ones = store.escalations_of(session, person=person, status=store.OPEN)
            if open_ones:
                escalation = open_ones[0]
                entry = escalation.stages[-1]
                turn.say("utter_welcome_back", reference=escalation.reference, stage_title=entry.title, due=due_text(entry))
                self._follow(turn, escalation, entry)
        return turn

    # Registration ---------------------------------------------------------------------------

    def _registration_questions(self, slots: Mapping[str, Any]) -> list[str]:
        needed = [WORK_EMAIL]
        email = slots.get(WORK_EMAIL)
        if self.registration.codes and email and not self._domain_admits(email):
            needed.append(INVITE_CODE)  # the e-mail's domain alone does not admit them
        needed.append(MANAGER_EMAIL)
        return needed

    def _domain_admits(self, email: str) -> bool:
        domains = self.registration.domains
        return bool(domains) and store.registration_allowed(email, None, domains=domains, codes=())

    def registration_slots_needed(self, caller: Caller, slots: Mapping[str, Any]) -> list[str]:
        """The registration form's questions: partnership, agency, role, work e-mail, an
        invitation code where the partnership needs one, the line manager's e-mail."""
        needed = [] if self.library.get(slots.get(PARTNERSHIP)) else [PARTNERSHIP]
        return needed + [MY_AGENCY, MY_ROLE, *self._registration_questions(slots)]

    def check_work_email(self, value: Any) -> tuple[str | None, str | None]:
        """(e-mail to keep, problem to say) for the practitioner's work e-mail."""
        text = str(value or "").strip()
        try:
            domain = store.email_domain(text)
        except store.InvalidValue as error:
            return None, str(error)
        domains = self.registration.domains
        if domains and not self.registration.codes and not self._domain_admits(text):
            return None, (
                f"The partnership keeps records for staff with e-mail addresses at {', '.join(domains)}; "
                f"{domain} is not one of them. Use your work e-mail, or ask your safeguarding lead."
            )
        return text, None

    def check_invite_code(self, value: Any, email: str | None) -> tuple[str | None, str | None]:
        code = str(value or "").strip()
        if store.registration_allowed(email or "x@invalid.invalid", code, domains=(), codes=self.registration.codes):
            return code, None
        return None, "That invitation code isn't one the partnership has issued. Check it with whoever sent it."

    @staticmethod
    def check_manager_email(value: Any, email: str | None) -> tuple[str | None, str | None]:
        text = str(value or "").strip()
        if text.lower().strip(".! ") in NO_MANAGER_WORDS:
            return NO_MANAGER, None
        try:
            store.email_domain(text)
        except store.InvalidValue as error:
            return None, f"{error} Or say \"none\"."
        if email and text.lower() == email.lower():
            return None, "That is your own e-mail: give your line manager's, or say \"none\"."
        return text, None

    def register(self, caller: Caller, slots: Mapping[str, Any]) -> Turn:
        """Register the caller from the form; link their manager, or say when it will happen."""
        turn = Turn()
        email = slots.get(WORK_EMAIL) or ""
        if not store.registration_allowed(email, slots.get(INVITE_CODE), domains=self.registration.domains,
                                          codes=self.registration.codes):  # fmt: skip
            raise store.InvalidValue("The partnership's registration needs an allowed work e-mail or an invitation code.")
        manager_email = slots.get(MANAGER_EMAIL)
        with self.database.session() as session:
            person = self._person(session, caller)
            manager, team = store.register(
                session, person=person, email=email, agency=slots.get(MY_AGENCY) or person.agency or "",
                role=slots.get(MY_ROLE) or person.role or "", partnership=slots.get(PARTNERSHIP),
                manager_email=None if manager_email in (None, NO_MANAGER) else manager_email, now=self._now(),
            )  # fmt: skip
            turn.say("utter_registered", agency=person.agency, role=person.role)
            if manager is not None:
                turn.say("utter_manager_linked", manager=f"{manager.role or 'line manager'} at {manager.agency or 'your agency'}")
            elif manager_email not in (None, NO_MANAGER):
                turn.say("utter_manager_pending")
            if team:
                turn.say("utter_now_manager_of", count=str(len(team)))
        turn.slots.update({slot: None for slot in REGISTRATION_SLOTS})
        return turn

    # Nudges --------------------------------------------------------------------------------

    def nudge(self, caller: Caller, key: str, *, follow: bool = True) -> Turn:
        """The message of the nudge with ``key`` (``bot.nudges``), in its recipient's conversation:
        the stage due or overdue, with buttons that act on the record; or a partnership contact's
        notification. ``follow``: point the conversation at the record (not inside a form)."""
        from bot.nudges.plan import MANAGER, NOTIFY, OVERDUE

        turn = Turn()
        try:
            escalation_id, stage_index, kind, due_on = key.split(":", 3)
            due = date.fromisoformat(due_on)
        except ValueError:
            logger.warning("nudge with a malformed key %r ignored", key)
            return turn
        with self.database.session() as session:
            nudge = session.scalars(
                select(Nudge).where(
                    Nudge.escalation_id == int(escalation_id), Nudge.stage_index == int(stage_index),
                    Nudge.kind == kind, Nudge.due_on == due,
                )  # fmt: skip
            ).first()
            if nudge is None or (nudge.recipient.channel_id != caller.sender):
                logger.warning("nudge %s is not for this conversation: not shown", key)
                return turn
            escalation = nudge.escalation
            pack = store.pack_of(escalation)
            stage = pack.stage(nudge.stage_index)
            common = {"reference": escalation.reference, "stage_title": stage.title, "partnership": pack.short_name}
            if kind.startswith(NOTIFY):
                form = next((f for f in pack.forms if f.id == stage.form), None)
                turn.say(
                    "utter_nudge_notify", **common, subject=escalation.subject,
                    category=store.category_label(escalation.category),
                    agencies=", ".join(escalation.agencies or [escalation.other_agency]),
                    form=f" ({form.title})" if form else "", sources=guidance.citation(pack, [stage.source]),
                )  # fmt: skip
                return turn
            entry = escalation.stages[-1]
            if stage.if_not_resolved:
                next_step = stage.if_not_resolved
            elif nudge.stage_index + 1 < len(pack.stages):
                following = pack.stage(nudge.stage_index + 1)
                next_step = f"{following.title}: {following.raised_by} with {following.raised_with}."
            else:
                next_step = pack.final_body.decides
            late = calendar_for(pack.bank_holidays).working_days_between(due, self._now().date())
            buttons = [
                {"title": "Resolved", "payload": payload("resolved")},
                {"title": "Not resolved: escalate", "payload": payload("not_resolved")},
                {"title": "We agreed more time", "payload": payload("more_time")},
            ]
            response = "utter_nudge_" + ("overdue" if kind.startswith(OVERDUE) else "due") + ("_manager" if kind.endswith(MANAGER) else "")
            turn.say(
                response, buttons=buttons, **common, due=guidance.format_date(due), late=str(late),
                agency=escalation.raised_by.agency or "another agency", next_step=next_step,
                sources=guidance.citation(pack, [stage.timescale.source or stage.source]),
            )  # fmt: skip
            if follow and escalation.status == store.OPEN:
                self._follow(turn, escalation, entry)
        return turn

    def ask_more_time(self, caller: Caller, reference: str | None) -> Turn:
        turn = Turn()
        title = self.current_stage_title(caller, reference)
        turn.say("utter_ask_more_time", stage_title=title)
        turn.slots[AWAITING] = AWAITING_MORE_TIME
        return turn

    def agree_more_time(self, caller: Caller, reference: str, text: str) -> Turn:
        """The date the other agency agreed to: the stage is chased then, not at its due date."""
        from bot.nlp.dates import PastDate, parse_review_date

        turn = Turn()
        now = self._now()
        with self.database.session() as session:
            person = self._person(session, caller)
            escalation = store.find(session, reference=reference, person=person)
            pack = store.pack_of(escalation)
            try:
                until = parse_review_date(text, now.date(), calendar_for(pack.bank_holidays))
            except PastDate as past:
                turn.say("utter_review_date_past", date=guidance.format_date(past.day))
                return turn
            if until is None:
                turn.say("utter_ask_review_date_again")
                return turn
            entry = store.agree_more_time(session, escalation=escalation, person=person, until=until, now=now)
            turn.say("utter_more_time_noted", reference=escalation.reference, stage_title=entry.title,
                     date=guidance.format_date(until))  # fmt: skip
        turn.slots[AWAITING] = None
        return turn

    # The partnership's form --------------------------------------------------------------

    def document(self, caller: Caller, reference: str) -> Turn:
        """Make the partnership's form (or the record summary) as a Word file, and offer it."""
        from bot.documents.forms import render

        turn = Turn()
        with self.database.session() as session:
            escalation = store.find(session, reference=reference, person=self._person(session, caller))
            seen = store.view(escalation)
            pack = store.pack_of(escalation)
            name, data = render(seen, pack, today=self._now().date())
            store.audit(
                session, actor=store.actor_of(escalation.raised_by), action="document.produced",
                at=self._now(), reference=escalation.reference, document=name,
            )  # fmt: skip
        folder = self.documents_dir / seen.reference
        folder.mkdir(parents=True, exist_ok=True)
        path = folder / name
        path.write_bytes(data)
        path.chmod(0o600)
        title = name[len(seen.reference) + 1 : -len(".docx")].replace("-", " ").capitalize()
        turn.say("utter_form_ready", title=title, reference=seen.reference, path=str(path))
        turn.replies[-1] = dataclasses.replace(
            turn.replies[-1],
            attachment={"type": "file", "name": name, "path": str(path),
                        "mime": "application/vnd.openxmlformats-officedocument.wordprocessingml.document"},
        )  # fmt: skip
        return turn
