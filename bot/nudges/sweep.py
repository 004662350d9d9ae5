"""One sweep: record the nudges owed, claim the ones to send, deliver them, record what happened.

The database is the truth, in three steps, each its own transaction:

1. **Record** every nudge owed (``plan.owed``) that has a recipient, under its unique key
   (escalation, stage, kind, due date), with ``INSERT ... ON CONFLICT DO NOTHING``: a restart or
   a second sweep finds the row and adds nothing.
2. **Claim** the rows to send now (pending, or undeliverable and due a retry) with one conditional
   ``UPDATE`` that sets this sweep's token and a lease (``BOT_NUDGE_CLAIM_SECONDS``): of two sweeps
   at once, each row goes to one (on PostgreSQL the rows are picked ``FOR UPDATE SKIP LOCKED``, so
   a second scheduler takes what the first has not, without waiting for it). A sweep killed after
   claiming leaves a lease that expires; the next sweep takes the row over.
3. **Deliver** each claimed row: first ask the conversation whether the nudge is already there
   (sent before a crash), else trigger it; then mark it sent, or undeliverable with a retry after
   1, 2, 4 ... minutes (up to ``BOT_NUDGE_RETRY_MAX_MINUTES``). Every attempt is recorded.

A row whose stage has moved on (resolved, escalated, more time agreed) before it could be sent is
marked ``obsolete`` rather than sent; a notification to a partnership contact is always sent.
"""

from __future__ import annotations

import dataclasses
import logging
import secrets
from datetime import datetime, timedelta
from typing import Protocol

from sqlalchemy import or_, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from bot.clock import Clock
from bot.config import Settings
from bot.nudges.delivery import DeliveryError
from bot.nudges.plan import NOTIFY, in_working_hours, owed
from bot.procedures.timescales import calendar_for
from bot.records.db import Database
from bot.records.models import Escalation, Nudge, NudgeAttempt, Person, StageEntry

logger = logging.getLogger(__name__)

PENDING, SENT, UNDELIVERABLE, OBSOLETE = "pending", "sent", "undeliverable", "obsolete"
ALREADY_DELIVERED = "already-delivered"  # an attempt's outcome: found in the conversation, not resent
INSERT_CHUNK = 500  # rows per INSERT: well under SQLite's limit of bound parameters per statement
COUNTED_AS = {SENT: "sent", ALREADY_DELIVERED: "already_delivered", OBSOLETE: "obsolete", UNDELIVERABLE: "failed"}


class Delivery(Protocol):
    def delivered(self, sender: str, key: str) -> bool: ...

    def deliver(self, sender: str, key: str) -> list[dict]: ...


@dataclasses.dataclass
class SweepReport:
    recorded: int = 0
    sent: int = 0
    already_delivered: int = 0
    failed: int = 0
    obsolete: int = 0

    def __str__(self) -> str:
        return ", ".join(f"{name.replace('_', ' ')} {value}" for name, value in dataclasses.asdict(self).items())


def _insert_ignoring_duplicates(session: Session):
    dialect = session.get_bind().dialect.name
    if dialect == "postgresql":
        return postgresql.insert(Nudge).on_conflict_do_nothing(constraint="uq_nudges_key")
    if dialect == "sqlite":
        return sqlite.insert(Nudge).on_conflict_do_nothing()
    raise RuntimeError(f"nudges need SQLite or PostgreSQL, not {dialect}")


def record_owed(session: Session, *, now: datetime, settings: Settings) -> int:
    """Step 1: store every owed nudge with a recipient that is not stored yet; how many."""
    stored = {
        tuple(row)
        for row in session.execute(
            select(Nudge.escalation_id, Nudge.stage_index, Nudge.kind, Nudge.due_on)
            .join(Escalation, Escalation.id == Nudge.escalation_id)
            .where(Escalation.status == "open")
        )
    }
    new = [
        {
            "escalation_id": wanted.escalation_id, "stage_index": wanted.stage_index, "kind": wanted.kind,
            "due_on": wanted.due_on, "recipient_id": wanted.recipient_id, "status": PENDING,
            "created_at": now, "next_attempt_at": now, "attempts": 0,
        }  # fmt: skip
        for wanted in owed(
            session, now=now, hours=settings.nudge_hours, overdue_after_days=settings.nudge_overdue_after_days
        )
        if wanted.recipient_id is not None and wanted.key not in stored
    ]
    # One multi-row INSERT per chunk, not an executemany: psycopg2 pages an executemany and reports
    # only the last page's rowcount. Rows another sweep stored first are not counted.
    inserted = 0
    for start in range(0, len(new), INSERT_CHUNK):
        statement = _insert_ignoring_duplicates(session).values(new[start : start + INSERT_CHUNK])
        inserted += max(session.execute(statement).rowcount, 0)
    return inserted


