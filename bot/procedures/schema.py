"""The schema of a procedure pack: one partnership's escalation procedure as data.

Every fact a pack states carries the section of the seed document it comes from (``source``), so
the assistant can cite it. Packs are validated at load (see ``loader``); a pack that breaks these
rules is refused with the file and the field named.
"""

from __future__ import annotations

import enum
import re
from typing import List, Optional

from pydantic import BaseModel, Extra, Field, root_validator, validator

SLUG = re.compile(r"^[a-z0-9]+(-[a-z0-9]+)*$")


class Model(BaseModel):
    """Strict base: unknown fields are errors, so a typo in a pack cannot pass silently."""

    class Config:
        extra = Extra.forbid
        allow_mutation = False
        anystr_strip_whitespace = True
        min_anystr_length = 1


class Subject(str, enum.Enum):
    """Whom a procedure, or a part of it, is about."""

    CHILDREN = "children"
    ADULTS = "adults"


class Source(Model):
    """Where a fact comes from: the section (heading, box or step) of the pack's seed file."""

    section: str


class Fact(Model):
    """One statement of the procedure, in its own words, with its source."""

    text: str
    source: Source


class Passage(Model):
    """A sentence of the seed, verbatim, with the section it sits in; ``items`` are the bullets
    it introduces. Written by ``scripts/seed_passages.py``, so any question the structured fields
    do not answer can still be answered in the procedure's own words."""

    text: str
    items: List[str] = []
    source: Source

    @property
    def said(self) -> str:
        """The passage as one sentence, its bullets listed after it."""
        if not self.items:
            return self.text
        items = [item.rstrip(".;, ") for item in self.items]
        items = [re.sub(r",? and$", "", item) for item in items]
        return f"{self.text} {'; '.join(items)}."


class TimescaleKind(str, enum.Enum):
    """How a procedure states a timescale. The rules are in ``timescales.py``."""

    NONE = "none"  # no timescale: the practitioner's agreed review date is the due date
    AS_SOON_AS_POSSIBLE = "as_soon_as_possible"  # no number of days, only "as soon as possible"
    SAME_WORKING_DAY = "same_working_day"
    WORKING_DAYS = "working_days"
    WEEKS = "weeks"


class Timescale(Model):
    """A typed timescale, with the procedure's own words for it."""

    kind: TimescaleKind
    days: Optional[int] = Field(None, ge=1, le=60)
    weeks: Optional[int] = Field(None, ge=1, le=12)
    text: Optional[str] = None
    source: Optional[Source] = None

    @root_validator(skip_on_failure=True)
    def _amount_matches_kind(cls, values):
        kind, days, weeks = values["kind"], values.get("days"), values.get("weeks")
        if kind is TimescaleKind.WORKING_DAYS and days is None:
            raise ValueError("a 'working_days' timescale needs 'days'")
        if kind is TimescaleKind.WEEKS and weeks is None:
            raise ValueError("a 'weeks' timescale needs 'weeks'")
        if kind is not TimescaleKind.WORKING_DAYS and days is not None:
            raise ValueError(f"'days' is only for 'working_days', not '{kind.value}'")
        if kind is not TimescaleKind.WEEKS and weeks is not None:
            raise ValueError(f"'weeks' is only for 'weeks', not '{kind.value}'")
        if kind is not TimescaleKind.NONE and not (values.get("text") and values.get("source")):
            raise ValueError("a timescale the procedure sets needs its 'text' and 'source'")
        return values

    @property
    def is_set(self) -> bool:
        """Whether the procedure gives a number of days (or the same working day)."""
        return self.kind in (
            TimescaleKind.SAME_WORKING_DAY,
            TimescaleKind.WORKING_DAYS,
            TimescaleKind.WEEKS,
        )


class Deadline(Model):
    """A timed step inside a stage (Bury children: directors within 2 working days)."""

    what: str
    timescale: Timescale
    source: Source


class Stage(Model):
    """One stage (level, step) of the escalation, in order."""

    key: str
    title: str
    raised_by: str
    raised_with: str
    actions: List[str] = Field(..., min_items=1)
    record: List[Fact] = Field(..., min_items=1)
    timescale: Timescale
    deadlines: List[Deadline] = []
    notify: List[str] = []  # contact ids to notify at this stage
    form: Optional[str] = None  # form id that belongs to this stage
    if_not_resolved: Optional[str] = None
    source: Source

    @validator("key")
    def _key_is_slug(cls, value: str) -> str:
        if not SLUG.match(value):
            raise ValueError("must be lower-case words joined by '-', e.g. 'stage-2'")
        return value


