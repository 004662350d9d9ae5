"""The dashboard served on a loopback port against a seeded records database: signing in and out,
sessions that expire, CSRF refusals, each role's scope (403 outside it), filters and sorting done
in SQL, no free text on the register, an audit entry for every view, the report and the export."""

from __future__ import annotations

import csv
import io
import re
from datetime import date

import pytest
from sqlalchemy import select
from sqlalchemy.orm import selectinload

from bot.dashboard import auth
from bot.dashboard.app import SESSION_COOKIE
from bot.records.models import AuditEntry, DashboardUser, Escalation, Person
from tests.dashboard.conftest import PASSWORD, Client

REFERENCE = re.compile(r'href="/dashboard/records/(ESC-[0-9A-Z]{6})"')


def references(page) -> list[str]:
    return REFERENCE.findall(page.text)


def signed_in(client: Client, username: str) -> Client:
    answer = client.login(username)
    assert answer.status == 302, answer.text
    return client


def escalations(database, **where) -> list[Escalation]:
    with database.session() as session:
        query = select(Escalation).options(selectinload(Escalation.stages))
        for column, value in where.items():
            query = query.where(getattr(Escalation, column) == value)
        return list(session.scalars(query))


def team_references(database, manager_id: int) -> set[str]:
    with database.session() as session:
        return set(
            session.scalars(
                select(Escalation.reference).join(Person, Person.id == Escalation.raised_by_id).where(Person.line_manager_id == manager_id)
            )
        )


# Signing in ------------------------------------------------------------------------------------


def test_pages_need_signing_in_and_the_session_cookie_is_httponly_and_strict(client, users):
    answer = client.get("/dashboard/register?status=open")
    assert answer.status == 302 and answer.location.startswith("/dashboard/login?next=")
    form = client.get("/dashboard/login")
    assert "HttpOnly" in form.cookies_set() and "SameSite=Strict" in form.cookies_set()
    answer = client.post(
        "/dashboard/login",
        {"csrf": form.csrf(), "username": "bm-bury", "password": PASSWORD, "next": "/dashboard/register?status=open"},
    )
    assert answer.status == 302 and answer.location == "/dashboard/register?status=open"
    cookie = next(line for line in answer.cookies_set().splitlines() if line.startswith(f"{SESSION_COOKIE}="))
    assert "HttpOnly" in cookie and "SameSite=Strict" in cookie and "Path=/dashboard" in cookie
    page = client.get("/dashboard/register")
    assert page.status == 200 and "Challenge register" in page.text
    assert page.headers["Content-Security-Policy"].startswith("default-src 'none'")
    assert "<script" not in page.text and "http://" not in page.text and "https://" not in page.text  # nothing from outside


def test_a_wrong_password_is_refused_and_next_never_leaves_the_dashboard(client, users):
    assert client.login("bm-bury", "not the password").status == 401
    form = client.get("/dashboard/login")
    answer = client.post("/dashboard/login", {"csrf": form.csrf(), "username": "bm-bury", "password": PASSWORD, "next": "https://elsewhere.example/"})
    assert answer.location == "/dashboard/"


def test_signing_in_without_the_forms_token_is_refused(client, users):
    client.get("/dashboard/login")
    answer = client.post("/dashboard/login", {"csrf": "forged", "username": "bm-bury", "password": PASSWORD})
    assert answer.status == 403 and client.cookie(SESSION_COOKIE) is None


def test_sign_out_needs_the_csrf_token_and_ends_the_session(client, users):
    page = signed_in(client, "bm-bury").get("/dashboard/register")
    assert client.post("/dashboard/logout", {}).status == 403
    assert client.post("/dashboard/logout", {"csrf": "forged"}).status == 403
    assert client.get("/dashboard/register").status == 200  # still signed in
    assert client.post("/dashboard/logout", {"csrf": page.csrf()}).status == 302
    assert client.get("/dashboard/register").status == 302


def test_a_session_left_idle_for_30_minutes_has_ended(client, users, clock):
    signed_in(client, "bm-bury")
    clock.advance(minutes=29)
    assert client.get("/dashboard/register").status == 200
    clock.advance(minutes=29)
    assert client.get("/dashboard/register").status == 200
    clock.advance(minutes=31)
    answer = client.get("/dashboard/register")
    assert answer.status == 302 and answer.location.startswith("/dashboard/login")


