"""What can be done to escalation records. Every function takes a keyword-only ``session`` (the
caller owns the transaction), writes the audit trail for each change, and raises ``RecordError``
with a sentence a practitioner can act on when it cannot do what was asked.
"""

from __future__ import annotations

import functools
import hashlib
import json
import re
import secrets
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any, Iterable

import yaml
from sqlalchemy import select
from sqlalchemy.orm import Session
from sqlalchemy.orm.attributes import flag_modified

from bot.procedures.schema import Pack
from bot.procedures.timescales import stage_due
from bot.records.models import (
    AuditEntry,
    Escalation,
    PartnershipContact,
    Person,
    ProcedureVersion,
    StageEntry,
    TrainingCompletion,
)
from bot.records.views import EscalationView, PersonView, StageView

CATEGORIES_FILE = Path(__file__).with_name("categories.yml")
REFERENCE = re.compile(r"\bESC-[0-9A-HJ-NP-Z]{6}\b", re.IGNORECASE)
REFERENCE_ALPHABET = "0123456789ABCDEFGHJKLMNPQRSTUVWXYZ"  # no I or O: read aloud, typed back
CASE_REFERENCE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9/_.-]{2,39}$")
MAX_TEXT = 2000  # characters in one free-text field: a summary, not a case file
OPEN, RESOLVED, CANCELLED = "open", "resolved", "cancelled"


class RecordError(ValueError):
    """Something the practitioner asked for cannot be done; ``str()`` says why and what next."""


class NoSuchEscalation(RecordError):
    pass


class NotYourEscalation(RecordError):
    pass


class FinalStageReached(RecordError):
    pass


class EscalationClosed(RecordError):
    pass


class InvalidValue(RecordError):
    pass


# Vocabulary -----------------------------------------------------------------------------------


@functools.lru_cache(maxsize=1)
def categories() -> dict[str, dict[str, Any]]:
    """Category key -> {label, words}: where disagreements arise, from the seeds' lists."""
    with CATEGORIES_FILE.open(encoding="utf-8") as handle:
        return yaml.safe_load(handle)


def category_label(key: str) -> str:
    return categories().get(key, {}).get("label", key)


def match_category(text: str) -> str | None:
    """The category a practitioner's answer names: a key, a label or one of its words."""
    lowered = re.sub(r"\s+", " ", text.lower()).strip()
    if lowered in categories():
        return lowered
    best: tuple[int, str] | None = None
    for key, entry in categories().items():
        for word in [entry["label"].lower(), *entry["words"]]:
            if re.search(rf"\b{re.escape(word)}\b", lowered):
                if best is None or len(word) > best[0]:
                    best = (len(word), key)
    return best[1] if best else None


def valid_case_reference(text: str) -> str:
    """The agency's case reference, trimmed, or ``InvalidValue`` saying what one looks like."""
    value = text.strip().strip(".").upper()
    if not CASE_REFERENCE.match(value) or not re.search(r"\d", value):
        raise InvalidValue(
            "A case reference is your agency's own number for the case, such as CSC-204518 or "
            "EH/12345: letters and digits, 3 to 40 characters, no spaces. Never a name or date "
            "of birth."
        )
    return value


def clean_text(text: str | None, field: str, *, required: bool = True) -> str | None:
    if text is None or not text.strip():
        if required:
            raise InvalidValue(f"The {field} cannot be empty.")
        return None
    value = text.strip()
    if len(value) > MAX_TEXT:
        raise InvalidValue(
            f"The {field} is {len(value)} characters; please keep it under {MAX_TEXT}: the detail "
            "belongs in your agency's case record."
        )
    return value


# Audit ----------------------------------------------------------------------------------------


def audit(
    session: Session, *, actor: str, action: str, at: datetime, reference: str | None = None, **detail: Any
) -> AuditEntry:
    """Append one entry: who did what, when; ``detail`` names fields, never free text."""
    entry = AuditEntry(at=at, actor=actor, escalation_reference=reference, action=action, detail=detail)
    session.add(entry)
    return entry


def actor_of(person: Person) -> str:
    return f"person:{person.id}"


def audit_trail(session: Session, *, reference: str) -> list[AuditEntry]:
    return list(
        session.scalars(
            select(AuditEntry).where(AuditEntry.escalation_reference == reference).order_by(AuditEntry.id)
        )
    )


