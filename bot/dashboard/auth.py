"""Who may use the dashboard: users, passwords, sessions, CSRF tokens and login throttling.

- Passwords are hashed with scrypt (n=2**14, r=8, p=1, a random 16-byte salt per password) and
  compared in constant time; only the hash is stored.
- A session's cookie holds a random token; the database holds its SHA-256 digest, so a copy of
  the database does not sign anyone in. A session ends after ``IDLE`` unused or ``ABSOLUTE``
  after sign-in, whichever comes first, or at sign-out.
- Every session has its own CSRF token, which every form that changes something carries back.
- ``MAX_FAILURES`` wrong passwords in a row lock the account for ``LOCKOUT``.

Every function takes a keyword-only ``session`` (the caller owns the transaction) and ``now``.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from bot.records import store
from bot.records.models import DashboardSession, DashboardUser, Person

ADMINISTRATOR = "administrator"
BUSINESS_MANAGER = "business_manager"
SAFEGUARDING_LEAD = "safeguarding_lead"
LINE_MANAGER = "line_manager"
ROLES = {
    ADMINISTRATOR: "Administrator",
    BUSINESS_MANAGER: "Business manager",
    SAFEGUARDING_LEAD: "Safeguarding lead",
    LINE_MANAGER: "Line manager",
}

IDLE = timedelta(minutes=30)
ABSOLUTE = timedelta(hours=8)
MAX_FAILURES = 5
LOCKOUT = timedelta(minutes=5)
MIN_PASSWORD = 12
USERNAME = re.compile(r"^[a-z0-9][a-z0-9._-]{1,63}$")

SCRYPT_N, SCRYPT_R, SCRYPT_P = 2**14, 8, 1
SALT_BYTES = 16


class AuthError(ValueError):
    """Signing in or managing a user cannot be done; ``str()`` says why, in a sentence."""


# Passwords -------------------------------------------------------------------------------------


def _b64(raw: bytes) -> str:
    return base64.b64encode(raw).decode("ascii")


def hash_password(password: str, *, salt: bytes | None = None) -> str:
    """``scrypt$n$r$p$salt$hash`` (base64), with a fresh random salt unless one is given."""
    salt = secrets.token_bytes(SALT_BYTES) if salt is None else salt
    derived = hashlib.scrypt(
        password.encode("utf-8"), salt=salt, n=SCRYPT_N, r=SCRYPT_R, p=SCRYPT_P, dklen=32
    )
    return f"scrypt${SCRYPT_N}${SCRYPT_R}${SCRYPT_P}${_b64(salt)}${_b64(derived)}"


def verify_password(password: str, stored: str) -> bool:
    """Whether ``password`` matches ``stored`` (compared in constant time)."""
    try:
        scheme, n, r, p, salt, expected = stored.split("$")
        if scheme != "scrypt":
            return False
        derived = hashlib.scrypt(
            password.encode("utf-8"), salt=base64.b64decode(salt), n=int(n), r=int(r), p=int(p),
            dklen=len(base64.b64decode(expected)),
        )  # fmt: skip
    except (ValueError, TypeError):
        return False
    return hmac.compare_digest(derived, base64.b64decode(expected))


# Spent on unknown usernames too, so that timing does not tell which usernames exist.
_DUMMY_HASH: str | None = None


def _dummy_hash() -> str:
    global _DUMMY_HASH
    if _DUMMY_HASH is None:
        _DUMMY_HASH = hash_password(secrets.token_urlsafe(16))
    return _DUMMY_HASH


def one_time_password() -> str:
    """A random password to hand over once; the user must change it at first sign-in."""
    return secrets.token_urlsafe(12)


def check_new_password(password: str, *, username: str) -> None:
    if len(password) < MIN_PASSWORD:
        raise AuthError(f"Choose a password of at least {MIN_PASSWORD} characters.")
    if username.lower() in password.lower():
        raise AuthError("Choose a password that does not contain your username.")


# Users -----------------------------------------------------------------------------------------


def user_count(session: Session) -> int:
    return session.scalar(select(func.count(DashboardUser.id))) or 0


def find_user(session: Session, *, username: str) -> DashboardUser | None:
    return session.scalars(
        select(DashboardUser).where(DashboardUser.username == username.strip().lower())
    ).first()


def create_user(
    session: Session,
    *,
    username: str,
    role: str,
    now: datetime,
    actor: str,
    partnership: str | None = None,
    agency: str | None = None,
    person: Person | None = None,
) -> tuple[DashboardUser, str]:
    """A new user with a one-time password (returned, to be shown once; never stored)."""
    username = username.strip().lower()
    if not USERNAME.match(username):
        raise AuthError(
            "A username is 2 to 64 lower-case letters, digits, dots, dashes or underscores."
        )
    if role not in ROLES:
        raise AuthError(f"Choose a role: {', '.join(ROLES.values())}.")
    if find_user(session, username=username) is not None:
        raise AuthError(f"There is already a user called {username}.")
    partnership = (partnership or "").strip() or None
    agency = (agency or "").strip() or None
    if role == BUSINESS_MANAGER and not partnership:
        raise AuthError("A business manager needs the partnership they manage.")
    if role == SAFEGUARDING_LEAD and not agency:
        raise AuthError("A safeguarding lead needs the agency they lead for.")
    if role == LINE_MANAGER and person is None:
        raise AuthError(
            "A line manager needs the channel identity they use the assistant with "
            "(for example telegram:424242), so their team can be found."
        )
    password = one_time_password()
    user = DashboardUser(
        username=username,
        password_hash=hash_password(password),
        role=role,
        partnership=partnership if role in (BUSINESS_MANAGER, SAFEGUARDING_LEAD) else None,
        agency=agency if role == SAFEGUARDING_LEAD else None,
        person_id=person.id if role == LINE_MANAGER and person is not None else None,
        active=True,
        must_change_password=True,
        created_at=now,
        failed_logins=0,
    )
    session.add(user)
    session.flush()
    store.audit(session, actor=actor, action="dashboard.user_created", at=now, user=username, role=role)
    return user, password


def reset_password(session: Session, *, user: DashboardUser, now: datetime, actor: str) -> str:
    """A new one-time password for ``user`` (returned once); their sessions end."""
    password = one_time_password()
    user.password_hash = hash_password(password)
    user.must_change_password = True
    user.failed_logins, user.locked_until = 0, None
    end_sessions(session, user=user, now=now)
    store.audit(session, actor=actor, action="dashboard.password_reset", at=now, user=user.username)
    return password


def set_active(session: Session, *, user: DashboardUser, active: bool, now: datetime, actor: str) -> None:
    """Deactivate (their sessions end at once) or reactivate a user."""
    user.active = active
    if not active:
        end_sessions(session, user=user, now=now)
    session.flush()
    store.audit(
        session, actor=actor, action="dashboard.user_activated" if active else "dashboard.user_deactivated",
        at=now, user=user.username,
    )  # fmt: skip


def change_password(
    session: Session, *, user: DashboardUser, current: str, new: str, repeated: str, now: datetime
) -> None:
    """The user's own change: the current password, then the new one twice."""
    if not verify_password(current, user.password_hash):
        raise AuthError("The current password is not right.")
    if new != repeated:
        raise AuthError("The two new passwords are not the same.")
    if secrets.compare_digest(new.encode("utf-8"), current.encode("utf-8")):
        raise AuthError("Choose a new password, not the one you have now.")
    check_new_password(new, username=user.username)
    user.password_hash = hash_password(new)
    user.must_change_password = False
    session.flush()
    store.audit(session, actor=actor_of(user), action="dashboard.password_changed", at=now)


