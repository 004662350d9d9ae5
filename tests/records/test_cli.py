"""`python -m bot records|db …` as an operator runs them, on a database with real records."""

from __future__ import annotations

import csv
import io
import json
import os
import subprocess
import sys

import pytest
from sqlalchemy import create_engine, inspect, select

from bot.config import PROJECT_ROOT
from bot.records import store
from bot.records.models import AuditEntry
from tests.conftest import london

NOW = london(2026, 11, 23, 10)
# Each command starts Python (seconds): the schema and a listing run on both databases, the rest on
# SQLite only, since what they do to the records is tested on both in test_store.py.
SQLITE_ONLY = pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)


def environment(settings, **env) -> dict[str, str]:
    return {
        **os.environ, "BOT_VAR_DIR": str(settings.var_dir), "BOT_DATABASE_URL": settings.database_url,
        "BOT_NOW": NOW.isoformat(), **env,
    }  # fmt: skip


def run(settings, *arguments, **env) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "bot", *arguments], cwd=PROJECT_ROOT, env=environment(settings, **env),
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip


def start(settings, *arguments, **env) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-m", "bot", *arguments], cwd=PROJECT_ROOT, env=environment(settings, **env),
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip


@pytest.fixture
def two_records(database, library):
    with database.session() as session:
        person = store.person_for(session, channel="rest", channel_id="p1", now=NOW)
        first = store.open_escalation(
            session, person=person, pack=library["bury-children"], subject="children", case_reference="CSC-1001",
            other_agency="CSC", category="risk", summary="secret summary text", desired_outcome="an assessment", now=NOW,
        )  # fmt: skip
        second = store.open_escalation(
            session, person=person, pack=library["warrington-adults"], subject="adults", case_reference="ASC-2002",
            other_agency="ASC", category="communication", summary="another summary", desired_outcome="sharing", now=NOW,
        )  # fmt: skip
        store.escalate(session, escalation=first, person=person, now=NOW)
        return first.reference, second.reference


def test_db_upgrade_creates_the_schema_even_when_three_start_at_once(settings):
    # As `make serve`'s processes, or several replicas, starting together on a new database.
    upgrades = [start(settings, "db", "upgrade") for _ in range(3)]
    for process in upgrades:
        out, err = process.communicate(timeout=120)
        assert process.returncode == 0, err
        assert "latest schema" in out
    assert [path.name for path in settings.var_dir.iterdir() if "key" in path.name] == ["records.key"]  # one key
    engine = create_engine(settings.effective_database_url, future=True)
    try:
        assert {"escalations", "stage_entries", "audit_trail", "nudges", "dashboard_users"} <= set(inspect(engine).get_table_names())
    finally:
        engine.dispose()


def test_list_and_show_without_free_text(settings, two_records):
    first, second = two_records
    listing = run(settings, "records", "list")
    assert listing.returncode == 0, listing.stderr
    assert first in listing.stdout and second in listing.stdout
    assert "Level 2: Line Manager to Line Manager" in listing.stdout
    assert "secret summary text" not in listing.stdout
    shown = run(settings, "records", "show", first.lower())
    assert "case_reference         CSC-1001" in shown.stdout
    assert "stage.escalated" in shown.stdout and "secret summary text" not in shown.stdout
    only_warrington = run(settings, "records", "list", "--partnership", "warrington-adults")
    assert second in only_warrington.stdout and first not in only_warrington.stdout


@SQLITE_ONLY
def test_export_csv_and_jsonl(settings, two_records):
    first, second = two_records
    exported = run(settings, "records", "export", "--format", "csv")
    rows = list(csv.DictReader(io.StringIO(exported.stdout)))
    assert {r["reference"] for r in rows} == {first, second}
    assert "summary" not in rows[0]
    lines = run(settings, "records", "export", "--format", "jsonl", "--status", "open").stdout.splitlines()
    assert {json.loads(line)["case_reference"] for line in lines} == {"CSC-1001", "ASC-2002"}


@SQLITE_ONLY
def test_free_text_only_when_permitted_and_audited(settings, two_records, database):
    refused = run(settings, "records", "export", "--free-text")
    assert refused.returncode == 2
    assert "BOT_ALLOW_FREE_TEXT_EXPORT=1" in refused.stderr
    allowed = run(settings, "records", "export", "--format", "jsonl", "--free-text", BOT_ALLOW_FREE_TEXT_EXPORT="1")
    assert "secret summary text" in allowed.stdout
    with database.session() as session:
        exports = session.scalars(select(AuditEntry).where(AuditEntry.action == "records.exported")).all()
        assert [e.detail["free_text"] for e in exports] == [True]
        assert exports[0].actor == "operator:cli"


@SQLITE_ONLY
def test_purge_and_errors(settings, two_records, database):
    first, _ = two_records
    with database.session() as session:
        escalation = store.find(session, reference=first, person=None)
        store.cancel(session, escalation=escalation, person=escalation.raised_by, now=london(2020, 1, 6, 9))
    purged = run(settings, "records", "purge", "--retention-days", "365")
    assert purged.returncode == 0, purged.stderr
    assert f"Purged 1 escalation(s) closed more than 365 days ago.\n  {first}" in purged.stdout
    missing = run(settings, "records", "show", first)
    assert missing.returncode == 2 and f"There is no escalation {first}" in missing.stderr
    bad_key = run(settings, "records", "list", BOT_RECORDS_KEY="not-a-key")
    assert bad_key.returncode == 2 and "is not a Fernet key" in bad_key.stderr


@SQLITE_ONLY
def test_training_completions_for_a_partnership_and_a_managers_team(settings, database):
    with database.session() as session:
        manager = store.person_for(session, channel="teams", channel_id="manager-1", now=NOW)
        starter = store.person_for(session, channel="rest", channel_id="starter-1", now=NOW)
        other = store.person_for(session, channel="rest", channel_id="starter-2", now=NOW)
        starter.line_manager = manager
        store.update_person(session, person=starter, now=NOW, role="Social worker")
        store.record_completion(session, person=starter, partnership="bury-children", score=9, total=10, now=NOW)
        store.record_completion(session, person=other, partnership="south-tyneside", score=5, total=10, now=NOW)
    everyone = run(settings, "training", "list")
    assert "rest:starter-1" in everyone.stdout and "9/10" in everyone.stdout and "5/10" in everyone.stdout
    team = run(settings, "training", "list", "--manager", "teams:manager-1")
    assert "rest:starter-1" in team.stdout and "starter-2" not in team.stdout
    assert "Social worker" in team.stdout
    unknown = run(settings, "training", "list", "--manager", "teams:nobody")
    assert unknown.returncode == 2 and "No one is registered as teams:nobody" in unknown.stderr