# People ---------------------------------------------------------------------------------------


def person_for(session: Session, *, channel: str, channel_id: str, now: datetime) -> Person:
    """The person behind a channel identity, registered on first contact."""
    person = session.scalars(
        select(Person).where(Person.channel == channel, Person.channel_id == channel_id)
    ).first()
    if person is None:
        person = Person(channel=channel, channel_id=channel_id, created_at=now)
        session.add(person)
        session.flush()
        audit(session, actor=actor_of(person), action="person.registered", at=now, channel=channel)
    return person


def update_person(session: Session, *, person: Person, now: datetime, **changes: str | None) -> Person:
    """Set the person's own details (name, agency, role, partnership)."""
    allowed = {"name", "agency", "role", "partnership"}
    changed = []
    for field, value in changes.items():
        if field not in allowed:
            raise InvalidValue(f"{field} is not a detail of a person")
        value = clean_text(value, field, required=False)
        if value is not None and len(value) > 120:
            raise InvalidValue(f"Please keep your {field} under 120 characters.")
        if value is not None and getattr(person, field) != value:
            setattr(person, field, value)
            changed.append(field)
    if changed:
        audit(session, actor=actor_of(person), action="person.updated", at=now, fields=sorted(changed))
    return person


# Procedure versions ---------------------------------------------------------------------------


def pack_fingerprint(pack: Pack) -> str:
    content = json.dumps(json.loads(pack.json()), sort_keys=True, ensure_ascii=False)
    return hashlib.sha256(content.encode("utf-8")).hexdigest()


def procedure_version(session: Session, *, pack: Pack, now: datetime) -> ProcedureVersion:
    """The stored copy of this pack's content, kept so an escalation follows the procedure it
    started under even after the pack changes."""
    fingerprint = pack_fingerprint(pack)
    stored = session.get(ProcedureVersion, fingerprint)
    if stored is None:
        stored = ProcedureVersion(
            fingerprint=fingerprint,
            partnership=pack.id,
            version=pack.version,
            pack=json.loads(pack.json()),
            first_used_at=now,
        )
        session.add(stored)
        session.flush()
    return stored


def pack_of(escalation: Escalation) -> Pack:
    """The procedure an escalation follows: the version it started under."""
    return _pack_from_snapshot(escalation.procedure_fingerprint, json.dumps(escalation.procedure.pack))


@functools.lru_cache(maxsize=64)
def _pack_from_snapshot(fingerprint: str, content: str) -> Pack:
    return Pack.parse_raw(content)


# Escalations ----------------------------------------------------------------------------------


def _new_reference(session: Session) -> str:
    while True:
        reference = "ESC-" + "".join(secrets.choice(REFERENCE_ALPHABET) for _ in range(6))
        if session.scalars(select(Escalation.id).where(Escalation.reference == reference)).first() is None:
            return reference


def _start_stage(
    escalation: Escalation, pack: Pack, index: int, now: datetime, review_on: date | None = None
) -> StageEntry:
    first = escalation.stages[0].started_at if escalation.stages else now
    due = stage_due(pack, index, stage_started_at=now, escalation_started_at=first, agreed_review_on=review_on)
    stage = pack.stage(index)
    entry = StageEntry(
        index=index,
        key=stage.key,
        title=stage.title,
        started_at=now,
        due_on=due.on,
        due_basis=due.basis.value,
        review_on=review_on,
    )
    escalation.stages.append(entry)
    return entry


def _cleaned_answers(
    *, case_reference: str, other_agency: str, summary: str, desired_outcome: str, evidence: str | None
) -> dict[str, str | None]:
    """The escalation form's free-text answers as a record keeps them (raises ``InvalidValue``)."""
    return {
        "case_reference": valid_case_reference(case_reference),
        "other_agency": clean_text(other_agency, "other agency")[:120],
        "summary": clean_text(summary, "summary"),
        "desired_outcome": clean_text(desired_outcome, "desired outcome"),
        "evidence": clean_text(evidence, "evidence", required=False),
    }


