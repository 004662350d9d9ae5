"""Word documents made from an escalation record (python-docx).

``render`` picks the document: the partnership's own form once the escalation has reached the
stage the pack says the form belongs to, and otherwise an escalation record summary. Every
function takes the view and the pack it belongs to and returns the .docx bytes; nothing is read
or written anywhere else.

What goes in a document comes only from the view and the pack: values the practitioner did not
record print as "Not recorded", and the child's or adult's name and date of birth, which the
assistant never holds, are left for the agency's own secure system. Dates print as
"23 November 2026"; moments are shown in Europe/London.
"""

from __future__ import annotations

import io
from datetime import date, datetime, time, timezone
from typing import Callable, Sequence, Union

import docx
from docx.document import Document
from docx.table import Table, _Cell

from bot.clock import LONDON
from bot.procedures.schema import Form, FormValue, LimitScope, Pack
from bot.records.views import EscalationView, PersonView, StageView

NOT_RECORDED = "Not recorded"
KEPT_IN_AGENCY_SYSTEM = "To be completed in your agency's secure system"

# The form ids a pack may name (``forms[].id``) for which a layout exists below.
REQUEST_FOR_RESOLUTION = "request-for-resolution"
ESCALATION_NOTIFICATION = "escalation-notification"

# Month names spelt out here because strftime's %B follows the process locale.
MONTHS = (
    "January", "February", "March", "April", "May", "June",
    "July", "August", "September", "October", "November", "December",
)

SUBJECT_WORDS = {"children": "A child or young person", "adults": "An adult"}
OUTCOME_FOR_WORDS = {
    "children": "Outcome for the child or young person",
    "adults": "Outcome for the adult",
}
DUE_BASIS_WORDS = {
    "stage_timescale": "the stage's timescale",
    "stage_limit": "the limit on each stage",
    "escalation_limit": "the limit on the whole escalation",
    "agreed_review": "the review date agreed",
    "not_set": "no date set by the procedure",
}

Lines = Union[str, Sequence[str]]


# --- Values -------------------------------------------------------------------------------------


def format_day(day: date) -> str:
    """A date as the documents print it: "23 November 2026"."""
    return f"{day.day} {MONTHS[day.month - 1]} {day.year}"


def format_moment(moment: datetime) -> str:
    """An aware datetime in Europe/London: "23 November 2026, 09:30"; naive ones are refused."""
    if moment.tzinfo is None:
        raise ValueError("a record's datetimes must be timezone-aware")
    local = moment.astimezone(LONDON)
    return f"{format_day(local.date())}, {local:%H:%M}"


def _value(value: object) -> str:
    if value is None:
        return NOT_RECORDED
    if isinstance(value, bool):
        return "Yes" if value else "No"
    if isinstance(value, datetime):
        return format_moment(value)
    if isinstance(value, date):
        return format_day(value)
    return str(value)


def _person(person: PersonView) -> list[str]:
    return [
        f"Name: {_value(person.name)}",
        f"Role: {_value(person.role)}",
        f"Agency/Team: {_value(person.agency)}",
        f"Contact details: {_value(person.contact)}",
    ]


def _stage_account(stage: StageView) -> list[str]:
    """What happened at one stage, as recorded: for the evidence of challenge."""
    return [
        stage.title,
        f"Started: {_value(stage.started_at)}",
        f"Closed: {_value(stage.closed_at)}",
        f"Who was involved: {_value(stage.involved)}",
        f"The other agency's position: {_value(stage.other_agency_position)}",
        f"Outcome: {_value(stage.outcome)}",
        f"Resolved at this stage: {_value(stage.resolved)}",
        f"Key points confirmed in writing: {_value(stage.key_points_in_writing)}",
    ]


def _due(stage: StageView) -> str:
    if stage.due_on is None:
        return NOT_RECORDED
    basis = DUE_BASIS_WORDS.get(stage.due_basis, stage.due_basis.replace("_", " "))
    return f"{format_day(stage.due_on)} ({basis})"