def test_a_one_time_password_must_be_changed_before_anything_else(client, database):
    with database.session() as session:
        _, one_time = auth.create_user(session, username="newbm", role=auth.BUSINESS_MANAGER, partnership="bury-adults", now=client_now(), actor="test")
    answer = client.login("newbm", one_time)
    assert answer.location == "/dashboard/password"
    assert client.get("/dashboard/register").location == "/dashboard/password"
    page = client.get("/dashboard/password")
    refused = client.post("/dashboard/password", {"csrf": page.csrf(), "current": one_time, "new": "short", "repeated": "short"})
    assert refused.status == 400 and "at least 12" in refused.text
    changed = client.post("/dashboard/password", {"csrf": page.csrf(), "current": one_time, "new": PASSWORD, "repeated": PASSWORD})
    assert changed.status == 302
    assert client.get("/dashboard/register").status == 200


def client_now():
    from tests.dashboard.conftest import NOW

    return NOW


# Administrator ---------------------------------------------------------------------------------


def test_the_administrator_creates_users_with_one_time_passwords_and_deactivates_them(client, users, database):
    signed_in(client, "boss")
    page = client.get("/dashboard/admin/users")
    assert page.status == 200 and "bm-bury" in page.text
    assert client.post("/dashboard/admin/users", {"username": "sneaky", "role": "administrator"}).status == 403
    created = client.post(
        "/dashboard/admin/users",
        {"csrf": page.csrf(), "username": "bm-warrington", "role": "business_manager", "partnership": "warrington-adults"},
    )
    assert created.status == 200
    one_time = re.search(r'<code class="one-time">([^<]+)</code>', created.text).group(1)
    manager = escalations(database)[0].raised_by_id
    with database.session() as session:
        identity = session.get(Person, session.get(Person, manager).line_manager_id)
        channel = f"{identity.channel}:{identity.channel_id}"
    assert client.post("/dashboard/admin/users", {"csrf": page.csrf(), "username": "lm2", "role": "line_manager", "person": "telegram:0"}).status == 400
    assert client.post("/dashboard/admin/users", {"csrf": page.csrf(), "username": "lm2", "role": "line_manager", "person": channel}).status == 200
    with database.session() as session:
        target = session.scalars(select(DashboardUser).where(DashboardUser.username == "bm-warrington")).one()
        assert target.must_change_password and auth.verify_password(one_time, target.password_hash)
        assert session.scalars(select(DashboardUser).where(DashboardUser.username == "lm2")).one().person_id == identity.id
    other = Client(client.base)
    assert other.login("bm-warrington", one_time).location == "/dashboard/password"
    assert client.post(f"/dashboard/admin/users/{target.id}/deactivate", {"csrf": page.csrf()}).status == 200
    assert other.get("/dashboard/password").status == 302  # their session ended with the account
    assert other.login("bm-warrington", one_time).status == 401
    # The administrator manages users; case records are not theirs to see.
    assert client.get("/dashboard/register").status == 403
    assert client.get(f"/dashboard/records/{escalations(database)[0].reference}").status == 403


def test_other_roles_cannot_manage_users(client, users):
    page = signed_in(client, "bm-bury").get("/dashboard/register")
    assert client.get("/dashboard/admin/users").status == 403
    assert client.post("/dashboard/admin/users", {"csrf": page.csrf(), "username": "x2", "role": "administrator"}).status == 403


# Scope -----------------------------------------------------------------------------------------


def test_a_business_manager_sees_only_their_partnerships_escalations(client, users, database):
    signed_in(client, "bm-bury")
    page = client.get("/dashboard/register?status=&sort=reference&dir=asc")
    mine = {e.reference for e in escalations(database, partnership="bury-children")}
    listed = set(references(page))
    total = int(re.search(r'<span id="total">(\d+)</span>', page.text).group(1))
    assert total == len(mine) and listed <= mine and listed
    elsewhere = escalations(database, partnership="warrington-adults")[0].reference
    answer = client.get(f"/dashboard/records/{elsewhere}")
    assert answer.status == 403 and elsewhere in answer.text
    assert client.get("/dashboard/register?partnership=warrington-adults").text.count("data-reference=") == 0
    assert client.get("/dashboard/records/ESC-000000").status == 404