def open_escalation(
    session: Session,
    *,
    person: Person,
    pack: Pack,
    subject: str,
    case_reference: str,
    other_agency: str,
    category: str,
    summary: str,
    desired_outcome: str,
    evidence: str | None = None,
    agencies: Iterable[str] = (),
    safeguarding_lead_aware: bool | None = None,
    review_on: date | None = None,
    now: datetime,
) -> Escalation:
    """Open an escalation at the pack's first stage, with that stage's due date."""
    if subject not in {s.value for s in pack.covers}:
        raise InvalidValue(
            f"The {pack.name} procedure covers {' and '.join(s.value for s in pack.covers)}, "
            f"not {subject}."
        )
    if category not in categories():
        raise InvalidValue(f"Unknown category '{category}'; choose one of: {', '.join(categories())}.")
    answers = _cleaned_answers(
        case_reference=case_reference, other_agency=other_agency, summary=summary,
        desired_outcome=desired_outcome, evidence=evidence,
    )  # fmt: skip
    escalation = Escalation(
        reference=_new_reference(session),
        partnership=pack.id,
        procedure_fingerprint=procedure_version(session, pack=pack, now=now).fingerprint,
        subject=subject,
        raised_by=person,
        agencies=sorted({a for a in agencies if a} | {answers["other_agency"]}),
        category=category,
        safeguarding_lead_aware=safeguarding_lead_aware,
        status=OPEN,
        opened_at=now,
        updated_at=now,
        **answers,
    )
    session.add(escalation)
    entry = _start_stage(escalation, pack, 0, now, review_on)
    session.flush()
    audit(
        session, actor=actor_of(person), action="escalation.opened", at=now,
        reference=escalation.reference, partnership=pack.id, stage=entry.key,
        due_on=entry.due_on.isoformat() if entry.due_on else None, category=category,
    )  # fmt: skip
    return escalation


def same_open_escalation(
    session: Session,
    *,
    person: Person,
    pack: Pack,
    subject: str,
    category: str,
    **answers: str | None,
) -> Escalation | None:
    """The person's open escalation that ``open_escalation`` with these answers would repeat, if
    there is one: same partnership, subject, case, other agency, category and the same words."""
    try:
        wanted = {"partnership": pack.id, "subject": subject, "category": category, **_cleaned_answers(**answers)}
    except InvalidValue:
        return None  # opening would refuse these answers anyway
    for escalation in escalations_of(session, person=person, status=OPEN):
        if all(getattr(escalation, field) == value for field, value in wanted.items()):
            return escalation
    return None


def _touch(escalation: Escalation, now: datetime) -> None:
    """Write the escalation row even if only its stages changed, so that its version check
    refuses a second, concurrent writer (optimistic locking)."""
    escalation.updated_at = now
    flag_modified(escalation, "updated_at")


def _require_open(escalation: Escalation) -> None:
    if escalation.status != OPEN:
        raise EscalationClosed(
            f"{escalation.reference} is {escalation.status}: it can be viewed but no longer changed."
        )


def record_stage(
    session: Session,
    *,
    escalation: Escalation,
    person: Person,
    now: datetime,
    involved: str | None = None,
    other_agency_position: str | None = None,
    outcome: str | None = None,
    key_points_in_writing: bool | None = None,
    review_on: date | None = None,
) -> StageEntry:
    """Record what happened at the current stage (only the fields given change; a value it already
    has is no change, so recording the same answers again adds nothing to the audit trail)."""
    _require_open(escalation)
    entry = escalation.stages[-1]
    changes = {
        "involved": clean_text(involved, "who was involved", required=False),
        "other_agency_position": clean_text(other_agency_position, "other agency's position", required=False),
        "outcome": clean_text(outcome, "outcome", required=False),
    }
    changed = []
    for field, value in changes.items():
        if value is not None and getattr(entry, field) != value:
            setattr(entry, field, value)
            changed.append(field)
    if key_points_in_writing is not None and entry.key_points_in_writing != key_points_in_writing:
        entry.key_points_in_writing = key_points_in_writing
        changed.append("key_points_in_writing")
    if review_on is not None and review_on != entry.review_on:
        if review_on < now.date():
            raise InvalidValue("The review date has already passed; give one from today.")
        pack = pack_of(escalation)
        due = stage_due(
            pack, entry.index, stage_started_at=entry.started_at,
            escalation_started_at=escalation.stages[0].started_at, agreed_review_on=review_on,
        )  # fmt: skip
        entry.review_on, entry.due_on, entry.due_basis = review_on, due.on, due.basis.value
        changed.append("review_on")
    if changed:
        _touch(escalation, now)
        audit(
            session, actor=actor_of(person), action="stage.recorded", at=now,
            reference=escalation.reference, stage=entry.key, fields=sorted(changed),
            key_points_in_writing=entry.key_points_in_writing,
            due_on=entry.due_on.isoformat() if entry.due_on else None,
        )  # fmt: skip
        session.flush()
    return entry


