"""Which follow-ups are owed now: the rules, read from the open escalations and their packs.

For each open escalation, at its current stage (the date chased is the more time agreed, else the
stage's due date; for a procedure with no timescale, the review date agreed, which is its due date):

* ``due``: from the due date, to the practitioner who raised it: has it been resolved?
* ``overdue``: from ``BOT_NUDGE_OVERDUE_AFTER_DAYS`` working days after it (instead of ``due`` if
  nothing was sent by then), naming the next stage;
* ``due-manager`` / ``overdue-manager``: the same to the practitioner's line manager, at stages
  the pack's own words give to a manager, lead, head or director (``raised_by``);
* ``notify-<contact>``: when a stage starts whose pack lists ``notify`` contacts (South Tyneside's
  Stage 2), to the person registered for that contact (the partnership's business manager).

Nothing is owed outside working hours (``BOT_NUDGE_HOURS``, Europe/London) of working days (the
pack's bank holidays). A nudge whose recipient is not registered (no line manager, no contact) is
reported by ``python -m bot nudges due`` and never stored.
"""

from __future__ import annotations

import dataclasses
import functools
import json
import re
from datetime import date, datetime, time
from typing import Iterator

from sqlalchemy import select
from sqlalchemy.orm import Session

from bot.clock import LONDON
from bot.procedures import guidance
from bot.procedures.schema import Pack
from bot.procedures.timescales import WorkingCalendar, calendar_for
from bot.records.models import Escalation, PartnershipContact, Person, ProcedureVersion, StageEntry

DUE, OVERDUE, MANAGER = "due", "overdue", "-manager"
NOTIFY = "notify-"
MANAGER_OWNED = re.compile(r"\b(manager|managers|lead|head|headteacher|director|directors|senior|chief)\b", re.I)


@dataclasses.dataclass(frozen=True)
class Wanted:
    """A nudge owed now. ``recipient_id`` None: nobody is registered to receive it."""

    escalation_id: int
    reference: str
    stage_index: int
    kind: str
    due_on: date
    recipient_id: int | None
    why: str

    @property
    def key(self) -> tuple[int, int, str, date]:
        return (self.escalation_id, self.stage_index, self.kind, self.due_on)


def in_working_hours(now: datetime, calendar: WorkingCalendar, hours: tuple[time, time]) -> bool:
    local = now.astimezone(LONDON)
    return calendar.is_working_day(local.date()) and hours[0] <= local.time().replace(tzinfo=None) < hours[1]


def manager_owned(pack: Pack, stage_index: int) -> bool:
    """Whether the pack gives this stage to a manager, lead, head or director (in its own words)."""
    return bool(MANAGER_OWNED.search(pack.stage(stage_index).raised_by))


@functools.lru_cache(maxsize=64)
def _pack(fingerprint: str, content: str) -> Pack:
    return Pack.parse_raw(content)


def packs(session: Session) -> dict[str, Pack]:
    """Every procedure version escalations started under, by fingerprint (parsed once)."""
    return {
        fingerprint: _pack(fingerprint, json.dumps(content, sort_keys=True))
        for fingerprint, content in session.execute(select(ProcedureVersion.fingerprint, ProcedureVersion.pack))
    }


def owed(
    session: Session, *, now: datetime, hours: tuple[time, time], overdue_after_days: int
) -> Iterator[Wanted]:
    """Every nudge owed at ``now`` by the rules above (whether or not already sent)."""
    today = now.astimezone(LONDON).date()
    by_fingerprint = packs(session)
    contacts = {
        (partnership, contact): person_id
        for partnership, contact, person_id in session.execute(
            select(PartnershipContact.partnership, PartnershipContact.contact_id, PartnershipContact.person_id)
        )
    }
    rows = session.execute(
        select(
            Escalation.id, Escalation.reference, Escalation.partnership, Escalation.procedure_fingerprint,
            Escalation.raised_by_id, Person.line_manager_id, StageEntry.index, StageEntry.due_on,
            StageEntry.more_time_until, StageEntry.started_at, StageEntry.due_basis,
        )  # fmt: skip
        .join(StageEntry, StageEntry.escalation_id == Escalation.id)
        .join(Person, Person.id == Escalation.raised_by_id)
        .where(Escalation.status == "open", StageEntry.closed_at.is_(None))
    )
    for (escalation_id, reference, partnership, fingerprint, raised_by, manager, index, due_on,
         more_time_until, started_at, basis) in rows:  # fmt: skip
        pack = by_fingerprint[fingerprint]
        calendar = calendar_for(pack.bank_holidays)
        if not in_working_hours(now, calendar, hours):
            continue
        stage = pack.stage(index)
        chased_on = more_time_until or due_on
        if chased_on is not None and today >= chased_on:
            overdue_on = calendar.add_working_days(chased_on, overdue_after_days)
            kind = OVERDUE if today >= overdue_on else DUE
            reason = "more time agreed" if more_time_until else basis.replace("_", " ")
            why = f"{stage.title} {'was ' if kind == OVERDUE else ''}due {guidance.format_date(chased_on)} ({reason})"
            yield Wanted(escalation_id, reference, index, kind, chased_on, raised_by, why)
            if manager_owned(pack, index):
                yield Wanted(escalation_id, reference, index, kind + MANAGER, chased_on, manager,
                             why + "; a stage the procedure gives to managers")  # fmt: skip
        for contact in stage.notify:
            started_on = started_at.astimezone(LONDON).date()
            name = next((c.name for c in pack.contacts if c.id == contact), contact)
            yield Wanted(escalation_id, reference, index, NOTIFY + contact, started_on,
                         contacts.get((partnership, contact)), f"{stage.title} started: {name} is notified")  # fmt: skip
