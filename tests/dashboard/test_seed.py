"""scripts/seed_register.py: a realistic spread, made through the store, free of personal data."""

from __future__ import annotations

import re
from collections import Counter
from datetime import datetime, timedelta

import pytest
from sqlalchemy import func, select

from bot.clock import LONDON
from bot.config import Settings
from bot.records.db import open_database
from bot.records.models import AuditEntry, Escalation, Person
from bot.records.privacy import find_personal_data
from scripts import seed_register
from tests.conftest import PARTNERSHIPS

NOW = datetime(2025, 6, 30, 12, 0, tzinfo=LONDON)


@pytest.fixture(scope="module")
def seeded(tmp_path_factory):
    settings = Settings.from_env({"BOT_VAR_DIR": str(tmp_path_factory.mktemp("seed") / "var")})
    database = open_database(settings)
    summary = seed_register.seed(database, count=300, now=NOW, rng_seed=7)
    yield database, summary
    database.dispose()


def test_spread_across_partnerships_categories_stages_and_statuses(seeded):
    database, summary = seeded
    with database.session() as session:
        every = session.scalars(select(Escalation)).all()
    assert summary.escalations == len(every) == 300
    assert set(summary.by_partnership) == set(PARTNERSHIPS)
    assert len(summary.by_category) >= 6
    assert summary.by_status["resolved"] > summary.by_status["open"] > 0
    assert summary.by_status["cancelled"] > 0
    assert summary.overdue > 0
    assert {1, 2, 3, 4} <= set(summary.resolved_at_position)
    assert summary.resolved_at_position[1] == max(summary.resolved_at_position.values())
    assert NOW - timedelta(days=366) <= summary.first_opened < summary.last_opened <= NOW
    assert Counter(e.status for e in every) == summary.by_status


def test_dates_follow_one_clock_and_the_procedure(seeded):
    database, _summary = seeded
    with database.session() as session:
        for escalation in session.scalars(select(Escalation)):
            stages = escalation.stages
            assert stages[0].started_at == escalation.opened_at
            assert escalation.opened_at.astimezone(LONDON).weekday() < 5
            for before, after in zip(stages, stages[1:]):
                assert before.resolved is False and before.closed_at == after.started_at
                assert before.started_at < after.started_at
            if escalation.status == "open":
                assert escalation.closed_at is None and stages[-1].closed_at is None
            else:
                assert escalation.closed_at == stages[-1].closed_at <= NOW
            assert stages[-1].due_on is not None  # a timescale, a limit or an agreed review date
        audited = session.scalar(select(func.count()).select_from(AuditEntry).where(AuditEntry.action == "escalation.opened"))
        assert audited == 300


def test_people_and_free_text_are_generic(seeded):
    database, _summary = seeded
    with database.session() as session:
        people = session.scalars(select(Person)).all()
        assert {p.partnership for p in people} == set(PARTNERSHIPS)
        practitioners = [p for p in people if p.channel_id.split(":")[-1].startswith("practitioner")]
        assert practitioners and all(p.line_manager is not None and p.line_manager.line_manager is not None for p in practitioners)
        assert all(p.name is None for p in people)
        for escalation in session.scalars(select(Escalation)):
            assert re.fullmatch(r"[A-Z]+-\d{6}", escalation.case_reference)
            texts = [escalation.summary, escalation.desired_outcome, escalation.outcome, escalation.outcome_for_person]
            texts += [s.involved for s in escalation.stages] + [s.outcome for s in escalation.stages]
            for text in filter(None, texts):
                assert find_personal_data(text, today=NOW.date()) == [], text


def test_command_line_seeds_the_settings_database(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("BOT_VAR_DIR", str(tmp_path / "var"))
    monkeypatch.delenv("BOT_DATABASE_URL", raising=False)
    assert seed_register.main(["--count", "12", "--now", "2025-06-30T12:00:00+01:00"]) == 0
    said = capsys.readouterr().out
    assert "12/12 escalations opened" in said and "Done: 12 escalations" in said
    database = open_database(Settings.from_env({"BOT_VAR_DIR": str(tmp_path / "var")}))
    try:
        with database.session() as session:
            assert session.scalar(select(func.count()).select_from(Escalation)) == 12
    finally:
        database.dispose()