def test_a_line_manager_sees_their_teams_records_and_gets_403_for_another_teams(client, users, database):
    manager_id = int(users["manager_person_id"])
    team = team_references(database, manager_id)
    signed_in(client, "manager-csc")
    page = client.get("/dashboard/register")
    assert set(references(page)) == team and team
    reference = sorted(team)[0]
    opened = client.get(f"/dashboard/records/{reference}")
    assert opened.status == 200 and "Case reference" in opened.text
    others = [e.reference for e in escalations(database, partnership="bury-children") if e.reference not in team]
    answer = client.get(f"/dashboard/records/{others[0]}")
    assert answer.status == 403
    with database.session() as session:
        refused = session.scalars(select(AuditEntry).where(AuditEntry.action == "dashboard.view_refused")).one()
        assert refused.actor == "dashboard:manager-csc" and refused.escalation_reference == others[0]


def test_a_safeguarding_lead_sees_the_escalations_their_agency_is_party_to(client, users, database):
    signed_in(client, "lead-police")
    page = client.get("/dashboard/register")
    theirs = {
        e.reference for e in escalations(database, partnership="south-tyneside")
        if "Police" in (e.agencies or []) or e.other_agency == "Police"
    }
    assert set(references(page)) == theirs and theirs
    not_theirs = next(e for e in escalations(database, partnership="south-tyneside") if e.reference not in theirs)
    assert client.get(f"/dashboard/records/{not_theirs.reference}").status == 403


# The register ----------------------------------------------------------------------------------


def test_the_register_has_no_free_text(client, users, database):
    signed_in(client, "manager-csc")
    page = client.get("/dashboard/register")
    for escalation in escalations(database):
        for text in (escalation.summary, escalation.desired_outcome, escalation.outcome, escalation.case_reference):
            if text:
                assert text not in page.text


def test_filters_and_sorting(client, users, database):
    signed_in(client, "bm-bury")
    bury = escalations(database, partnership="bury-children")
    resolved = client.get("/dashboard/register?status=resolved&sort=reference&dir=asc")
    expected = sorted(e.reference for e in bury if e.status == "resolved")
    assert references(resolved) == expected
    descending = client.get("/dashboard/register?status=resolved&sort=reference&dir=desc")
    assert references(descending) == expected[::-1]
    category = client.get("/dashboard/register?category=risk")
    assert set(references(category)) == {e.reference for e in bury if e.category == "risk"}
    stage = client.get("/dashboard/register?stage=2")
    assert set(references(stage)) == {e.reference for e in bury if len(e.stages) == 2}
    agency = client.get("/dashboard/register?agency=Police")
    assert set(references(agency)) == {e.reference for e in bury if "Police" in e.agencies}
    start, end = date(2026, 3, 1), date(2026, 5, 31)
    dated = client.get(f"/dashboard/register?from={start}&to={end}")
    assert set(references(dated)) == {e.reference for e in bury if start <= e.opened_at.date() <= end}
    by_due = client.get("/dashboard/register?sort=due&dir=asc")
    dues = [date.fromisoformat(d) for d in re.findall(r"<td>(\d{4}-\d\d-\d\d)(?: <span|</td>)", by_due.text)[::2]]
    assert dues == sorted(dues)
    assert client.get("/dashboard/register?status=nonsense&from=garbage&page=x").status == 200  # ignored, not an error


def test_overdue_escalations_are_highlighted_and_come_first(client, users, database, clock):
    signed_in(client, "bm-bury")
    page = client.get("/dashboard/register")  # default: most overdue first
    today = clock().date()
    overdue = {
        e.reference for e in escalations(database, partnership="bury-children")
        if e.status == "open" and (e.stages[-1].more_time_until or e.stages[-1].due_on) and (e.stages[-1].more_time_until or e.stages[-1].due_on) < today
    }
    rows = re.findall(r'<tr class="(overdue|) status-(\w+)" data-reference="(ESC-\w+)"', page.text)
    highlighted = [reference for kind, _, reference in rows if kind == "overdue"]
    assert set(highlighted) == overdue and [r for _, _, r in rows[: len(overdue)]] == highlighted
    filtered = client.get("/dashboard/register?overdue=1")
    assert set(references(filtered)) == overdue


def test_the_register_is_paginated(client, users, monkeypatch):
    import bot.dashboard.app as dashboard

    monkeypatch.setattr(dashboard, "PAGE_SIZE", 10)
    signed_in(client, "bm-bury")
    first = client.get("/dashboard/register?sort=reference&dir=asc")
    total = int(re.search(r'<span id="total">(\d+)</span>', first.text).group(1))
    second = client.get("/dashboard/register?sort=reference&dir=asc&page=2")
    last = client.get("/dashboard/register?sort=reference&dir=asc&page=99")  # the last page
    assert total > 20 and len(references(first)) == len(references(second)) == 10
    assert references(first)[-1] < references(second)[0]
    assert f"Page 2 of {-(-total // 10)}" in second.text and len(references(last)) == (total % 10 or 10)


