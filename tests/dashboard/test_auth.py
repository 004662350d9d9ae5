"""bot.dashboard.auth on a real records database: scrypt hashes, one-time passwords, sessions that
expire (idle and absolute), CSRF tokens, lockout after wrong passwords, the first administrator."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select

from bot.dashboard import auth
from bot.records.models import AuditEntry, DashboardSession, DashboardUser
from tests.dashboard.conftest import NOW, PASSWORD, make_user


def test_a_password_is_stored_as_a_salted_scrypt_hash_and_checked():
    first, second = auth.hash_password(PASSWORD), auth.hash_password(PASSWORD)
    assert first.startswith("scrypt$16384$8$1$") and PASSWORD not in first
    assert first != second  # a random salt each time
    assert auth.verify_password(PASSWORD, first)
    assert not auth.verify_password(PASSWORD + "!", first)
    assert not auth.verify_password(PASSWORD, "md5$abc")  # a foreign or broken hash never matches


def test_the_first_start_creates_one_administrator_with_a_one_time_password(database):
    with database.session() as session:
        password = auth.ensure_first_administrator(session, now=NOW)
        again = auth.ensure_first_administrator(session, now=NOW)
    assert password and again is None
    with database.session() as session:
        admin = auth.find_user(session, username="admin")
        assert admin.role == auth.ADMINISTRATOR and admin.must_change_password
        assert admin.password_hash != password and auth.verify_password(password, admin.password_hash)


def test_two_web_apps_starting_together_make_one_administrator(database, monkeypatch):
    from sqlalchemy import func, select

    from bot.dashboard.app import first_run_password
    from bot.records.models import DashboardUser

    first = first_run_password(database, NOW)
    # The second app counted no users and found no "admin" before the first committed: its insert
    # then meets the unique username, and it goes on without a password of its own.
    monkeypatch.setattr(auth, "user_count", lambda session: 0)
    monkeypatch.setattr(auth, "find_user", lambda session, **kw: None)
    second = first_run_password(database, NOW)
    monkeypatch.undo()
    assert first and second is None
    with database.session() as session:
        assert session.execute(select(func.count()).select_from(DashboardUser)).scalar_one() == 1
        assert auth.verify_password(first, auth.find_user(session, username="admin").password_hash)


def test_a_session_ends_after_30_idle_minutes_or_8_hours_and_at_sign_out(database):
    make_user(database, "bm", auth.BUSINESS_MANAGER, partnership="bury-children")
    with database.session() as session:
        user = auth.authenticate(session, username="bm", password=PASSWORD, now=NOW)
        signed_in = auth.start_session(session, user=user, now=NOW)
        stored = session.scalars(select(DashboardSession)).one()
        assert stored.token_digest != signed_in.token  # only the digest is stored
    moment = NOW
    with database.session() as session:
        # Used every 29 minutes it stays alive, until 8 hours after sign-in.
        while moment + timedelta(minutes=29) < NOW + auth.ABSOLUTE:
            moment += timedelta(minutes=29)
            assert auth.current_session(session, token=signed_in.token, now=moment) is not None
        assert auth.current_session(session, token=signed_in.token, now=NOW + auth.ABSOLUTE) is None
    with database.session() as session:
        user = auth.find_user(session, username="bm")
        idle = auth.start_session(session, user=user, now=NOW)
        assert auth.current_session(session, token=idle.token, now=NOW + timedelta(minutes=29)) is not None
        assert auth.current_session(session, token=idle.token, now=NOW + timedelta(minutes=60)) is None
        out = auth.start_session(session, user=user, now=NOW)
        record = auth.current_session(session, token=out.token, now=NOW)
        auth.end_session(session, record=record, now=NOW)
        assert auth.current_session(session, token=out.token, now=NOW) is None
        assert auth.current_session(session, token="made-up", now=NOW) is None


def test_the_csrf_token_is_the_sessions_own(database):
    make_user(database, "bm", auth.BUSINESS_MANAGER, partnership="bury-children")
    with database.session() as session:
        user = auth.find_user(session, username="bm")
        one = auth.start_session(session, user=user, now=NOW).record
        other = auth.start_session(session, user=user, now=NOW).record
        assert auth.csrf_ok(one, one.csrf_token)
        assert not auth.csrf_ok(one, other.csrf_token)
        assert not auth.csrf_ok(one, "") and not auth.csrf_ok(one, None) and not auth.csrf_ok(None, one.csrf_token)


def test_five_wrong_passwords_lock_the_account_for_a_few_minutes(database):
    make_user(database, "bm", auth.BUSINESS_MANAGER, partnership="bury-children")
    for attempt in range(auth.MAX_FAILURES):
        with database.session() as session, pytest.raises(auth.AuthError, match="not right"):
            auth.authenticate(session, username="bm", password=f"wrong {attempt}", now=NOW)
    with database.session() as session, pytest.raises(auth.AuthError, match="Too many wrong passwords"):
        auth.authenticate(session, username="bm", password=PASSWORD, now=NOW + timedelta(minutes=1))
    with database.session() as session:
        assert auth.authenticate(session, username="bm", password=PASSWORD, now=NOW + auth.LOCKOUT).username == "bm"
        assert session.scalars(select(AuditEntry).where(AuditEntry.action == "dashboard.locked_out")).one()


def test_an_unknown_username_and_a_wrong_password_get_the_same_answer(database):
    make_user(database, "bm", auth.BUSINESS_MANAGER, partnership="bury-children")
    answers = []
    for username in ("bm", "nobody"):
        with database.session() as session, pytest.raises(auth.AuthError) as refused:
            auth.authenticate(session, username=username, password="wrong password", now=NOW)
        answers.append(str(refused.value))
    assert answers[0] == answers[1]


def test_a_deactivated_user_cannot_sign_in_and_their_sessions_end(database):
    make_user(database, "bm", auth.BUSINESS_MANAGER, partnership="bury-children")
    with database.session() as session:
        user = auth.find_user(session, username="bm")
        token = auth.start_session(session, user=user, now=NOW).token
        auth.set_active(session, user=user, active=False, now=NOW, actor="dashboard:boss")
        assert auth.current_session(session, token=token, now=NOW) is None
        with pytest.raises(auth.AuthError, match="deactivated"):
            auth.authenticate(session, username="bm", password=PASSWORD, now=NOW)


def test_users_need_their_scope_and_a_new_password_must_be_long_and_new(database):
    with database.session() as session:
        with pytest.raises(auth.AuthError, match="partnership"):
            auth.create_user(session, username="bm", role=auth.BUSINESS_MANAGER, now=NOW, actor="test")
        with pytest.raises(auth.AuthError, match="agency"):
            auth.create_user(session, username="sl", role=auth.SAFEGUARDING_LEAD, now=NOW, actor="test")
        with pytest.raises(auth.AuthError, match="channel identity"):
            auth.create_user(session, username="lm", role=auth.LINE_MANAGER, now=NOW, actor="test")
        with pytest.raises(auth.AuthError, match="role"):
            auth.create_user(session, username="x1", role="superuser", now=NOW, actor="test")
        user, one_time = auth.create_user(session, username="BM", role=auth.BUSINESS_MANAGER, partnership="bury-adults", now=NOW, actor="test")
        assert user.username == "bm" and user.must_change_password
        with pytest.raises(auth.AuthError, match="already"):
            auth.create_user(session, username="bm", role=auth.ADMINISTRATOR, now=NOW, actor="test")
        for new, repeated, problem in (
            ("short", "short", "at least 12"), ("a long new password", "another long one", "not the same"),
            (one_time, one_time, "not the one you have now"), ("my name is bm really", "my name is bm really", "username"),
        ):
            with pytest.raises(auth.AuthError, match=problem):
                auth.change_password(session, user=user, current=one_time, new=new, repeated=repeated, now=NOW)
        auth.change_password(session, user=user, current=one_time, new=PASSWORD, repeated=PASSWORD, now=NOW)
        assert not user.must_change_password
        assert session.scalars(select(DashboardUser)).one().username == "bm"
