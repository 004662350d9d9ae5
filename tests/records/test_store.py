"""The records store on real databases (a SQLite file, a PostgreSQL database) with real migrations."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from sqlalchemy import select, text
from sqlalchemy.exc import DatabaseError
from sqlalchemy.orm.exc import StaleDataError

from bot.records import store
from bot.records.db import open_database
from bot.records.models import AuditEntry, Escalation
from tests.conftest import london

NOW = london(2026, 11, 23, 10)


def open_one(session, library, *, partnership="south-tyneside", subject="children", now=NOW, **overrides):
    person = store.person_for(session, channel="rest", channel_id="practitioner-1", now=now)
    values = dict(
        person=person, pack=library[partnership], subject=subject, case_reference="csc-204518",
        other_agency="Children's social care", category="levels-of-need",
        summary="The referral was judged below threshold despite repeated missed health appointments.",
        desired_outcome="A strategy discussion and a single assessment.", evidence="Three missed appointments since September.",
        now=now,
    )  # fmt: skip
    values.update(overrides)
    return person, store.open_escalation(session, **values)


def test_open_records_the_first_stage_with_its_due_date(database, library):
    with database.session() as session:
        person, escalation = open_one(session, library)
        reference = escalation.reference
    with database.session() as session:
        escalation = store.find(session, reference=reference, person=None)
        assert escalation.case_reference == "CSC-204518"
        assert escalation.status == "open"
        [stage] = escalation.stages
        assert (stage.key, stage.due_on, stage.due_basis) == ("practitioners", date(2026, 11, 24), "stage_timescale")
        assert stage.started_at == NOW
        assert store.pack_of(escalation).id == "south-tyneside"
        actions = [entry.action for entry in store.audit_trail(session, reference=reference)]
        assert actions == ["escalation.opened"]


def test_free_text_is_encrypted_at_rest(database, library, settings):
    with database.session() as session:
        _, escalation = open_one(session, library)
    with database.engine.connect() as raw:  # plain SQL: no decrypting column type in between
        summary, case_reference = raw.execute(text("SELECT summary, case_reference FROM escalations")).one()
    assert b"threshold" not in bytes(summary)
    assert bytes(summary).startswith(b"gAAAAA")  # a Fernet token
    assert case_reference == "CSC-204518"
    assert (settings.var_dir / "records.key").stat().st_mode & 0o777 == 0o600


def test_a_wrong_key_is_a_clear_error(settings, library, tmp_path):
    database = open_database(settings)
    with database.session() as session:
        open_one(session, library)
    database.dispose()
    (settings.var_dir / "records.key").unlink()
    other = open_database(settings)  # makes a new, different key
    with pytest.raises(RuntimeError, match="not the key these records were written with"):
        with other.session() as session:
            session.scalars(select(Escalation)).first().summary
    other.dispose()


def test_walk_to_the_final_stage_then_refuse_to_go_further(database, library):
    with database.session() as session:
        person, escalation = open_one(session, library)
        for day in range(1, 5):
            store.escalate(session, escalation=escalation, person=person, now=NOW + timedelta(days=day))
        assert [s.key for s in escalation.stages] == ["practitioners", "stage-1", "stage-2", "stage-3", "stage-4"]
        assert all(s.resolved is False and s.closed_at for s in escalation.stages[:-1])
        # Stage 2 onwards: due by the whole escalation's five working days from Monday 23rd.
        assert escalation.stages[2].due_on == date(2026, 11, 30)
        with pytest.raises(store.FinalStageReached, match="the last stage of the South Tyneside procedure"):
            store.escalate(session, escalation=escalation, person=person, now=NOW + timedelta(days=5))


def test_record_a_stage_and_close_resolved(database, library):
    with database.session() as session:
        person, escalation = open_one(session, library, partnership="bury-children")
        store.record_stage(
            session, escalation=escalation, person=person, now=NOW, involved="My line manager and theirs",
            outcome="Agreed to hold a strategy discussion", key_points_in_writing=True,
        )  # fmt: skip
        store.close_resolved(
            session, escalation=escalation, person=person, outcome="Strategy discussion held",
            outcome_for_person="The child now has a safety plan.", now=NOW + timedelta(days=2),
        )  # fmt: skip
        reference = escalation.reference
    with database.session() as session:
        escalation = store.find(session, reference=reference, person=None)
        assert escalation.status == "resolved"
        assert escalation.stages[0].key_points_in_writing is True
        assert escalation.stages[0].resolved is True
        assert escalation.outcome_for_person == "The child now has a safety plan."
        trail = store.audit_trail(session, reference=reference)
        assert [e.action for e in trail] == ["escalation.opened", "stage.recorded", "escalation.resolved"]
        assert trail[1].detail["fields"] == ["involved", "key_points_in_writing", "outcome"]
        assert "strategy" not in str(trail[1].detail).lower()  # names fields, never the text
        with pytest.raises(store.EscalationClosed, match="resolved: it can be viewed but no longer changed"):
            store.escalate(session, escalation=escalation, person=escalation.raised_by, now=NOW)


def test_an_agreed_review_date_is_the_due_date_where_no_days_are_set(database, library):
    with database.session() as session:
        person, escalation = open_one(session, library, partnership="warrington-adults", subject="adults")
        assert (escalation.stages[0].due_on, escalation.stages[0].due_basis) == (None, "not_set")
        store.record_stage(session, escalation=escalation, person=person, now=NOW, review_on=date(2026, 11, 27))
        assert (escalation.stages[0].due_on, escalation.stages[0].due_basis) == (date(2026, 11, 27), "agreed_review")
        with pytest.raises(store.InvalidValue, match="already passed"):
            store.record_stage(session, escalation=escalation, person=person, now=NOW, review_on=date(2026, 11, 1))


def test_someone_elses_record_is_refused(database, library):
    with database.session() as session:
        _, escalation = open_one(session, library)
        stranger = store.person_for(session, channel="rest", channel_id="someone-else", now=NOW)
        with pytest.raises(store.NotYourEscalation, match="is not one of your escalations"):
            store.find(session, reference=escalation.reference, person=stranger)
        with pytest.raises(store.NoSuchEscalation, match="There is no escalation ESC-000000"):
            store.find(session, reference="esc-000000", person=stranger)
        assert store.escalations_of(session, person=stranger) == []


@pytest.mark.parametrize(
    "overrides, message",
    [
        ({"case_reference": "Jo Bloggs"}, "A case reference is your agency's own number"),
        ({"case_reference": "abc"}, "A case reference is your agency's own number"),
        ({"summary": "x" * 2001}, "The summary is 2001 characters; please keep it under 2000"),
        ({"summary": "   "}, "The summary cannot be empty"),
        ({"category": "weather"}, "Unknown category 'weather'"),
        ({"subject": "children", "partnership": "warrington-adults"}, "covers adults, not children"),
    ],
)
def test_bad_input_is_refused_and_nothing_is_written(database, library, overrides, message):
    with pytest.raises(store.InvalidValue, match=message):
        with database.session() as session:
            open_one(session, library, **overrides)
    with database.session() as session:
        assert session.scalars(select(Escalation)).all() == []


def test_the_audit_trail_is_append_only(database, library):
    with database.session() as session:
        open_one(session, library)
    with pytest.raises(DatabaseError, match="append-only"):
        with database.session() as session:
            session.execute(text("UPDATE audit_trail SET actor = 'someone'"))
    with pytest.raises(DatabaseError, match="append-only"):
        with database.session() as session:
            session.execute(text("DELETE FROM audit_trail"))


def test_an_escalation_keeps_the_procedure_it_started_under(database, library):
    with database.session() as session:
        _, escalation = open_one(session, library, partnership="bury-children")
        reference = escalation.reference
    changed = library["bury-children"].copy(update={"version": "a later version"}, deep=True)
    changed.stages[1].__dict__["title"] = "Level 2: renamed"
    with database.session() as session:
        person = store.person_for(session, channel="rest", channel_id="practitioner-1", now=NOW)
        other = store.open_escalation(
            session, person=person, pack=changed, subject="children", case_reference="CSC-1000",
            other_agency="Police", category="risk", summary="s", desired_outcome="d", now=NOW,
        )  # fmt: skip
        old = store.find(session, reference=reference, person=None)
        store.escalate(session, escalation=old, person=person, now=NOW)
        store.escalate(session, escalation=other, person=person, now=NOW)
        assert old.stages[1].title == "Level 2: Line Manager to Line Manager"
        assert other.stages[1].title == "Level 2: renamed"
        assert store.view(old).procedure_version != store.view(other).procedure_version


def test_two_writers_on_one_escalation_the_second_is_refused(database, library):
    with database.session() as session:
        person, escalation = open_one(session, library)
        reference = escalation.reference
    first, second = database.sessions(), database.sessions()
    try:
        a = store.find(first, reference=reference, person=None)
        b = store.find(second, reference=reference, person=None)
        store.escalate(first, escalation=a, person=a.raised_by, now=NOW)
        first.commit()
        with pytest.raises(StaleDataError):
            store.escalate(second, escalation=b, person=b.raised_by, now=NOW)
            second.commit()
    finally:
        first.close()
        second.rollback()
        second.close()
    with database.session() as session:
        assert [s.index for s in store.find(session, reference=reference, person=None).stages] == [0, 1]


def test_purge_removes_only_expired_closed_records_and_says_so(database, library):
    with database.session() as session:
        person, old = open_one(session, library, now=NOW - timedelta(days=800))
        store.close_resolved(session, escalation=old, person=person, outcome="o", outcome_for_person="p", now=NOW - timedelta(days=700))
        _, still_open = open_one(session, library, now=NOW - timedelta(days=800))
        _, recent = open_one(session, library)
        store.cancel(session, escalation=recent, person=person, now=NOW)
        purged = store.purge_closed(session, retention_days=365, now=NOW, actor="operator:cli")
        assert purged == [old.reference]
    with database.session() as session:
        remaining = {e.reference for e in session.scalars(select(Escalation))}
        assert remaining == {still_open.reference, recent.reference}
        trail = store.audit_trail(session, reference=old.reference)
        assert [e.action for e in trail] == ["escalation.opened", "escalation.resolved", "escalation.purged"]
        assert trail[-1].actor == "operator:cli"
        assert session.scalars(select(AuditEntry)).all()  # the trail itself is kept


def test_categories_from_answers():
    assert store.match_category("they say it doesn't meet threshold") == "levels-of-need"
    assert store.match_category("info not shared with us") == "communication"
    assert store.match_category("the case was stepped down to early help") == "step-up-step-down"
    assert store.match_category("progress-of-plans") == "progress-of-plans"
    assert store.match_category("the weather") is None


def test_the_view_is_plain_and_complete(database, library):
    with database.session() as session:
        person, escalation = open_one(session, library, partnership="bury-children")
        store.update_person(session, person=person, now=NOW, name="A. Practitioner", role="Health visitor", agency="0-19 service")
        seen = store.view(escalation)
    assert seen.partnership_name == library["bury-children"].name
    assert seen.raised_by.role == "Health visitor"
    assert seen.category_label == "Levels of need / thresholds"
    assert seen.current_stage.title == "Level 1: Practitioner to Practitioner"
    assert seen.current_stage.due_on == date(2026, 12, 7)


def test_registering_the_same_answers_again_adds_nothing_to_the_audit_trail(database):
    details = dict(email="nurse@nhs.example", manager_email="lead@nhs.example", agency="district nursing", role="nurse", partnership="bury-adults")

    def registered_rows(session):
        return session.scalars(select(AuditEntry).where(AuditEntry.action == "person.registered_details")).all()

    with database.session() as session:
        person = store.person_for(session, channel="rest", channel_id="replayed-1", now=NOW)
        store.register(session, person=person, now=NOW, **details)
    with database.session() as session:  # the same message again, after a restart
        person = store.person_for(session, channel="rest", channel_id="replayed-1", now=NOW)
        store.register(session, person=person, now=NOW + timedelta(minutes=1), **details)
        assert len(registered_rows(session)) == 1
    with database.session() as session:  # a real change is audited
        person = store.person_for(session, channel="rest", channel_id="replayed-1", now=NOW)
        store.register(session, person=person, now=NOW + timedelta(minutes=2), **{**details, "role": "ward sister"})
        assert len(registered_rows(session)) == 2