def ensure_first_administrator(session: Session, *, now: datetime) -> str | None:
    """On a database with no users: create ``admin`` and return its one-time password (to be
    printed once); otherwise None."""
    if user_count(session):
        return None
    _, password = create_user(session, username="admin", role=ADMINISTRATOR, now=now, actor="dashboard:first-run")
    return password


def actor_of(user: DashboardUser) -> str:
    """How the audit trail names a dashboard user."""
    return f"dashboard:{user.username}"


# Signing in ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class SignedIn:
    """A session that was just created: the cookie's token (only its digest is stored)."""

    token: str
    record: DashboardSession


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def authenticate(session: Session, *, username: str, password: str, now: datetime) -> DashboardUser:
    """The user if the password is right, the account active and not locked; else ``AuthError``
    with the same sentence whether the username exists or not (except for a lockout)."""
    user = find_user(session, username=username)
    wrong = AuthError("The username or password is not right.")
    if user is None:
        verify_password(password, _dummy_hash())
        raise wrong
    if user.locked_until is not None and user.locked_until > now:
        minutes = max(1, int((user.locked_until - now).total_seconds() // 60) + 1)
        raise AuthError(
            f"Too many wrong passwords: try again in {minutes} minute{'s' if minutes > 1 else ''}, "
            "or ask an administrator to reset it."
        )
    if not verify_password(password, user.password_hash):
        user.failed_logins = (user.failed_logins or 0) + 1
        if user.failed_logins >= MAX_FAILURES:
            user.locked_until, user.failed_logins = now + LOCKOUT, 0
            store.audit(session, actor=actor_of(user), action="dashboard.locked_out", at=now)
        session.flush()
        raise wrong
    if not user.active:
        raise AuthError("This account has been deactivated: ask an administrator.")
    user.failed_logins, user.locked_until, user.last_login_at = 0, None, now
    return user


def start_session(session: Session, *, user: DashboardUser, now: datetime) -> SignedIn:
    token = secrets.token_urlsafe(32)
    record = DashboardSession(
        token_digest=_digest(token),
        user_id=user.id,
        created_at=now,
        last_seen_at=now,
        expires_at=now + ABSOLUTE,
        csrf_token=secrets.token_urlsafe(32),
    )
    session.add(record)
    session.flush()
    store.audit(session, actor=actor_of(user), action="dashboard.signed_in", at=now)
    return SignedIn(token=token, record=record)


def current_session(session: Session, *, token: str | None, now: datetime) -> DashboardSession | None:
    """The live session for a cookie's token, its idle clock restarted; None if there is none,
    it ended, it was idle too long, it is past its absolute limit or its user is inactive."""
    if not token:
        return None
    record = session.scalars(
        select(DashboardSession).where(DashboardSession.token_digest == _digest(token))
    ).first()
    if record is None or record.ended_at is not None:
        return None
    if now >= record.expires_at or now - record.last_seen_at >= IDLE or not record.user.active:
        record.ended_at = record.ended_at or now
        return None
    record.last_seen_at = now
    return record


def end_session(session: Session, *, record: DashboardSession, now: datetime) -> None:
    record.ended_at = now
    store.audit(session, actor=actor_of(record.user), action="dashboard.signed_out", at=now)


def end_sessions(session: Session, *, user: DashboardUser, now: datetime) -> None:
    for record in session.scalars(
        select(DashboardSession).where(DashboardSession.user_id == user.id, DashboardSession.ended_at.is_(None))
    ):
        record.ended_at = now


def csrf_ok(record: DashboardSession | None, submitted: str | None) -> bool:
    """Whether a form's CSRF token is this session's (constant-time)."""
    if record is None or not submitted:
        return False
    return hmac.compare_digest(record.csrf_token.encode("utf-8"), submitted.encode("utf-8"))