def escalate(session: Session, *, escalation: Escalation, person: Person, now: datetime) -> StageEntry:
    """Not resolved: close the current stage as unresolved and open the next, with its due date."""
    _require_open(escalation)
    pack = pack_of(escalation)
    current = escalation.stages[-1]
    if current.index >= len(pack.stages) - 1:
        raise FinalStageReached(
            f"{escalation.reference} is at {current.title}, the last stage of the {pack.short_name} "
            f"procedure: {pack.final_body.decides}"
        )
    current.resolved = False
    current.closed_at = now
    entry = _start_stage(escalation, pack, current.index + 1, now)
    _touch(escalation, now)
    session.flush()
    audit(
        session, actor=actor_of(person), action="stage.escalated", at=now,
        reference=escalation.reference, from_stage=current.key, to_stage=entry.key,
        due_on=entry.due_on.isoformat() if entry.due_on else None,
    )  # fmt: skip
    return entry


def close_resolved(
    session: Session,
    *,
    escalation: Escalation,
    person: Person,
    outcome: str,
    outcome_for_person: str,
    now: datetime,
) -> Escalation:
    """Resolved: close the current stage and the escalation, with the outcome for the child or
    adult."""
    _require_open(escalation)
    current = escalation.stages[-1]
    current.resolved = True
    current.closed_at = now
    current.outcome = current.outcome or clean_text(outcome, "outcome")
    escalation.outcome = clean_text(outcome, "outcome")
    escalation.outcome_for_person = clean_text(outcome_for_person, "outcome for the child or adult")
    escalation.status = RESOLVED
    escalation.closed_at = escalation.updated_at = now
    session.flush()
    audit(
        session, actor=actor_of(person), action="escalation.resolved", at=now,
        reference=escalation.reference, stage=current.key,
    )  # fmt: skip
    return escalation


def cancel(session: Session, *, escalation: Escalation, person: Person, now: datetime) -> Escalation:
    """Withdraw an escalation opened by mistake (kept, marked cancelled)."""
    _require_open(escalation)
    escalation.status = CANCELLED
    escalation.closed_at = escalation.updated_at = now
    escalation.stages[-1].closed_at = now
    session.flush()
    audit(session, actor=actor_of(person), action="escalation.cancelled", at=now, reference=escalation.reference)
    return escalation


# Reading --------------------------------------------------------------------------------------


def escalations_of(session: Session, *, person: Person, status: str | None = None) -> list[Escalation]:
    """The person's own escalations, newest first."""
    query = select(Escalation).where(Escalation.raised_by_id == person.id)
    if status:
        query = query.where(Escalation.status == status)
    return list(session.scalars(query.order_by(Escalation.opened_at.desc(), Escalation.id.desc())))


def find(session: Session, *, reference: str, person: Person | None) -> Escalation:
    """The escalation with ``reference``, for its owner or the owner's line manager (who is
    nudged about it and may answer for it); ``person`` None: an operator."""
    normalised = reference.strip().upper()
    escalation = session.scalars(select(Escalation).where(Escalation.reference == normalised)).first()
    if escalation is None:
        raise NoSuchEscalation(f"There is no escalation {normalised}. Say \"my escalations\" to list yours.")
    if person is not None and person.id not in (escalation.raised_by_id, escalation.raised_by.line_manager_id):
        raise NotYourEscalation(
            f"{normalised} is not one of your escalations. Say \"my escalations\" to list yours."
        )
    return escalation


