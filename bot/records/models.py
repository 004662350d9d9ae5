"""The escalation records: people, escalations, their stages, procedure versions, audit trail.

The child or adult is identified by the agency's own case reference only. Free text (what the
practitioner writes about the case, and their own name) is encrypted at rest (``crypto``).
"""

from __future__ import annotations

from datetime import timezone

from sqlalchemy import (
    JSON,
    Boolean,
    Column,
    Date,
    DateTime,
    ForeignKey,
    Integer,
    String,
    UniqueConstraint,
)
from sqlalchemy.orm import declarative_base, relationship
from sqlalchemy.types import TypeDecorator

from bot.records.crypto import EncryptedText

Base = declarative_base()


class AwareDateTime(TypeDecorator):
    """A timezone-aware moment, stored as UTC (SQLite keeps no offsets), read back as UTC."""

    impl = DateTime
    cache_ok = True

    def process_bind_param(self, value, dialect):
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("records store timezone-aware datetimes only")
        return value.astimezone(timezone.utc).replace(tzinfo=None)

    def process_result_value(self, value, dialect):
        if value is None:
            return None
        return value.replace(tzinfo=timezone.utc) if value.tzinfo is None else value


class Person(Base):
    """A practitioner or manager, once per channel identity."""

    __tablename__ = "people"
    __table_args__ = (UniqueConstraint("channel", "channel_id", name="uq_people_channel_identity"),)

    id = Column(Integer, primary_key=True)
    channel = Column(String(32), nullable=False)
    channel_id = Column(String(128), nullable=False)
    name = Column(EncryptedText)
    agency = Column(String(120))
    role = Column(String(120))
    partnership = Column(String(64))
    line_manager_id = Column(Integer, ForeignKey("people.id", ondelete="SET NULL"))
    created_at = Column(AwareDateTime(), nullable=False)
    # Registration: the work e-mail as a keyed digest (matching a manager to their team) and its
    # domain (the partnership's restriction), never the address itself.
    email_digest = Column(String(64), index=True)
    email_domain = Column(String(120))
    manager_email_digest = Column(String(64), index=True)  # until that manager registers
    registered_at = Column(AwareDateTime())

    line_manager = relationship("Person", remote_side=[id])


class ProcedureVersion(Base):
    """A pack as it was when an escalation started under it (its content, by fingerprint)."""

    __tablename__ = "procedure_versions"

    fingerprint = Column(String(64), primary_key=True)
    partnership = Column(String(64), nullable=False)
    version = Column(String(200), nullable=False)
    pack = Column(JSON, nullable=False)
    first_used_at = Column(AwareDateTime(), nullable=False)


class Escalation(Base):
    """One professional disagreement being escalated."""

    __tablename__ = "escalations"

    id = Column(Integer, primary_key=True)
    reference = Column(String(16), nullable=False, unique=True)
    partnership = Column(String(64), nullable=False, index=True)
    procedure_fingerprint = Column(
        String(64), ForeignKey("procedure_versions.fingerprint"), nullable=False
    )
    subject = Column(String(16), nullable=False)  # children / adults
    case_reference = Column(String(64), nullable=False)
    raised_by_id = Column(Integer, ForeignKey("people.id"), nullable=False, index=True)
    other_agency = Column(String(120), nullable=False)
    agencies = Column(JSON, nullable=False, default=list)
    category = Column(String(40), nullable=False)
    summary = Column(EncryptedText, nullable=False)
    evidence = Column(EncryptedText)
    desired_outcome = Column(EncryptedText, nullable=False)
    safeguarding_lead_aware = Column(Boolean)
    status = Column(String(16), nullable=False, default="open", index=True)
    opened_at = Column(AwareDateTime(), nullable=False)
    updated_at = Column(AwareDateTime(), nullable=False)
    closed_at = Column(AwareDateTime())
    outcome = Column(EncryptedText)
    outcome_for_person = Column(EncryptedText)
    version_id = Column(Integer, nullable=False)

    raised_by = relationship("Person")
    procedure = relationship("ProcedureVersion")
    stages = relationship(
        "StageEntry",
        order_by="StageEntry.index",
        back_populates="escalation",
        cascade="all, delete-orphan",
    )

    # Two writers on one escalation (two devices, a nudge reply): the second is refused, not lost.
    __mapper_args__ = {"version_id_col": version_id}


class StageEntry(Base):
    """An escalation's time at one stage of its procedure."""

    __tablename__ = "stage_entries"
    __table_args__ = (UniqueConstraint("escalation_id", "index", name="uq_stage_entries_position"),)

    id = Column(Integer, primary_key=True)
    escalation_id = Column(
        Integer, ForeignKey("escalations.id", ondelete="CASCADE"), nullable=False, index=True
    )
    index = Column(Integer, nullable=False)
    key = Column(String(40), nullable=False)
    title = Column(String(240), nullable=False)
    started_at = Column(AwareDateTime(), nullable=False)
    due_on = Column(Date)
    due_basis = Column(String(24), nullable=False)
    review_on = Column(Date)
    involved = Column(EncryptedText)
    other_agency_position = Column(EncryptedText)
    outcome = Column(EncryptedText)
    key_points_in_writing = Column(Boolean)
    resolved = Column(Boolean)
    closed_at = Column(AwareDateTime())
    # More time agreed with the other agency: nudges wait for this date instead of ``due_on``.
    more_time_until = Column(Date)

    escalation = relationship("Escalation", back_populates="stages")

    @property
    def nudge_due_on(self):
        """The date the stage is chased on: the agreed extension, else its due date."""
        return self.more_time_until or self.due_on