def _stage_entry(view: EscalationView, index: int) -> StageView | None:
    """The latest entry the escalation has for the pack's stage ``index``."""
    entries = [stage for stage in view.stages if stage.index == index]
    return entries[-1] if entries else None


# --- Word ---------------------------------------------------------------------------------------


def _new_document(title: str, today: date) -> Document:
    document = docx.Document()
    properties = document.core_properties
    properties.title = title
    # python-docx's template stamps its own name, comment and a 2013 date into every file; a
    # record should carry nothing that did not come from the view or the pack.
    properties.author = ""
    properties.comments = ""
    properties.last_modified_by = ""
    # Core properties are written as UTC ("...Z") without conversion, so convert here.
    made = datetime.combine(today, time(), tzinfo=LONDON).astimezone(timezone.utc)
    properties.created = properties.modified = made.replace(tzinfo=None)
    return document


def _bytes(document: Document) -> bytes:
    buffer = io.BytesIO()
    document.save(buffer)
    return buffer.getvalue()


def _table(document: Document, columns: int) -> Table:
    table = document.add_table(rows=0, cols=columns)
    table.style = "Table Grid"
    return table


def _write(cell: _Cell, lines: Lines, *, bold: bool = False) -> None:
    """Put ``lines`` in ``cell``, one paragraph each."""
    lines = [lines] if isinstance(lines, str) else list(lines) or [""]
    cell.paragraphs[0].add_run(lines[0]).bold = bold
    for line in lines[1:]:
        cell.add_paragraph().add_run(line).bold = bold


def _row(table: Table, *cells: Lines, header: bool = False) -> None:
    """A row: the first cell is a label (bold), the rest values; a header row is all bold."""
    row = table.add_row()
    for position, (cell, lines) in enumerate(zip(row.cells, cells)):
        _write(cell, lines, bold=header or position == 0)


def _spanning_row(table: Table, lines: Lines, *, bold: bool = False) -> None:
    """A row of one cell across the table, as the template sets its long fields."""
    row = table.add_row()
    cell = row.cells[0].merge(row.cells[-1])
    _write(cell, lines, bold=bold)


def _form_of(pack: Pack, form_id: str) -> tuple[Form, int | None]:
    """The pack's form ``form_id`` and the index of the stage that names it (None if none)."""
    form = next((form for form in pack.forms if form.id == form_id), None)
    if form is None:
        raise ValueError(f"The {pack.short_name} pack has no form '{form_id}'.")
    index = next((i for i, stage in enumerate(pack.stages) if stage.form == form_id), None)
    return form, index


def _check_belongs(view: EscalationView, pack: Pack) -> None:
    # A record rendered with another partnership's pack would carry the wrong procedure.
    if view.partnership != pack.id:
        raise ValueError(
            f"Escalation {view.reference} follows the '{view.partnership}' procedure, "
            f"not '{pack.id}'; render it with its own pack."
        )


# --- Bury children: Appendix 1 ------------------------------------------------------------------


def _as_in_the_template(sentence: str) -> str:
    # The template prints its instruction in capitals; an e-mail address stays as it is given.
    words = sentence.strip().rstrip(".").split()
    return " ".join(word if "@" in word else word.upper() for word in words)


