"""The register as a spreadsheet: CSV and Excel, one row per escalation, no free text.

South Tyneside's Business Manager "will ensure that all issues and subsequent actions will be
recorded on the STSCP / STSAB Escalation and Challenge spreadsheet. This will ensure an accurate
record of all challenges and outcomes is held" (004, Stage 4 – Formal Consideration by STSCP
/STSAB). The seed names the spreadsheet but not its columns, so the columns are those facts:
the challenge (who raised it with whom, its category, when), the stages it went through and its
outcome (resolved at which stage). What practitioners wrote stays out: the case is identified
only by the agency's own case reference.
"""

from __future__ import annotations

import csv
import io
from datetime import date, datetime
from typing import Any, Iterable

from openpyxl import Workbook
from openpyxl.styles import Alignment, Font, PatternFill
from openpyxl.utils import get_column_letter
from sqlalchemy.orm import Session

from bot.dashboard.themes import procedures, scoped_rows, stage_rows
from bot.procedures.timescales import calendar_for, local_date
from bot.records.store import CANCELLED, OPEN, RESOLVED, category_label

COLUMNS = (
    "reference", "partnership", "procedure_version", "case_reference", "raising_agency",
    "other_agency", "category", "date_raised", "current_stage", "stage_due_date", "days_overdue",
    "status", "date_closed", "outcome_status", "stages_reached",
)  # fmt: skip
HEADERS = {
    "reference": "Reference",
    "partnership": "Partnership",
    "procedure_version": "Procedure version",
    "case_reference": "Case reference",
    "raising_agency": "Raising agency",
    "other_agency": "Other agency",
    "category": "Category",
    "date_raised": "Date raised",
    "current_stage": "Current stage",
    "stage_due_date": "Stage due date",
    "days_overdue": "Working days overdue",
    "status": "Status",
    "date_closed": "Date closed",
    "outcome_status": "Outcome",
    "stages_reached": "Stages reached",
}
DATE_COLUMNS = ("date_raised", "stage_due_date", "date_closed")
WIDTHS = {"current_stage": 48, "outcome_status": 48, "procedure_version": 22}


def register_rows(
    session: Session,
    *,
    partnerships: list[str] | None = None,
    agency: str | None = None,
    manager_person_id: int | None = None,
    start: date | None = None,
    end: date | None = None,
    now: datetime,
) -> list[dict[str, Any]]:
    """The escalations in scope, oldest first, as rows keyed by ``COLUMNS``: dates as ``date``
    (Europe/London), ``days_overdue`` in working days (0 when not overdue, None once closed)."""
    rows = scoped_rows(
        session, partnerships=partnerships, agency=agency, manager_person_id=manager_person_id,
        start=start, end=end,
    )  # fmt: skip
    stages = stage_rows(session, [row.id for row in rows])
    versions = procedures(session, (row.fingerprint for row in rows))
    today = local_date(now)
    result = []
    for row in rows:
        procedure = versions[row.fingerprint]
        entries = stages[row.id]
        current = entries[-1] if entries else None
        due = current.effective_due if current else None
        overdue = None
        if row.status == OPEN:
            overdue = 0
            if due is not None and due < today:
                # At least 1: an agreed date on a weekend is overdue on the Sunday too.
                overdue = max(1, calendar_for(procedure.bank_holidays).working_days_between(due, today))
        title = current.title if current else ""
        outcome = {
            RESOLVED: f"Resolved at {title}",
            CANCELLED: f"Cancelled at {title}",
            OPEN: f"Open at {title}",
        }.get(row.status, row.status)
        result.append(
            {
                "reference": row.reference,
                "partnership": row.partnership,
                "procedure_version": procedure.version,
                "case_reference": row.case_reference,
                "raising_agency": row.raising_agency,
                "other_agency": row.other_agency,
                "category": category_label(row.category),
                "date_raised": local_date(row.opened_at),
                "current_stage": title,
                "stage_due_date": due,
                "days_overdue": overdue,
                "status": row.status,
                "date_closed": local_date(row.closed_at) if row.closed_at else None,
                "outcome_status": outcome,
                "stages_reached": len(entries),
            }
        )
    return result


def _text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, (date, datetime)):
        return value.isoformat()
    return str(value)


def to_csv(rows: Iterable[dict[str, Any]]) -> bytes:
    """The rows as CSV (UTF-8 with a byte-order mark, so Excel reads the arrows and dashes),
    headed by ``HEADERS``; dates ISO 8601."""
    buffer = io.StringIO(newline="")
    writer = csv.writer(buffer)
    writer.writerow([HEADERS[c] for c in COLUMNS])
    for row in rows:
        writer.writerow([_text(row.get(c)) for c in COLUMNS])
    return buffer.getvalue().encode("utf-8-sig")


def to_xlsx(rows: Iterable[dict[str, Any]], *, title: str = "Escalation register") -> bytes:
    """The rows as an Excel workbook: a styled, frozen header with a filter, dates as dates."""
    workbook = Workbook()
    sheet = workbook.active
    sheet.title = title[:31]
    sheet.append([HEADERS[c] for c in COLUMNS])
    header_fill = PatternFill("solid", fgColor="1F4E79")
    for cell in sheet[1]:
        cell.font = Font(bold=True, color="FFFFFF")
        cell.fill = header_fill
        cell.alignment = Alignment(vertical="center", wrap_text=True)
    widths = {c: len(HEADERS[c]) for c in COLUMNS}
    count = 0
    for row in rows:
        sheet.append([row.get(c) for c in COLUMNS])
        count += 1
        for c in COLUMNS:
            widths[c] = max(widths[c], len(_text(row.get(c))))
    for position, column in enumerate(COLUMNS, start=1):
        letter = get_column_letter(position)
        sheet.column_dimensions[letter].width = min(WIDTHS.get(column, 60), max(widths[column], 10) + 2)
        if column in DATE_COLUMNS:
            for (cell,) in sheet.iter_rows(min_row=2, min_col=position, max_col=position):
                cell.number_format = "DD/MM/YYYY"
    sheet.freeze_panes = "A2"
    sheet.auto_filter.ref = f"A1:{get_column_letter(len(COLUMNS))}{count + 1}"
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()
