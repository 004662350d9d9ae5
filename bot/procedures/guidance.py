"""What the assistant says about a procedure, composed from a pack.

Functions here return plain values (strings for a domain response's variables), never wording of
their own about a procedure: every fact comes from the pack, with its citation. The domain's
responses arrange them.
"""

from __future__ import annotations

import dataclasses
from datetime import date, datetime
from typing import Iterable

from bot.procedures.loader import Library
from bot.procedures.schema import (
    Diversion,
    DiversionKind,
    LimitScope,
    Pack,
    Source,
    Stage,
    Subject,
    TimescaleKind,
)
from bot.procedures.timescales import Due, DueBasis, calendar_for, due_on, stage_due

BULLET = "• "


def format_date(day: date) -> str:
    """A due date as people read it: 'Tue 1 Dec 2026'."""
    return f"{day:%a} {day.day} {day:%b %Y}"


def bullets(lines: Iterable[str]) -> str:
    return "\n".join(f"{BULLET}{line}" for line in lines)


def citation(pack: Pack, sources: Iterable[Source]) -> str:
    """'Source: <short name> procedure (<seed file>), <section>; <section>'."""
    sections: list[str] = []
    for source in sources:
        if source.section not in sections:
            sections.append(source.section)
    return f"Source: {pack.short_name} procedure ({pack.seed.file}), {'; '.join(sections)}"


def subjects_for(pack: Pack | None, subject: str | None) -> list[Subject]:
    """Whom the answer is about: the stated subject, else everyone the pack covers."""
    if subject in (Subject.CHILDREN.value, Subject.ADULTS.value):
        return [Subject(subject)]
    if pack is not None:
        return list(pack.covers)
    return [Subject.CHILDREN, Subject.ADULTS]


@dataclasses.dataclass(frozen=True)
class Line:
    """One thing to say, with where it comes from (a pack citation or the general label)."""

    text: str
    cited: str


def _diversion_lines(
    library: Library, pack: Pack | None, subject: str | None, which: str
) -> list[Line]:
    """The pack's diversions for the subject, then general guidance for the kinds it lacks,
    ordered by kind so that the emergency always comes first."""
    wanted = subjects_for(pack, subject)

    def applies(diversion: Diversion) -> bool:
        return any(s in diversion.applies_to for s in wanted)

    own = [d for d in getattr(pack.diversions, which) if applies(d)] if pack else []
    covered = {(kind, s) for d in own for kind in d.kinds for s in d.applies_to}
    general = [
        d
        for d in getattr(library.general.diversions, which)
        if applies(d)
        and any((kind, s) not in covered for kind in d.kinds for s in d.applies_to if s in wanted)
    ]
    order = list(DiversionKind)
    ranked = sorted(
        [(d, True) for d in own] + [(d, False) for d in general],
        key=lambda item: min(order.index(kind) for kind in item[0].kinds),
    )
    lines = []
    for diversion, from_pack in ranked:
        if from_pack:
            cited = citation(pack, [diversion.source])
        else:
            cited = f"{library.general.label}: {diversion.source.section}"
        lines.append(Line(diversion.text, cited))
    return lines


def immediate_risk_lines(library: Library, pack: Pack | None, subject: str | None) -> list[Line]:
    """What to do when someone is at immediate risk: 999 first, then referral, then the pack."""
    return _diversion_lines(library, pack, subject, "immediate_risk")


def conduct_lines(library: Library, pack: Pack | None, subject: str | None) -> list[Line]:
    """Where a concern about a professional's conduct goes (allegations / PIPOT / whistleblowing)."""
    return _diversion_lines(library, pack, subject, "conduct")


def partnership_lines(lines: Iterable[Line], library: Library) -> list[Line]:
    """Those of ``lines`` from the partnership's own procedure, not from general guidance."""
    return [line for line in lines if not line.cited.startswith(f"{library.general.label}: ")]


def sources_text(lines: Iterable[Line], library: Library) -> str:
    """The lines' citations, one line each, with every general-guidance source on one line."""
    prefix = f"{library.general.label}: "
    own = [line.cited for line in lines if not line.cited.startswith(prefix)]
    general = [line.cited[len(prefix):] for line in lines if line.cited.startswith(prefix)]
    cited = list(dict.fromkeys(own))
    if general:
        cited.append(prefix + "; ".join(dict.fromkeys(general)))
    return "\n".join(cited)


def contact_lines(pack: Pack) -> list[str]:
    """The pack's contacts that have an e-mail address, as 'name: email (purpose)'."""
    return [f"{c.name}: {c.email} ({c.purpose})" for c in pack.contacts if c.email]