def view(escalation: Escalation) -> EscalationView:
    """The decrypted, plain view of an escalation."""
    pack = pack_of(escalation)
    raised = escalation.raised_by
    return EscalationView(
        reference=escalation.reference,
        partnership=escalation.partnership,
        partnership_name=pack.name,
        procedure_version=pack.version,
        subject=escalation.subject,
        case_reference=escalation.case_reference,
        status=escalation.status,
        opened_at=escalation.opened_at,
        raised_by=PersonView(name=raised.name, role=raised.role, agency=raised.agency),
        other_agency=escalation.other_agency,
        agencies=tuple(escalation.agencies or ()),
        category=escalation.category,
        category_label=category_label(escalation.category),
        summary=escalation.summary,
        evidence=escalation.evidence,
        desired_outcome=escalation.desired_outcome,
        safeguarding_lead_aware=escalation.safeguarding_lead_aware,
        stages=tuple(
            StageView(
                index=s.index, key=s.key, title=s.title, started_at=s.started_at, due_on=s.due_on,
                due_basis=s.due_basis, review_on=s.review_on, involved=s.involved,
                other_agency_position=s.other_agency_position, outcome=s.outcome,
                key_points_in_writing=s.key_points_in_writing, resolved=s.resolved,
                closed_at=s.closed_at,
            )  # fmt: skip
            for s in escalation.stages
        ),
        outcome=escalation.outcome,
        outcome_for_person=escalation.outcome_for_person,
        closed_at=escalation.closed_at,
    )


# Retention ------------------------------------------------------------------------------------


def purge_closed(session: Session, *, retention_days: int, now: datetime, actor: str) -> list[str]:
    """Delete escalations closed more than ``retention_days`` ago; one audit entry each (the
    audit trail itself is kept). Returns the references purged."""
    cutoff = now - timedelta(days=retention_days)
    expired = list(
        session.scalars(
            select(Escalation).where(Escalation.status != OPEN, Escalation.closed_at < cutoff)
        )
    )
    references = []
    for escalation in expired:
        references.append(escalation.reference)
        audit(
            session, actor=actor, action="escalation.purged", at=now, reference=escalation.reference,
            closed_at=escalation.closed_at.isoformat(), retention_days=retention_days,
        )  # fmt: skip
        session.delete(escalation)
    session.flush()
    return references


# Training ---------------------------------------------------------------------------------------


def record_completion(
    session: Session, *, person: Person, partnership: str, score: int, total: int, now: datetime
) -> TrainingCompletion:
    """A finished Level 3 quiz, for the person's training record."""
    if not 0 <= score <= total or total < 1:
        raise InvalidValue(f"A score of {score} out of {total} is not possible.")
    completion = TrainingCompletion(person=person, partnership=partnership, score=score, total=total, completed_at=now)
    session.add(completion)
    session.flush()
    audit(session, actor=actor_of(person), action="training.completed", at=now, partnership=partnership, score=score, total=total)
    return completion


def completions(
    session: Session, *, partnership: str | None = None, manager: Person | None = None
) -> list[TrainingCompletion]:
    """Training completions, newest first; only a manager's team when ``manager`` is given."""
    query = select(TrainingCompletion).join(Person, TrainingCompletion.person_id == Person.id)
    if partnership:
        query = query.where(TrainingCompletion.partnership == partnership)
    if manager is not None:
        query = query.where(Person.line_manager_id == manager.id)
    return list(session.scalars(query.order_by(TrainingCompletion.completed_at.desc(), TrainingCompletion.id.desc())))


def agree_more_time(
    session: Session, *, escalation: Escalation, person: Person, until: date, now: datetime
) -> StageEntry:
    """More time agreed at the current stage: follow-ups wait until ``until``."""
    _require_open(escalation)
    if until <= now.date():
        raise InvalidValue("The date agreed has to be after today.")
    entry = escalation.stages[-1]
    if entry.more_time_until == until:
        return entry  # agreed already (the same message sent again): nothing changes
    entry.more_time_until = until
    _touch(escalation, now)
    session.flush()
    audit(
        session, actor=actor_of(person), action="stage.more_time", at=now,
        reference=escalation.reference, stage=entry.key, until=until.isoformat(),
    )  # fmt: skip
    return entry


# People and their managers -----------------------------------------------------------------


def set_line_manager(session: Session, *, person: Person, manager: Person | None, now: datetime, actor: str) -> None:
    """Link a practitioner to the line manager who is nudged about the stages managers own."""
    if manager is not None and manager.id == person.id:
        raise InvalidValue("A person cannot be their own line manager.")
    person.line_manager_id = manager.id if manager is not None else None
    session.flush()
    audit(session, actor=actor, action="person.line_manager", at=now, person=person.id,
          manager=manager.id if manager is not None else None)  # fmt: skip


