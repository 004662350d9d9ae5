"""The 6-monthly report on the Escalation and Challenge register, as a Word document for the
partnership's sub-group.

South Tyneside: "Issues referred via this protocol will be reviewed on a 6 monthly basis by the
STSCP and STSAB Performance, Management and Evaluation sub groups" (004, 6. Quality Assurance),
and "any themes will be considered on a 6 monthly basis" (004, Stage 4); Bury: documentation of
escalations "should be provided to the BSCP Business Manager for tracking of thematics" (001,
Level 4). The report gives the figures, the charts and the themes for a chosen period; it
carries no free text about any case, and escalations are named only by reference where the
sub-group needs to follow them up (those overdue).
"""

from __future__ import annotations

import io
from datetime import date, datetime

from docx import Document
from docx.enum.text import WD_ALIGN_PARAGRAPH
from docx.shared import Cm, Pt
from sqlalchemy.orm import Session

from bot.dashboard import charts, export
from bot.dashboard.themes import Themes, compute, latest_procedure

ALL = "All partnerships"


def _day(value: date) -> str:
    return f"{value.day} {value:%B %Y}"


def _share(part: int, whole: int) -> str:
    return f"{part / whole:.0%}" if whole else "–"


def headline_figures(themes: Themes) -> list[tuple[str, str]]:
    """The headline figures as (what, value) rows, in the report's order."""
    t = themes.totals
    return [
        ("Escalations opened", str(t.opened)),
        ("Resolved", str(t.resolved)),
        ("Resolved at the lowest stage", f"{themes.resolved_at_lowest} ({_share(themes.resolved_at_lowest, t.resolved)} of resolved)"),
        ("Went beyond the first stage", f"{t.escalated} ({_share(t.escalated, t.opened)})"),
        ("Cancelled", str(t.cancelled)),
        ("Still open", str(t.open)),
        ("Overdue now", str(t.overdue)),
    ]


def _table(document, header: list[str], rows: list[list[str]]) -> None:
    table = document.add_table(rows=1, cols=len(header))
    table.style = "Light Grid Accent 1"
    for cell, text in zip(table.rows[0].cells, header):
        cell.text = text
        for run in cell.paragraphs[0].runs:
            run.bold = True
    for values in rows:
        cells = table.add_row().cells
        for cell, text in zip(cells, values):
            cell.text = text