@dataclasses.dataclass(frozen=True)
class StageGuidance:
    """The variables of ``utter_stage`` for one stage of one pack."""

    partnership: str
    stage_title: str
    stage_position: str
    who: str
    actions: str
    record: str
    timescale: str
    next_step: str
    sources: str
    due: Due
    needs_review_date: bool


def _timescale_sentence(pack: Pack, stage: Stage, due: Due) -> str:
    timescale = stage.timescale
    by = f"by {format_date(due.on)}" if due.on else ""
    if due.basis is DueBasis.STAGE_TIMESCALE:
        return f"Timescale: {timescale.text}: {by}."
    if due.basis is DueBasis.AGREED_REVIEW:
        return f"Timescale: the procedure sets no number of days; your agreed review date: {format_date(due.on)}."
    if due.basis is DueBasis.STAGE_LIMIT:
        limit = pack.limit(LimitScope.EACH_STAGE).timescale.text
        own = f"{timescale.text} " if timescale.kind is TimescaleKind.AS_SOON_AS_POSSIBLE else ""
        return f"Timescale: {own}{limit} That is {by}."
    if due.basis is DueBasis.ESCALATION_LIMIT:
        limit = pack.limit(LimitScope.WHOLE_ESCALATION).timescale.text
        return f"Timescale: {limit[0].upper()}{limit[1:]}: {by} for the whole escalation."
    own = f"{timescale.text} " if timescale.kind is TimescaleKind.AS_SOON_AS_POSSIBLE else ""
    return (
        f"Timescale: {own}The {pack.short_name} procedure sets no number of days: "
        f"{pack.resolve_quickly.text}"
    )


def stage_guidance(
    pack: Pack,
    stage_index: int,
    *,
    stage_started_at: datetime,
    escalation_started_at: datetime | None = None,
    agreed_review_on: date | None = None,
    joined: bool = False,
) -> StageGuidance:
    """Everything the practitioner needs for one stage: who, what, what to record, by when, and
    what happens if it is not resolved, with the sections it comes from. A walk ``joined`` at
    this stage (the earlier ones tried already) first says how a matter gets here."""
    stage = pack.stage(stage_index)
    due = stage_due(
        pack,
        stage_index,
        stage_started_at=stage_started_at,
        escalation_started_at=escalation_started_at,
        agreed_review_on=agreed_review_on,
    )
    calendar = calendar_for(pack.bank_holidays)
    sources: list[Source] = [stage.source]
    actions = list(stage.actions)
    for deadline in stage.deadlines:
        deadline_on = due_on(deadline.timescale, stage_started_at, calendar)
        when = f" {deadline.timescale.text} (by {format_date(deadline_on)})" if deadline_on else ""
        actions.append(f"{deadline.what.rstrip('.')}{when}.")
        sources.append(deadline.source)
    for contact_id in stage.notify:
        contact = pack.contact(contact_id)
        if contact.email:
            actions.append(f"Contact: {contact.name}, {contact.email}.")
    if stage.form:
        form = pack.form(stage.form)
        actions.append(f"Form: {form.title}." + (f" {form.how}" if form.how else ""))
        sources.append(form.source)
    sources.extend(fact.source for fact in stage.record)
    if stage.timescale.source:
        sources.append(stage.timescale.source)
    if due.basis in (DueBasis.STAGE_LIMIT, DueBasis.ESCALATION_LIMIT, DueBasis.NOT_SET):
        if due.basis is DueBasis.NOT_SET:
            sources.append(pack.resolve_quickly.source)
        else:
            scope = (
                LimitScope.EACH_STAGE
                if due.basis is DueBasis.STAGE_LIMIT
                else LimitScope.WHOLE_ESCALATION
            )
            sources.append(pack.limit(scope).source)

    how_it_gets_here = pack.how_it_gets_to(stage_index) if joined else None
    if how_it_gets_here:
        sources.insert(0, pack.stage(stage_index - 1).source)
    is_last = stage_index == len(pack.stages) - 1
    if is_last:
        body = pack.final_body
        next_step = f"This is the final stage: {body.name}. {body.said}"
        sources.append(body.source)
    else:
        next_step = f"If not resolved: {stage.if_not_resolved}"

    return StageGuidance(
        partnership=pack.name,
        stage_title=stage.title,
        stage_position=f"{pack.stage_term} {stage_index + 1} of {len(pack.stages)}",
        who=(f"How it gets here: {how_it_gets_here.rstrip('.')}.\n" if how_it_gets_here else "")
        + f"Who: {stage.raised_by} with {stage.raised_with}.",
        actions=bullets(actions),
        record="Record: " + " ".join(fact.text for fact in stage.record),
        timescale=_timescale_sentence(pack, stage, due),
        next_step=next_step,
        sources=citation(pack, sources),
        due=due,
        needs_review_date=due.on is None,
    )