class LimitScope(str, enum.Enum):
    EACH_STAGE = "each_stage"
    WHOLE_ESCALATION = "whole_escalation"


class Limit(Model):
    """An overall limit: every stage, or the whole escalation, within a timescale."""

    scope: LimitScope
    timescale: Timescale
    source: Source

    @validator("timescale")
    def _limit_is_a_number_of_days(cls, value: Timescale) -> Timescale:
        if not value.is_set:
            raise ValueError("a limit must be a number of working days or weeks")
        return value


class FinalBody(Model):
    """Who the last stage goes to, what they do and who decides."""

    name: str
    does: str
    decides: str
    source: Source

    @property
    def said(self) -> str:
        """What they do and who decides, in the seed's words: ``decides`` first when ``does``
        refers back to it ("This will be reported to the WSAB Main Board")."""
        def sentence(text: str) -> str:
            text = text.strip()
            return text if text.endswith((".", "!", "?")) else text + "."

        does, decides = sentence(self.does), sentence(self.decides)
        refers_back = re.match(r"(this|that|it|these|they)\b", does, re.IGNORECASE)
        return f"{decides} {does}" if refers_back else f"{does} {decides}"


class Contact(Model):
    id: str
    name: str
    email: Optional[str] = Field(None, regex=r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
    purpose: str
    source: Source


class FormValue(str, enum.Enum):
    """What of an escalation record fills a field of a form built from the procedure's words."""

    DATE_OF_NOTIFICATION = "date_of_notification"
    REFERRER = "referrer"
    CASE_REFERENCE = "case_reference"
    SUBJECT = "subject"
    AGENCIES = "agencies"
    NATURE = "nature"
    EVIDENCE = "evidence"
    DESIRED_OUTCOME = "desired_outcome"
    STAGES_USED = "stages_used"
    ACTIONS_SO_FAR = "actions_so_far"
    TIMESCALE = "timescale"


class FormField(Model):
    """A field of a form whose template the seed names but does not give: one thing the
    procedure asks to be shared, with its words (``asked_by.text``) and section."""

    label: str
    fills: FormValue
    asked_by: Fact


class Form(Model):
    id: str
    title: str
    send_to: Optional[str] = None  # contact id
    how: Optional[str] = None
    fields: List[str] = []  # the template's own fields, where the seed gives them
    asks: List[FormField] = []  # otherwise, what the procedure asks to be shared
    source: Source


class DiversionKind(str, enum.Enum):
    """What a diversion tells the practitioner to do; general guidance fills the kinds a seed
    leaves out, in this order (the emergency always first)."""

    EMERGENCY = "emergency"  # 999 / police now
    REFERRAL = "referral"  # safeguarding referral, MASH, social care
    ADVICE = "advice"  # what the procedure says about its own use in such a case
    ALLEGATIONS = "allegations"  # allegations management / LADO (children)
    PIPOT = "pipot"  # people in positions of trust (adults)
    WHISTLEBLOWING = "whistleblowing"


class Diversion(Model):
    """Where a worry goes instead of (or before) the escalation procedure."""

    applies_to: List[Subject] = Field(..., min_items=1)
    kinds: List[DiversionKind] = Field(..., min_items=1)
    text: str
    contact: Optional[str] = None
    source: Source


class Diversions(Model):
    immediate_risk: List[Diversion] = []
    conduct: List[Diversion] = []


class SeedDocument(Model):
    file: str = Field(..., regex=r"^[\w.-]+\.txt$")
    title: str
    status: Optional[str] = None


class Pack(Model):
    """One partnership's escalation procedure."""

    id: str
    name: str
    short_name: str
    aliases: List[str] = Field(..., min_items=1)
    covers: List[Subject] = Field(..., min_items=1)
    stage_term: str
    bank_holidays: str = Field("ENG", regex=r"^(ENG|WLS|SCT|NIR)$")
    seed: SeedDocument
    version: str
    resolve_quickly: Fact
    background: List[Fact] = []  # why the procedure exists, for the 7-minute briefing
    principles: List[Fact] = []
    categories: List[Fact] = Field(..., min_items=1)
    record_keeping: List[Fact] = []
    stages: List[Stage] = Field(..., min_items=2)
    limits: List[Limit] = []
    final_body: FinalBody
    contacts: List[Contact] = []
    forms: List[Form] = []
    diversions: Diversions
    themes_review: Optional[Fact] = None
    not_covered: List[Fact] = []
    passages: List[Passage] = []  # the seed's own sentences, generated by scripts/seed_passages.py

    @validator("id")
    def _id_is_slug(cls, value: str) -> str:
        if not SLUG.match(value):
            raise ValueError("must be lower-case words joined by '-', e.g. 'bury-children'")
        return value

    @validator("stages")
    def _stage_keys_unique(cls, stages: List[Stage]) -> List[Stage]:
        keys = [stage.key for stage in stages]
        duplicates = sorted({key for key in keys if keys.count(key) > 1})
        if duplicates:
            raise ValueError(f"stage keys must be unique; repeated: {', '.join(duplicates)}")
        return stages

    @root_validator(skip_on_failure=True)
    def _references_resolve(cls, values):
        contacts = {contact.id for contact in values["contacts"]}
        forms = {form.id for form in values["forms"]}
        problems = []
        for index, stage in enumerate(values["stages"]):
            for contact in stage.notify:
                if contact not in contacts:
                    problems.append(f"stages.{index}.notify: unknown contact '{contact}'")
            if stage.form is not None and stage.form not in forms:
                problems.append(f"stages.{index}.form: unknown form '{stage.form}'")
        for index, form in enumerate(values["forms"]):
            if form.send_to is not None and form.send_to not in contacts:
                problems.append(f"forms.{index}.send_to: unknown contact '{form.send_to}'")
        for kind in ("immediate_risk", "conduct"):
            for index, diversion in enumerate(getattr(values["diversions"], kind)):
                if diversion.contact is not None and diversion.contact not in contacts:
                    problems.append(
                        f"diversions.{kind}.{index}.contact: unknown contact '{diversion.contact}'"
                    )
        if problems:
            raise ValueError("; ".join(problems))
        return values

    def stage(self, index: int) -> Stage:
        """The stage at ``index`` (0-based), or ``IndexError`` past the last."""
        if not 0 <= index < len(self.stages):
            raise IndexError(f"{self.id} has {len(self.stages)} stages; there is no stage {index}")
        return self.stages[index]

    def contact(self, contact_id: str) -> Contact:
        return next(contact for contact in self.contacts if contact.id == contact_id)

    def said_as_a_sentence(self, if_not_resolved: Optional[str]) -> bool:
        """Whether a stage's ``if_not_resolved`` is the seed's own sentence ("If a resolution
        can't be reached, professionals must escalate the issue to their line manager…"), not
        just the next stage's heading."""

        def plain(text: str) -> str:
            return re.sub(r"[^a-z0-9]+", " ", text.lower()).strip()

        if not if_not_resolved or re.match(r"(stage|level|step)\s+\w+", if_not_resolved, re.IGNORECASE):
            return False
        return not any(plain(if_not_resolved).startswith(plain(stage.title)) for stage in self.stages)

    def how_it_gets_to(self, index: int) -> Optional[str]:
        """The seed's sentence on how a matter reaches stage ``index``: the stage before's own
        sentence for when it fails, if it has one."""
        if index <= 0:
            return None
        handed_on = self.stage(index - 1).if_not_resolved
        return handed_on if self.said_as_a_sentence(handed_on) else None

    def form(self, form_id: str) -> Form:
        return next(form for form in self.forms if form.id == form_id)

    def limit(self, scope: LimitScope) -> Optional[Limit]:
        return next((limit for limit in self.limits if limit.scope is scope), None)

    def cite(self, source: Source) -> str:
        """The citation of a fact: seed file and section."""
        return f"{self.seed.file}, {source.section}"


class GeneralGuidance(Model):
    """Diversions that hold everywhere in England, used where a seed says nothing.

    They are never presented as a partnership's procedure: the assistant says they are general.
    """

    label: str
    diversions: Diversions