class AuditEntry(Base):
    """Who changed what, when. Append-only: the database refuses updates and deletes.

    ``detail`` names the fields changed and non-identifying values (stage, status, dates), never
    the free text itself.
    """

    __tablename__ = "audit_trail"

    id = Column(Integer, primary_key=True)
    at = Column(AwareDateTime(), nullable=False, index=True)
    actor = Column(String(160), nullable=False)
    escalation_reference = Column(String(16), index=True)
    action = Column(String(48), nullable=False)
    detail = Column(JSON, nullable=False, default=dict)


class TrainingCompletion(Base):
    """A finished Level 3 quiz: who, when, which partnership's procedure, the score."""

    __tablename__ = "training_completions"

    id = Column(Integer, primary_key=True)
    person_id = Column(Integer, ForeignKey("people.id", ondelete="CASCADE"), nullable=False, index=True)
    partnership = Column(String(64), nullable=False)
    completed_at = Column(AwareDateTime(), nullable=False)
    score = Column(Integer, nullable=False)
    total = Column(Integer, nullable=False)

    person = relationship("Person")


class PartnershipContact(Base):
    """Who receives a partnership contact's notifications (e.g. South Tyneside's Business
    Manager at Stage 2): a contact id of the pack, and the person on a channel."""

    __tablename__ = "partnership_contacts"
    __table_args__ = (UniqueConstraint("partnership", "contact_id", name="uq_partnership_contacts"),)

    id = Column(Integer, primary_key=True)
    partnership = Column(String(64), nullable=False)
    contact_id = Column(String(64), nullable=False)
    person_id = Column(Integer, ForeignKey("people.id", ondelete="CASCADE"), nullable=False)

    person = relationship("Person")


class Nudge(Base):
    """A follow-up owed to someone about an escalation's stage.

    The key (escalation, stage, kind, due date) is unique: the row is written before anything is
    sent, so a restart, a crash mid-send or two sweeps at once find it and never send it twice.
    A sweep claims a row for ``claimed_until``; a claim that outlives a crashed sweep expires and
    the next sweep delivers it (checking first whether it arrived).
    """

    __tablename__ = "nudges"
    __table_args__ = (
        UniqueConstraint("escalation_id", "stage_index", "kind", "due_on", name="uq_nudges_key"),
    )

    id = Column(Integer, primary_key=True)
    escalation_id = Column(Integer, ForeignKey("escalations.id", ondelete="CASCADE"), nullable=False)
    stage_index = Column(Integer, nullable=False)
    kind = Column(String(40), nullable=False)
    due_on = Column(Date, nullable=False)
    recipient_id = Column(Integer, ForeignKey("people.id", ondelete="CASCADE"), nullable=False)
    status = Column(String(16), nullable=False, index=True)  # pending / sent / undeliverable
    created_at = Column(AwareDateTime(), nullable=False)
    next_attempt_at = Column(AwareDateTime(), nullable=False, index=True)
    claim_token = Column(String(32))
    claimed_until = Column(AwareDateTime())
    attempts = Column(Integer, nullable=False, default=0)
    sent_at = Column(AwareDateTime())
    last_error = Column(String(240))

    escalation = relationship("Escalation")
    recipient = relationship("Person")

    @property
    def key(self) -> str:
        """The nudge's identity, also carried in the message so a redelivery can be detected."""
        return f"{self.escalation_id}:{self.stage_index}:{self.kind}:{self.due_on.isoformat()}"


class NudgeAttempt(Base):
    """One try at delivering a nudge: sent, found already delivered, or failed (with why)."""

    __tablename__ = "nudge_attempts"

    id = Column(Integer, primary_key=True)
    nudge_id = Column(Integer, ForeignKey("nudges.id", ondelete="CASCADE"), nullable=False, index=True)
    at = Column(AwareDateTime(), nullable=False)
    outcome = Column(String(24), nullable=False)
    error = Column(String(240))


class DashboardUser(Base):
    """Someone who signs in to the dashboard (``bot.dashboard``): an administrator, a business
    manager (of a partnership), a safeguarding lead (of an agency) or a line manager (a person in
    ``people``, whose team is the people they line-manage). Only a password hash is stored."""

    __tablename__ = "dashboard_users"

    id = Column(Integer, primary_key=True)
    username = Column(String(64), nullable=False, unique=True)
    password_hash = Column(String(200), nullable=False)
    role = Column(String(32), nullable=False)
    partnership = Column(String(64))
    agency = Column(String(120))
    person_id = Column(Integer, ForeignKey("people.id", ondelete="SET NULL"))
    active = Column(Boolean, nullable=False, default=True)
    must_change_password = Column(Boolean, nullable=False, default=True)
    created_at = Column(AwareDateTime(), nullable=False)
    # Login throttling: a few failures in a row lock the account for a short while.
    failed_logins = Column(Integer, nullable=False, default=0)
    locked_until = Column(AwareDateTime())
    last_login_at = Column(AwareDateTime())

    person = relationship("Person")


class DashboardSession(Base):
    """A signed-in browser: the cookie's token is stored only as its SHA-256 digest; the session
    ends after ``idle`` minutes unused or ``absolute`` hours, whichever comes first."""

    __tablename__ = "dashboard_sessions"

    id = Column(Integer, primary_key=True)
    token_digest = Column(String(64), nullable=False, unique=True)
    user_id = Column(Integer, ForeignKey("dashboard_users.id", ondelete="CASCADE"), nullable=False, index=True)
    created_at = Column(AwareDateTime(), nullable=False)
    last_seen_at = Column(AwareDateTime(), nullable=False)
    expires_at = Column(AwareDateTime(), nullable=False)
    csrf_token = Column(String(64), nullable=False)
    ended_at = Column(AwareDateTime())

    user = relationship("DashboardUser")