def request_for_resolution(view: EscalationView, pack: Pack, today: date) -> bytes:
    """Bury children's Appendix 1 "Request for Resolution Document", filled from ``view``.

    Every field of the template appears in the template's order and words. The child's name and
    date of birth are left for the agency's secure system; the agency's case reference is added
    (and said to be added) so the document can be matched to the agency's record. The evidence
    of challenge is every recorded stage before the one the form belongs to ("stages 1, 2 &
    3"), with the practitioner's evidence; "Stage 3" of the stage table is the stage just before
    it. The Business Unit's "Stage 4" row is left blank. Date of Notification is ``today``.
    """
    _check_belongs(view, pack)
    form, form_stage = _form_of(pack, REQUEST_FOR_RESOLUTION)
    if form_stage is None:
        raise ValueError(
            f"The {pack.short_name} pack does not say which stage '{form.id}' belongs to."
        )
    appendix, _, title = form.title.rpartition(": ")
    document = _new_document(title, today)
    if appendix:
        document.add_paragraph().add_run(appendix.upper()).bold = True
    document.add_heading(title, level=1)
    if form.how:
        document.add_paragraph().add_run(_as_in_the_template(form.how)).bold = True

    table = _table(document, 2)
    _row(table, "Date of Notification", format_day(today))
    _row(table, "Name of Child/Young Person", KEPT_IN_AGENCY_SYSTEM)
    _row(table, "D.O.B", KEPT_IN_AGENCY_SYSTEM)
    _row(table, "Agency case reference", view.case_reference)
    _spanning_row(table, "Outcome Resolution Notice Referrer details:", bold=True)
    _row(table, "Name", _value(view.raised_by.name))
    _row(table, "Role", _value(view.raised_by.role))
    _row(table, "Agency/Team", _value(view.raised_by.agency))
    _row(table, "Contact Details", _value(view.raised_by.contact))
    _row(
        table,
        "Designated safeguarding lead aware of this notice?",
        [
            _value(view.safeguarding_lead_aware),
            f"Name of safeguarding lead: {_value(view.safeguarding_lead)}",
        ],
    )
    _spanning_row(table, "Summary of disagreement", bold=True)
    _spanning_row(table, [view.summary, f"Area of disagreement: {view.category_label}"])
    _spanning_row(
        table,
        "Evidence of the challenge that has taken place at stages 1, 2 & 3 and the outcome at "
        "each stage",
        bold=True,
    )
    evidence: list[str] = []
    for stage in view.stages:
        if stage.index < form_stage:
            evidence.extend(_stage_account(stage))
    evidence.append(f"Evidence for the concern: {_value(view.evidence)}")
    _spanning_row(table, evidence)
    _spanning_row(
        table,
        "Desired outcome for the child and / or family. Please include details of what it is you "
        "are requesting happens as a result of this challenge",
        bold=True,
    )
    _spanning_row(table, view.desired_outcome)

    document.add_paragraph()
    stages = _table(document, 3)
    _row(
        stages,
        "Stage",
        "Date Outcome Resolved",
        [
            "Supporting Evidence",
            "Embed written confirmation between parties about the agreed outcome",
        ],
        header=True,
    )
    before = _stage_entry(view, form_stage - 1)
    if before is None:
        resolved_on, supporting = NOT_RECORDED, [NOT_RECORDED]
    else:
        if before.resolved is False:
            resolved_on = f"Not resolved (stage closed {_value(before.closed_at)})"
        else:
            resolved_on = _value(before.closed_at)
        supporting = [
            f"Outcome: {_value(before.outcome)}",
            f"Key points confirmed in writing: {_value(before.key_points_in_writing)}",
        ]
    _row(stages, "Stage 3", resolved_on, supporting)
    _row(
        stages,
        "Stage 4 (to be completed by Safeguarding Partnership Business Unit)",
        "",
        "Final decision of:",
    )

    document.add_paragraph(
        "Once stage 4 has concluded, the escalation notice will be completed, and a copy of the "
        "notice will be sent to the referrer informing them of the decision in writing."
    )
    document.add_paragraph(
        f"The row \u201cAgency case reference\u201d is not part of {appendix or 'the template'}: "
        "it lets your agency match this document to its own record."
    )
    document.add_paragraph(f"Source: {pack.seed.file}, {' '.join(filter(None, (appendix, title)))}")
    return _bytes(document)


# --- A form built from the procedure's words (South Tyneside: Appendix A) ---------------------