def build(
    session: Session, *, partnership: str | None, start: date, end: date, now: datetime
) -> tuple[str, bytes]:
    """The report for ``partnership`` (None: all) on escalations opened in ``[start, end]``,
    as at ``now``: (file name, .docx bytes)."""
    themes = compute(
        session, partnerships=[partnership] if partnership else None, agency=None, manager_person_id=None,
        start=start, end=end, now=now,
    )  # fmt: skip
    procedure = latest_procedure(session, partnership) if partnership else None
    name = themes.partnership_names.get(partnership, partnership) if partnership else ALL
    document = Document()
    document.styles["Normal"].font.name = "Arial"
    document.styles["Normal"].font.size = Pt(11)
    document.core_properties.title = f"Escalation and Challenge register: report {start} to {end}"
    document.core_properties.author = "Safeguarding escalation assistant"

    document.add_heading("Escalation and Challenge register: 6-monthly report", level=0)
    document.add_paragraph(name).runs[0].bold = True
    document.add_paragraph(
        f"Period: escalations opened from {_day(start)} to {_day(end)}. Figures as at {now:%d %B %Y %H:%M}."
    )
    if procedure is not None and procedure.themes_review:
        review = procedure.themes_review
        section = (review.get("source") or {}).get("section", "")
        cite = document.add_paragraph(f"“{' '.join(review['text'].split())}” ")
        cite.add_run(f"({procedure.seed_file}, {section})").italic = True
    document.add_paragraph(
        "This report holds no free text about any case: escalations are counted by category, "
        "agency, stage and date, and named by reference only where they are overdue."
    )

    document.add_heading("Headline figures", level=1)
    _table(document, ["Figure", "Value"], [[what, value] for what, value in headline_figures(themes)])

    document.add_heading("Themes", level=1)
    said = charts.readings(themes)
    top_categories = [c for c in themes.by_category if c.count][:3]
    if top_categories:
        document.add_paragraph(
            "Most frequent categories: " + "; ".join(f"{c.label} ({c.count})" for c in top_categories) + ".",
            style="List Bullet",
        )
    if themes.by_agency_pair:
        document.add_paragraph(
            "Most frequent agency pairs: "
            + "; ".join(f"{p.label} ({p.count})" for p in themes.by_agency_pair[:3]) + ".",
            style="List Bullet",
        )  # fmt: skip
    reached = ", ".join(f"stage {l.position}: {l.reached}" for l in themes.by_level if l.reached)
    document.add_paragraph(f"Highest stage reached: {reached or 'none'}. {said['by_stage_reached']}", style="List Bullet")
    document.add_paragraph(said["resolved_at_lowest"], style="List Bullet")
    document.add_paragraph(said["time_to_resolution"], style="List Bullet")
    document.add_paragraph(f"Overdue now: {themes.totals.overdue} of {themes.totals.open} open.", style="List Bullet")

    document.add_heading("Charts", level=1)
    for chart in charts.CHARTS:
        document.add_heading(charts.TITLES[chart], level=2)
        document.add_picture(io.BytesIO(charts.render_png(themes, chart)), width=Cm(16))
        document.paragraphs[-1].alignment = WD_ALIGN_PARAGRAPH.CENTER
        document.add_paragraph(said[chart])

    document.add_heading("Figures", level=1)
    document.add_heading("By category", level=2)
    _table(document, ["Category", "Escalations"], [[c.label, str(c.count)] for c in themes.by_category])
    document.add_heading("By agency pair", level=2)
    _table(
        document, ["Raising agency", "Other agency", "Escalations"],
        [[p.raising, p.other, str(p.count)] for p in themes.by_agency_pair],
    )  # fmt: skip
    document.add_heading("By highest stage reached", level=2)
    _table(
        document, ["Partnership", "Stage", "Escalations"],
        [[s.partnership, s.title, str(s.count)] for s in themes.by_stage_reached],
    )  # fmt: skip
    document.add_heading("Time at each stage", level=2)
    _table(
        document,
        ["Partnership", "Stage", "Closed", "Median working days", "Mean working days", "Timescale (working days)", "Closed by due date"],
        [
            [
                s.partnership, s.title, str(s.closed),
                "–" if s.median_working_days is None else f"{s.median_working_days:g}",
                "–" if s.mean_working_days is None else f"{s.mean_working_days:g}",
                "not set" if s.timescale_working_days is None else str(s.timescale_working_days),
                f"{s.closed_by_due} of {s.with_due_date}",
            ]
            for s in themes.stage_times
        ],
    )  # fmt: skip
    document.add_heading("Open and overdue, month by month", level=2)
    _table(
        document, ["Month", "Open at the month's end", "Overdue"],
        [[p.month.strftime("%B %Y"), str(p.open), str(p.overdue)] for p in themes.monthly],
    )  # fmt: skip

    overdue = [
        row
        for row in export.register_rows(
            session, partnerships=[partnership] if partnership else None, start=start, end=end, now=now
        )
        if row["days_overdue"]
    ]
    document.add_heading("Overdue escalations to follow up", level=2)
    if overdue:
        _table(
            document, ["Reference", "Case reference", "Partnership", "Current stage", "Due", "Working days overdue"],
            [
                [r["reference"], r["case_reference"], r["partnership"], r["current_stage"],
                 r["stage_due_date"].strftime("%d/%m/%Y"), str(r["days_overdue"])]
                for r in sorted(overdue, key=lambda r: -r["days_overdue"])
            ],
        )  # fmt: skip
    else:
        document.add_paragraph("None.")

    buffer = io.BytesIO()
    document.save(buffer)
    filename = f"escalation-report-{partnership or 'all-partnerships'}-{start:%Y%m%d}-{end:%Y%m%d}.docx"
    return filename, buffer.getvalue()
