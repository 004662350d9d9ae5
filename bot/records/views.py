"""Plain, decrypted views of a record, for documents, replies and exports.

The store (``bot.records.store``) builds these from the database; nothing here touches SQL.
"""

from __future__ import annotations

import dataclasses
from datetime import date, datetime


@dataclasses.dataclass(frozen=True)
class PersonView:
    """A practitioner or manager as they gave their details."""

    name: str | None
    role: str | None
    agency: str | None
    contact: str | None = None


@dataclasses.dataclass(frozen=True)
class StageView:
    """One stage's entry in an escalation."""

    index: int  # 0-based position in the pack's stages
    key: str
    title: str
    started_at: datetime
    due_on: date | None
    due_basis: str
    review_on: date | None = None
    involved: str | None = None
    other_agency_position: str | None = None
    outcome: str | None = None
    key_points_in_writing: bool | None = None
    resolved: bool | None = None
    closed_at: datetime | None = None


@dataclasses.dataclass(frozen=True)
class EscalationView:
    """An escalation with its stages, as the practitioner recorded it."""

    reference: str  # e.g. "ESC-7K2P9Q": the assistant's own reference
    partnership: str  # pack id
    partnership_name: str
    procedure_version: str
    subject: str  # "children" or "adults"
    case_reference: str  # the agency's own case reference: never a name or date of birth
    status: str  # "open", "resolved", "cancelled"
    opened_at: datetime
    raised_by: PersonView
    other_agency: str
    agencies: tuple[str, ...]
    category: str  # a category key, e.g. "levels-of-need"
    category_label: str  # its words, e.g. "Levels of need / thresholds"
    summary: str
    evidence: str | None
    desired_outcome: str
    safeguarding_lead_aware: bool | None = None
    safeguarding_lead: str | None = None
    stages: tuple[StageView, ...] = ()
    outcome: str | None = None
    outcome_for_person: str | None = None
    closed_at: datetime | None = None

    @property
    def current_stage(self) -> StageView | None:
        return self.stages[-1] if self.stages else None