def _fill(value: FormValue, view: EscalationView, pack: Pack, today: date) -> Lines:
    """The entry of a field that ``value`` names, from the record."""
    if value is FormValue.DATE_OF_NOTIFICATION:
        return format_day(today)
    if value is FormValue.REFERRER:
        return _person(view.raised_by)
    if value is FormValue.CASE_REFERENCE:
        return view.case_reference
    if value is FormValue.SUBJECT:
        return SUBJECT_WORDS.get(view.subject, view.subject)
    if value is FormValue.AGENCIES:
        return [
            ", ".join(view.agencies) or NOT_RECORDED,
            f"Agency that made the original decision: {view.other_agency}",
        ]
    if value is FormValue.NATURE:
        return [view.category_label, view.summary]
    if value is FormValue.EVIDENCE:
        return _value(view.evidence)
    if value is FormValue.DESIRED_OUTCOME:
        return view.desired_outcome
    if value is FormValue.STAGES_USED:
        used = [
            f"{stage.title}: started {_value(stage.started_at)}; closed {_value(stage.closed_at)}; "
            f"outcome: {_value(stage.outcome)}"
            for stage in view.stages
        ]
        return used or [NOT_RECORDED]
    if value is FormValue.ACTIONS_SO_FAR:
        actions: list[str] = []
        for stage in view.stages:
            actions.extend(_stage_account(stage))
        return actions + [f"Outcome expected: {view.desired_outcome}"]
    if value is FormValue.TIMESCALE:
        limit = pack.limit(LimitScope.WHOLE_ESCALATION)
        limit_text = limit.timescale.text if limit is not None and limit.timescale.text else NOT_RECORDED
        return [limit_text, f"Escalation opened: {_value(view.opened_at)}"]
    raise ValueError(f"no entry is defined for form value {value.value!r}")


def escalation_notification(view: EscalationView, pack: Pack, today: date) -> bytes:
    """A form whose template the seed names without fields (South Tyneside's Appendix A
    "Escalation Notification Form / Template"), filled from ``view``.

    The document says that the template's fields are not given, and has one row per field the
    pack lists under ``asks``: the thing the procedure asks to be shared, the record's entry, and
    the procedure's words that ask for it, cited by seed file and section.
    """
    _check_belongs(view, pack)
    form, form_stage = _form_of(pack, ESCALATION_NOTIFICATION)
    document = _new_document(form.title, today)
    document.add_heading(form.title, level=1)
    if form.how:
        document.add_paragraph(form.how)
    if not form.fields:
        document.add_paragraph(
            f"Note: the protocol ({pack.seed.file}) names this template but does not give its "
            "fields. The fields below are what the protocol asks to be shared, each with the "
            "passage that asks for it; where your agency has the template itself, copy these "
            "entries into it."
        )
    if form.send_to:
        contact = pack.contact(form.send_to)
        where = f" ({contact.email})" if contact.email else "; the protocol gives no e-mail address"
        document.add_paragraph(f"Send to: {contact.name}{where}")
    if form_stage is not None:
        stage = pack.stages[form_stage]
        document.add_paragraph(f"Sent at: {stage.title} ({pack.cite(stage.source)})")

    table = _table(document, 3)
    _row(table, "Field", "Entry", "Asked for by", header=True)
    for field in form.asks:
        asked = f"{pack.cite(field.asked_by.source)}: \u201c{field.asked_by.text}\u201d"
        _row(table, field.label, _fill(field.fills, view, pack, today), asked)

    document.add_paragraph(f"Source: {pack.seed.file}, {form.title}")
    return _bytes(document)


# --- Any partnership: summary -------------------------------------------------------------------