# A record --------------------------------------------------------------------------------------


def test_every_view_of_a_record_is_audited_and_shows_its_timeline_and_trail(client, users, database):
    signed_in(client, "bm-bury")
    escalation = next(e for e in escalations(database, partnership="bury-children") if len(e.stages) > 1)
    for _ in range(2):
        page = client.get(f"/dashboard/records/{escalation.reference}")
        assert page.status == 200
    for stage in escalation.stages:
        assert stage.title.replace("'", "&#39;") in page.text
    assert "escalation.opened" in page.text and "dashboard.viewed" in page.text
    with database.session() as session:
        views = list(session.scalars(select(AuditEntry).where(AuditEntry.action == "dashboard.viewed", AuditEntry.escalation_reference == escalation.reference)))
    assert [v.actor for v in views] == ["dashboard:bm-bury"] * 2


def test_case_details_only_for_the_roles_that_may_see_them(client, users, database):
    manager_id = int(users["manager_person_id"])
    reference = sorted(team_references(database, manager_id))[0]
    escalation = escalations(database, reference=reference)[0]
    signed_in(client, "bm-bury")
    business = client.get(f"/dashboard/records/{reference}").text
    assert escalation.summary in business
    assert escalation.case_reference not in business and "Evidence" not in business
    manager = signed_in(Client(client.base), "manager-csc").get(f"/dashboard/records/{reference}").text
    assert escalation.summary in manager and escalation.case_reference in manager


# Report and export -----------------------------------------------------------------------------


def test_the_business_manager_downloads_the_report_and_it_is_audited(client, users, database):
    signed_in(client, "bm-bury")
    assert client.get("/dashboard/report").status == 200
    answer = client.get("/dashboard/report?download=1&from=2026-05-01&to=2026-10-31")
    assert answer.status == 200 and answer.body[:2] == b"PK"
    assert answer.headers["Content-Disposition"].startswith("attachment;")
    with database.session() as session:
        entry = session.scalars(select(AuditEntry).where(AuditEntry.action == "dashboard.report")).one()
        assert entry.detail == {"partnership": "bury-children", "start": "2026-05-01", "end": "2026-10-31"}
    lead = signed_in(Client(client.base), "lead-police")
    assert lead.get("/dashboard/report?download=1").status == 403


def test_the_export_is_the_filtered_register(client, users, database):
    signed_in(client, "bm-bury")
    answer = client.get("/dashboard/register.csv?status=resolved")
    assert answer.status == 200 and answer.headers["Content-Type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(answer.body.decode("utf-8-sig"))))
    expected = {e.reference for e in escalations(database, partnership="bury-children", status="resolved")}
    assert {row["Reference"] for row in rows} == expected
    assert all(not row["Case reference"] for row in rows)  # not for a business manager
    workbook = client.get("/dashboard/register.xlsx")
    assert workbook.status == 200 and workbook.body[:2] == b"PK"
    with database.session() as session:
        assert len(list(session.scalars(select(AuditEntry).where(AuditEntry.action == "dashboard.exported")))) == 2


def test_themes_are_charts_in_the_page(client, users):
    signed_in(client, "bm-bury")
    page = client.get("/dashboard/themes?from=2026-01-01&to=2026-10-31")
    assert page.status == 200 and page.text.count('src="data:image/svg+xml;base64,') >= 1


def test_one_web_app_serves_the_web_chat_at_the_root_and_the_dashboard_below_it(client, settings):
    page = client.get("/")
    assert page.status == 200 and "text/html" in page.headers["Content-Type"]
    assert '<script src="/config.js"' in page.text or "config.js" in page.text
    assert f"connect-src 'self' {settings.rasa_url}" in page.headers["Content-Security-Policy"]
    config = client.get("/config.js")
    assert settings.rasa_url in config.text and config.headers["Content-Type"].startswith("text/javascript")
    assert client.get("/chat.js").status == 200 and client.get("/chat.css").status == 200
    assert client.get("/../bot/config.py").status == 404
    assert client.get("/dashboard/login").status == 200