def set_contact(session: Session, *, partnership: str, contact_id: str, person: Person, now: datetime, actor: str) -> None:
    """The person who receives a partnership contact's notifications (its business manager)."""
    row = session.scalars(
        select(PartnershipContact).where(
            PartnershipContact.partnership == partnership, PartnershipContact.contact_id == contact_id
        )
    ).first()
    if row is None:
        session.add(PartnershipContact(partnership=partnership, contact_id=contact_id, person_id=person.id))
    else:
        row.person_id = person.id
    session.flush()
    audit(session, actor=actor, action="partnership.contact", at=now, partnership=partnership,
          contact=contact_id, person=person.id)  # fmt: skip


# Registration -----------------------------------------------------------------------------------

EMAIL = re.compile(r"^[^@\s]+@([a-z0-9-]+(?:\.[a-z0-9-]+)+)$", re.I)


def email_domain(email: str) -> str:
    """The domain of a work e-mail address, or ``InvalidValue`` with a reason."""
    match = EMAIL.match(email.strip())
    if match is None:
        raise InvalidValue("That doesn't look like an e-mail address (name@agency.gov.uk).")
    return match.group(1).lower()


def registration_allowed(email: str, code: str | None, *, domains: Iterable[str], codes: Iterable[str]) -> bool:
    """The partnership's restriction: an allowed e-mail domain, or a valid invitation code (no
    restriction set: anyone)."""
    domains, codes = tuple(domains), tuple(codes)
    if not domains and not codes:
        return True
    domain = email_domain(email)
    if any(domain == allowed or domain.endswith("." + allowed) for allowed in domains):
        return True
    return bool(code) and any(secrets.compare_digest(code.strip(), valid) for valid in codes)


def _registered_details(person: Person) -> tuple:
    """What registering sets on a person, to tell a change from the same answers again."""
    return (
        person.agency, person.role, person.partnership, person.email_digest, person.email_domain,
        person.manager_email_digest, person.line_manager_id, person.registered_at,
    )  # fmt: skip


def register(
    session: Session, *, person: Person, email: str, manager_email: str | None, agency: str, role: str,
    partnership: str | None, now: datetime,
) -> tuple[Person | None, list[Person]]:
    """Register ``person``: agency, role, partnership, their work e-mail's digest, and their line
    manager by e-mail (linked now if that manager has registered, else when they do). Returns
    (their manager if linked, the practitioners now linked to *them* as manager)."""
    from bot.records.crypto import digest

    domain = email_domain(email)
    if manager_email and manager_email.strip().lower() == email.strip().lower():
        raise InvalidValue("That is your own e-mail: give your line manager's, or say none.")
    before = _registered_details(person)
    person.agency = clean_text(agency, "agency")[:120]
    person.role = clean_text(role, "role")[:120]
    person.partnership = partnership
    person.email_digest, person.email_domain = digest(email), domain
    person.manager_email_digest = digest(manager_email) if manager_email else None
    person.registered_at = person.registered_at or now
    manager = None
    if person.manager_email_digest:
        manager = session.scalars(
            select(Person).where(Person.email_digest == person.manager_email_digest, Person.registered_at.is_not(None))
        ).first()
        person.line_manager_id = manager.id if manager is not None else None
    team = list(session.scalars(select(Person).where(Person.manager_email_digest == person.email_digest, Person.id != person.id)))
    newly_linked = [member for member in team if member.line_manager_id != person.id]
    for member in team:
        member.line_manager_id = person.id
    session.flush()
    if _registered_details(person) != before or newly_linked:  # the same answers again (a replayed message) add nothing
        audit(session, actor=actor_of(person), action="person.registered_details", at=now, domain=domain,
              manager_linked=manager is not None, team_linked=len(team))  # fmt: skip
    return manager, team


def team_escalations(session: Session, *, manager: Person, status: str | None = None) -> list[Escalation]:
    """The escalations raised by the people ``manager`` line-manages, newest first."""
    query = select(Escalation).join(Person, Person.id == Escalation.raised_by_id).where(Person.line_manager_id == manager.id)
    if status:
        query = query.where(Escalation.status == status)
    return list(session.scalars(query.order_by(Escalation.opened_at.desc(), Escalation.id.desc())))