def escalation_summary(view: EscalationView, pack: Pack, today: date) -> bytes:
    """An "Escalation record summary" for any partnership: the record's details, its stage
    history as a table (one row per stage entry, in order) and, once the escalation is closed,
    its outcome. ``today`` dates the document."""
    _check_belongs(view, pack)
    title = "Escalation record summary"
    document = _new_document(title, today)
    document.add_heading(title, level=1)
    document.add_paragraph(f"Prepared on {format_day(today)}")

    table = _table(document, 2)
    _row(table, "Partnership", view.partnership_name)
    _row(table, "Procedure", pack.seed.title)
    _row(table, "Procedure version", view.procedure_version)
    _row(table, "Reference", view.reference)
    _row(table, "Agency case reference", view.case_reference)
    _row(table, "About", SUBJECT_WORDS.get(view.subject, view.subject))
    _row(table, "Status", view.status.capitalize())
    current = view.current_stage
    _row(table, "Current stage", current.title if current else NOT_RECORDED)
    _row(table, "Opened", _value(view.opened_at))
    _row(table, "Raised by", _person(view.raised_by))
    _row(
        table,
        "Designated safeguarding lead aware",
        [
            _value(view.safeguarding_lead_aware),
            f"Safeguarding lead: {_value(view.safeguarding_lead)}",
        ],
    )
    _row(table, "Other agency", view.other_agency)
    _row(table, "Agencies involved", ", ".join(view.agencies) or NOT_RECORDED)
    _row(table, "Category", view.category_label)
    _row(table, "Summary", view.summary)
    _row(table, "Evidence", _value(view.evidence))
    _row(table, "Desired outcome", view.desired_outcome)

    document.add_heading("Stage history", level=2)
    history = _table(document, 6)
    _row(
        history,
        *("Stage", "Started", "Due", "Outcome", "Key points in writing", "Closed"),
        header=True,
    )
    for stage in view.stages:
        closed = _value(stage.closed_at)
        if stage.closed_at is not None:
            closed = [closed, f"Resolved: {_value(stage.resolved)}"]
        _row(
            history,
            stage.title,
            _value(stage.started_at),
            _due(stage),
            _value(stage.outcome),
            _value(stage.key_points_in_writing),
            closed,
        )

    if view.status != "open" or view.closed_at is not None:
        document.add_heading("Outcome", level=2)
        outcome = _table(document, 2)
        _row(outcome, "Closed", _value(view.closed_at))
        _row(outcome, "Outcome", _value(view.outcome))
        _row(
            outcome,
            OUTCOME_FOR_WORDS.get(view.subject, "Outcome for the person"),
            _value(view.outcome_for_person),
        )

    document.add_paragraph(f"Source: {pack.seed.file} ({pack.seed.title}), version: {pack.version}")
    return _bytes(document)


# --- Choosing the document ----------------------------------------------------------------------

Renderer = Callable[[EscalationView, Pack, date], bytes]

FORM_RENDERERS: dict[str, Renderer] = {
    REQUEST_FOR_RESOLUTION: request_for_resolution,
    ESCALATION_NOTIFICATION: escalation_notification,
}


def form_reached(view: EscalationView, pack: Pack) -> Form | None:
    """The pack's form that the escalation has reached, or None.

    A form named by a stage (``stage.form``) is reached once the escalation's current stage index
    is that stage's index or later; where several stages name forms, the latest one reached. A
    pack without forms, an escalation with no stage yet, and a form no stage names give None.
    """
    current = view.current_stage
    if current is None:
        return None
    reached = None
    for index, stage in enumerate(pack.stages):
        if stage.form is not None and current.index >= index:
            reached = pack.form(stage.form)
    return reached


def render(view: EscalationView, pack: Pack, *, today: date) -> tuple[str, bytes]:
    """The document for ``view`` now, as (file name, .docx bytes).

    The partnership's form once the escalation has reached its stage (``form_reached``), named
    ``<reference>-<form id>.docx``; otherwise, and for a form without a layout here, the
    escalation record summary, ``<reference>-escalation-summary.docx``. ``pack`` must be the
    escalation's own pack (``ValueError`` otherwise).
    """
    _check_belongs(view, pack)
    form = form_reached(view, pack)
    renderer = FORM_RENDERERS.get(form.id) if form is not None else None
    if form is None or renderer is None:
        return f"{view.reference}-escalation-summary.docx", escalation_summary(view, pack, today)
    return f"{view.reference}-{form.id}.docx", renderer(view, pack, today)
