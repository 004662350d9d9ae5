"""bot.dashboard.export: the register's rows, CSV and Excel, against a seeded database."""

from __future__ import annotations

import csv
import io
from datetime import date, datetime

import openpyxl
import pytest
from sqlalchemy import select

from bot.clock import LONDON
from bot.config import Settings
from bot.dashboard import export
from bot.procedures.timescales import calendar_for
from bot.records.db import open_database
from bot.records.models import Escalation
from bot.records.store import category_label
from scripts.seed_register import SUMMARIES, seed

NOW = datetime(2025, 6, 30, 12, 0, tzinfo=LONDON)


@pytest.fixture(scope="module")
def register_db(tmp_path_factory):
    settings = Settings.from_env({"BOT_VAR_DIR": str(tmp_path_factory.mktemp("export") / "var")})
    database = open_database(settings)
    seed(database, count=200, now=NOW, rng_seed=11)
    yield database
    database.dispose()


def local(moment):
    return moment.astimezone(LONDON).date()


def test_rows_match_the_records_without_free_text(register_db):
    with register_db.session() as session:
        rows = export.register_rows(session, now=NOW)
        records = {e.reference: e for e in session.scalars(select(Escalation))}
        assert len(rows) == len(records) == 200
        assert [r["date_raised"] for r in rows] == sorted(r["date_raised"] for r in rows)
        for row in rows:
            assert tuple(row) == export.COLUMNS
            escalation = records[row["reference"]]
            current = escalation.stages[-1]
            assert row["partnership"] == escalation.partnership
            assert row["case_reference"] == escalation.case_reference
            assert row["raising_agency"] == escalation.raised_by.agency
            assert row["other_agency"] == escalation.other_agency
            assert row["category"] == category_label(escalation.category)
            assert row["date_raised"] == local(escalation.opened_at)
            assert row["current_stage"] == current.title
            assert row["stage_due_date"] == (current.more_time_until or current.due_on)
            assert row["stages_reached"] == len(escalation.stages)
            assert row["status"] == escalation.status
            assert row["date_closed"] == (local(escalation.closed_at) if escalation.closed_at else None)
            assert row["outcome_status"].startswith({"open": "Open at", "resolved": "Resolved at", "cancelled": "Cancelled at"}[escalation.status])
            if escalation.status != "open":
                assert row["days_overdue"] is None
            elif row["stage_due_date"] and row["stage_due_date"] < NOW.date():
                expected = calendar_for("ENG").working_days_between(row["stage_due_date"], NOW.date())
                assert row["days_overdue"] == max(1, expected)
            else:
                assert row["days_overdue"] == 0
            text = " ".join(str(value) for value in row.values())
            assert not any(summary in text for summary in SUMMARIES.values())
        assert any(row["days_overdue"] for row in rows)


def test_rows_scoped_like_the_themes(register_db):
    with register_db.session() as session:
        rows = export.register_rows(
            session, partnerships=["warrington-adults"], start=date(2025, 1, 1), end=date(2025, 3, 31), now=NOW
        )
        expected = [
            e for e in session.scalars(select(Escalation))
            if e.partnership == "warrington-adults" and date(2025, 1, 1) <= local(e.opened_at) <= date(2025, 3, 31)
        ]  # fmt: skip
        assert sorted(r["reference"] for r in rows) == sorted(e.reference for e in expected)
        assert rows


def test_csv_round_trip(register_db):
    with register_db.session() as session:
        rows = export.register_rows(session, now=NOW)
    data = export.to_csv(rows)
    assert data.startswith(b"\xef\xbb\xbf")
    read = list(csv.DictReader(io.StringIO(data.decode("utf-8-sig"))))
    assert list(read[0]) == [export.HEADERS[c] for c in export.COLUMNS]
    assert len(read) == len(rows)
    for original, back in zip(rows, read):
        for column in export.COLUMNS:
            value = original[column]
            expected = "" if value is None else value.isoformat() if isinstance(value, date) else str(value)
            assert back[export.HEADERS[column]] == expected


def test_xlsx_has_a_styled_frozen_filtered_header_and_real_dates(register_db):
    with register_db.session() as session:
        rows = export.register_rows(session, now=NOW)
    book = openpyxl.load_workbook(io.BytesIO(export.to_xlsx(rows)))
    sheet = book.active
    assert [cell.value for cell in sheet[1]] == [export.HEADERS[c] for c in export.COLUMNS]
    assert sheet[1][0].font.bold
    assert sheet.max_row == len(rows) + 1
    assert sheet.freeze_panes == "A2"
    assert sheet.auto_filter.ref == f"A1:O{len(rows) + 1}"
    raised = export.COLUMNS.index("date_raised") + 1
    cell = sheet.cell(row=2, column=raised)
    assert isinstance(cell.value, datetime) and cell.is_date
    assert cell.value.date() == rows[0]["date_raised"]
    assert sheet.cell(row=2, column=1).value == rows[0]["reference"]
    assert all(sheet.column_dimensions[letter].width >= 10 for letter in "ABCDEFGHIJKLMNO")
