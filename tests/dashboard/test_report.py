"""bot.dashboard.report: the 6-monthly Word report opened with python-docx, its figures and
tables checked against the database."""

from __future__ import annotations

import io
from collections import Counter
from datetime import date, datetime

import docx
import pytest
from sqlalchemy import select

from bot.clock import LONDON
from bot.config import Settings
from bot.dashboard import charts, report
from bot.records.db import open_database
from bot.records.models import Escalation
from bot.records.store import category_label
from scripts.seed_register import DESIRED, FOR_PERSON, SUMMARIES, seed

NOW = datetime(2025, 6, 30, 12, 0, tzinfo=LONDON)
START, END = date(2025, 1, 1), date(2025, 6, 30)


@pytest.fixture(scope="module")
def register_db(tmp_path_factory):
    settings = Settings.from_env({"BOT_VAR_DIR": str(tmp_path_factory.mktemp("report") / "var")})
    database = open_database(settings)
    seed(database, count=200, now=NOW, rng_seed=3)
    yield database
    database.dispose()


def in_period(session, partnership=None):
    return [
        e for e in session.scalars(select(Escalation))
        if START <= e.opened_at.astimezone(LONDON).date() <= END and partnership in (None, e.partnership)
    ]  # fmt: skip


def overdue(escalation) -> bool:
    stage = escalation.stages[-1]
    due = stage.more_time_until or stage.due_on
    return escalation.status == "open" and due is not None and due < NOW.date()


def text_of(document) -> str:
    parts = [p.text for p in document.paragraphs]
    for table in document.tables:
        parts += [cell.text for row in table.rows for cell in row.cells]
    return "\n".join(parts)


@pytest.mark.parametrize("partnership", ["south-tyneside", None])
def test_report_figures_and_tables_match_the_database(register_db, partnership):
    with register_db.session() as session:
        filename, data = report.build(session, partnership=partnership, start=START, end=END, now=NOW)
        expected = in_period(session, partnership)
        for escalation in expected:  # loaded now: the checks below run after the session ends
            escalation.stages, escalation.raised_by
    assert filename == f"escalation-report-{partnership or 'all-partnerships'}-20250101-20250630.docx"
    document = docx.Document(io.BytesIO(data))
    paragraphs = [p.text for p in document.paragraphs]
    assert paragraphs[0] == "Escalation and Challenge register: 6-monthly report"
    name = (
        "South Tyneside Safeguarding Children Partnership and Safeguarding Adults Board" if partnership else "All partnerships"
    )
    assert paragraphs[1] == name
    assert any("from 1 January 2025 to 30 June 2025" in p for p in paragraphs)

    headline = {row.cells[0].text: row.cells[1].text for row in document.tables[0].rows[1:]}
    status = Counter(e.status for e in expected)
    resolved = [e for e in expected if e.status == "resolved"]
    lowest = sum(1 for e in resolved if len(e.stages) == 1)
    assert headline["Escalations opened"] == str(len(expected)) != "0"
    assert headline["Resolved"] == str(status["resolved"])
    assert headline["Resolved at the lowest stage"] == f"{lowest} ({lowest / len(resolved):.0%} of resolved)"
    beyond = sum(1 for e in expected if len(e.stages) > 1)
    assert headline["Went beyond the first stage"] == f"{beyond} ({beyond / len(expected):.0%})"
    assert headline["Cancelled"] == str(status["cancelled"])
    assert headline["Still open"] == str(status["open"])
    assert headline["Overdue now"] == str(sum(1 for e in expected if overdue(e)))

    by_category = {row.cells[0].text: int(row.cells[1].text) for row in document.tables[1].rows[1:]}
    assert {k: v for k, v in by_category.items() if v} == Counter(category_label(e.category) for e in expected)
    pairs = {(r.cells[0].text, r.cells[1].text): int(r.cells[2].text) for r in document.tables[2].rows[1:]}
    assert pairs == Counter((e.raised_by.agency, e.other_agency) for e in expected)
    reached = {(r.cells[0].text, r.cells[1].text): int(r.cells[2].text) for r in document.tables[3].rows[1:]}
    assert {k: v for k, v in reached.items() if v} == Counter((e.partnership, e.stages[-1].title) for e in expected)

    late = {e.reference for e in expected if overdue(e)}
    follow_up = document.tables[-1]
    if late:
        assert follow_up.rows[0].cells[0].text == "Reference"
        assert {row.cells[0].text for row in follow_up.rows[1:]} == late
    else:
        assert paragraphs[-1] == "None." and follow_up.rows[0].cells[0].text == "Month"

    assert len(document.inline_shapes) == len(charts.CHARTS)
    everything = text_of(document)
    for title in charts.TITLES.values():
        assert title in everything
    for free_text in [*SUMMARIES.values(), DESIRED, FOR_PERSON]:
        assert free_text not in everything
    if partnership == "south-tyneside":
        assert "(004_0a1c27d958957785.txt, 6. Quality Assurance)" in everything


def test_report_on_an_empty_period_still_opens(register_db):
    with register_db.session() as session:
        _name, data = report.build(session, partnership="bury-adults", start=date(2020, 1, 1), end=date(2020, 6, 30), now=NOW)
    document = docx.Document(io.BytesIO(data))
    headline = {row.cells[0].text: row.cells[1].text for row in document.tables[0].rows[1:]}
    assert headline["Escalations opened"] == "0"
    assert document.paragraphs[1].text == "Bury Safeguarding Partnership (adults)"
    assert document.paragraphs[-1].text == "None."