class Sweeper:
    def __init__(self, database: Database, delivery: Delivery, clock: Clock, settings: Settings) -> None:
        self.database = database
        self.delivery = delivery
        self.clock = clock
        self.settings = settings

    def sweep(self) -> SweepReport:
        report = SweepReport()
        now = self.clock()
        with self.database.session() as session:
            report.recorded = record_owed(session, now=now, settings=self.settings)
        token = secrets.token_hex(16)
        for nudge_id, sender, key, live in self._claim(token, now):
            if not self._still_mine(nudge_id, token):
                continue  # held so long (a slow assistant) that another sweep took it over
            outcome, error = self._deliver(sender, key) if live else (OBSOLETE, None)
            self._finish(nudge_id, token, outcome, error)
            counter = COUNTED_AS[outcome]
            setattr(report, counter, getattr(report, counter) + 1)
        return report

    def _still_mine(self, nudge_id: int, token: str) -> bool:
        """Renew this sweep's lease on a row just before sending it; False if it was taken over."""
        lease = self.clock() + timedelta(seconds=self.settings.nudge_claim_seconds)
        with self.database.session() as session:
            renewed = session.execute(
                update(Nudge).where(Nudge.id == nudge_id, Nudge.claim_token == token)
                .values(claimed_until=lease).execution_options(synchronize_session=False)
            )  # fmt: skip
            return renewed.rowcount == 1

    def _claim(self, token: str, now: datetime) -> list[tuple[int, str, str, bool]]:
        """Step 2: take the rows to send now; (id, recipient's identity, key, still relevant)."""
        if not in_working_hours(now, calendar_for("ENG"), self.settings.nudge_hours):
            return []  # retries wait for working hours too
        lease = now + timedelta(seconds=self.settings.nudge_claim_seconds)
        # On PostgreSQL rows another sweep is claiming right now are passed over (FOR UPDATE SKIP
        # LOCKED), not waited for; SQLite has one writer at a time and renders no locking clause.
        claimable = (
            select(Nudge.id)
            .where(
                Nudge.status.in_([PENDING, UNDELIVERABLE]), Nudge.next_attempt_at <= now,
                or_(Nudge.claimed_until.is_(None), Nudge.claimed_until < now),
            )  # fmt: skip
            .with_for_update(skip_locked=True)
        )
        with self.database.session() as session:
            session.execute(
                update(Nudge)
                .where(Nudge.id.in_(claimable))
                .values(claim_token=token, claimed_until=lease)
                .execution_options(synchronize_session=False)
            )
        with self.database.session() as session:
            rows = session.execute(
                select(Nudge, Person.channel_id, StageEntry.index, StageEntry.due_on, StageEntry.more_time_until,
                       StageEntry.closed_at, Escalation.status)  # fmt: skip
                .join(Person, Person.id == Nudge.recipient_id)
                .join(Escalation, Escalation.id == Nudge.escalation_id)
                .join(StageEntry, (StageEntry.escalation_id == Nudge.escalation_id) & StageEntry.closed_at.is_(None), isouter=True)
                .where(Nudge.claim_token == token)
                .order_by(Nudge.id)
            ).all()
            claimed = []
            for nudge, sender, index, due_on, more_time_until, _closed, status in rows:
                live = nudge.kind.startswith(NOTIFY) or (
                    status == "open" and index == nudge.stage_index and (more_time_until or due_on) == nudge.due_on
                )
                claimed.append((nudge.id, sender, nudge.key, live))
            return claimed

    def _deliver(self, sender: str, key: str) -> tuple[str, str | None]:
        """Step 3: deliver unless already delivered; (outcome, error)."""
        try:
            if self.delivery.delivered(sender, key):
                return ALREADY_DELIVERED, None
            self.delivery.deliver(sender, key)
        except DeliveryError as error:
            logger.warning("nudge %s undeliverable: %s", key, error)
            return UNDELIVERABLE, str(error)[:240]
        return SENT, None

    def _finish(self, nudge_id: int, token: str, outcome: str, error: str | None) -> None:
        now = self.clock()
        with self.database.session() as session:
            nudge = session.get(Nudge, nudge_id)
            if nudge is None or nudge.claim_token != token:
                logger.warning("nudge %s: claim lost to another sweep before it was recorded", nudge_id)
                return
            session.add(NudgeAttempt(nudge_id=nudge_id, at=now, outcome=outcome, error=error))
            nudge.attempts += 1
            nudge.claim_token, nudge.claimed_until = None, None
            if outcome in (SENT, ALREADY_DELIVERED):
                nudge.status, nudge.sent_at, nudge.last_error = SENT, now, None
            elif outcome == OBSOLETE:
                nudge.status = OBSOLETE
            else:
                minutes = min(2 ** (nudge.attempts - 1), self.settings.nudge_retry_max_minutes)
                nudge.status, nudge.last_error = UNDELIVERABLE, error
                nudge.next_attempt_at = now + timedelta(minutes=minutes)
