"""The dashboard: the challenge register, its themes, the 6-monthly report and the register's
export, for the people who oversee escalations. Server-rendered (Sanic, Jinja2 with autoescape),
a local stylesheet, no script and nothing from outside.

Everything is under ``/dashboard/``. ``create_app(settings)`` builds the app (tests pass their own
database and clock); ``main(settings)`` serves it on ``127.0.0.1:BOT_DASHBOARD_PORT`` and, on a
database with no users, creates ``admin`` and prints its one-time password once.

Who sees what (each role's scope is a SQL condition on the escalations; a record outside it is
refused with 403):

| role | register | case details on a record's page |
| --- | --- | --- |
| administrator | none: manages users only | none |
| business manager | their partnership's escalations | summary, outcome wanted, outcome and the outcome for the child or adult (the learning); not the case reference, evidence or stage notes |
| safeguarding lead | escalations their agency is party to (raised by it or with it), in their partnership if set | all, with the case reference |
| line manager | their team's (people whose line manager they are) | all, with the case reference |

List pages never show free text. Every view of a record, every report and every export is
written to the audit trail as ``dashboard:<username>``; every form that changes something
carries the session's CSRF token and is refused (403) without it.
"""

from __future__ import annotations

import base64
import collections
import dataclasses
import functools
import json
import logging
import secrets
import warnings
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from pathlib import Path
from typing import Any, Awaitable, Callable
from urllib.parse import urlencode

from jinja2 import Environment, FileSystemLoader
from sanic import Sanic
from sanic.request import Request
from sanic.response import HTTPResponse, html, raw, redirect, text
from sqlalchemy import String, and_, case, cast, false, func, or_, select
from sqlalchemy.orm import Session, aliased

from bot.clock import LONDON, Clock, clock_for
from bot.config import Settings
from bot.dashboard import auth
from bot.records import store
from bot.records.db import Database, open_database
from bot.records.models import DashboardSession, DashboardUser, Escalation, Person, StageEntry

logger = logging.getLogger(__name__)

PREFIX = "/dashboard"
HOST = "127.0.0.1"
TEMPLATES = Path(__file__).resolve().parent / "templates"
STATIC = Path(__file__).resolve().parent / "static"
SESSION_COOKIE = "dashboard_session"
LOGIN_CSRF_COOKIE = "dashboard_login_csrf"
PAGE_SIZE = 50
CHART_CACHE_SIZE = 16  # drawn chart sets kept (a scope and period each)
STATUSES = ("open", "resolved", "cancelled")

ALL_FREE_TEXT = ("summary", "desired_outcome", "evidence", "outcome", "outcome_for_person")
FREE_TEXT_LABELS = {
    "summary": "Summary", "desired_outcome": "Outcome wanted", "evidence": "Evidence",
    "outcome": "Outcome", "outcome_for_person": "Outcome for the child or adult",
}  # fmt: skip
FREE_TEXT = {
    auth.BUSINESS_MANAGER: ("summary", "desired_outcome", "outcome", "outcome_for_person"),
    auth.SAFEGUARDING_LEAD: ALL_FREE_TEXT,
    auth.LINE_MANAGER: ALL_FREE_TEXT,
}
STAGE_NOTES = {auth.SAFEGUARDING_LEAD, auth.LINE_MANAGER}  # who was involved, positions, outcomes
CASE_REFERENCE = {auth.SAFEGUARDING_LEAD, auth.LINE_MANAGER}
REGISTER_ROLES = (auth.BUSINESS_MANAGER, auth.SAFEGUARDING_LEAD, auth.LINE_MANAGER)


# Scope -----------------------------------------------------------------------------------------


def agency_condition(agency: str):
    """Escalations an agency is party to: in the JSON list of agencies (the raiser's and the other)."""
    needle = json.dumps(agency).replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return or_(Escalation.other_agency == agency, cast(Escalation.agencies, String).like(f"%{needle}%", escape="\\"))


def scope_condition(user: DashboardUser):
    """The escalations ``user`` may see, as a SQL condition (nothing for an administrator)."""
    if user.role == auth.BUSINESS_MANAGER and user.partnership:
        return Escalation.partnership == user.partnership
    if user.role == auth.SAFEGUARDING_LEAD and user.agency:
        condition = agency_condition(user.agency)
        if user.partnership:
            condition = and_(condition, Escalation.partnership == user.partnership)
        return condition
    if user.role == auth.LINE_MANAGER and user.person_id is not None:
        team = select(Person.id).where(Person.line_manager_id == user.person_id)
        return Escalation.raised_by_id.in_(team)
    return false()


# The register ----------------------------------------------------------------------------------

SORTS = ("reference", "partnership", "category", "stage", "due", "overdue", "status", "opened")


@dataclass
class Filters:
    """The register's filters, sort and page, read leniently from the query string (a value that
    is not valid is ignored, never an error)."""

    partnership: str = ""
    agency: str = ""
    category: str = ""
    stage: int | None = None
    status: str = ""
    start: date | None = None
    end: date | None = None
    overdue: bool = False
    sort: str = "overdue"
    direction: str = "desc"
    page: int = 1

    @classmethod
    def parse(cls, args: Any) -> "Filters":
        def get(name: str) -> str:
            return (args.get(name) or "").strip()

        def day(name: str) -> date | None:
            try:
                return date.fromisoformat(get(name)) if get(name) else None
            except ValueError:
                return None

        def number(name: str) -> int | None:
            return int(get(name)) if get(name).isdigit() else None

        sort = get("sort") if get("sort") in SORTS else "overdue"
        return cls(
            partnership=get("partnership"),
            agency=get("agency"),
            category=get("category") if get("category") in store.categories() else "",
            stage=number("stage"),
            status=get("status") if get("status") in STATUSES else "",
            start=day("from"),
            end=day("to"),
            overdue=get("overdue") in ("1", "on", "yes"),
            sort=sort,
            direction="asc" if get("dir") == "asc" else "desc",
            page=max(1, number("page") or 1),
        )

    def query(self, **changes: Any) -> str:
        """This register's query string, with ``changes``."""
        values = {
            "partnership": self.partnership, "agency": self.agency, "category": self.category,
            "stage": "" if self.stage is None else str(self.stage), "status": self.status,
            "from": self.start.isoformat() if self.start else "", "to": self.end.isoformat() if self.end else "",
            "overdue": "1" if self.overdue else "", "sort": self.sort, "dir": self.direction,
            "page": "" if self.page == 1 else str(self.page),
        }  # fmt: skip
        values.update({key: "" if value is None else str(value) for key, value in changes.items()})
        return urlencode({key: value for key, value in values.items() if value})


@dataclass(frozen=True)
class RegisterRow:
    """One escalation on the register: identifiers, stage, dates and status; no free text."""

    reference: str
    partnership: str
    partnership_name: str
    agencies: tuple[str, ...]
    category: str
    category_label: str
    stage_number: int
    stage_title: str
    due_on: date | None
    more_time: bool
    days_overdue: int
    status: str
    outcome: str
    opened_on: date

    @property
    def overdue(self) -> bool:
        return self.days_overdue > 0


@dataclass
class Register:
    rows: list[RegisterRow]
    total: int
    page: int
    pages: int
    overdue_total: int


def _start_of(day: date) -> datetime:
    return datetime.combine(day, time(0), LONDON)


def register_query(user: DashboardUser, filters: Filters, today: date):
    """The SQL for the register: the escalations in ``user``'s scope with their current stage,
    filtered; returns (select of columns, the due-date expression, the overdue expression)."""
    latest = (
        select(StageEntry.escalation_id, func.max(StageEntry.index).label("position"))
        .group_by(StageEntry.escalation_id)
        .subquery()
    )
    stage = aliased(StageEntry)
    due = func.coalesce(stage.more_time_until, stage.due_on)
    overdue = and_(Escalation.status == store.OPEN, due.is_not(None), due < today)
    query = (
        select(
            Escalation.reference, Escalation.partnership, Escalation.agencies, Escalation.category,
            Escalation.status, Escalation.opened_at, stage.index, stage.title, due.label("due"),
            stage.more_time_until,
        )  # fmt: skip
        .join(latest, latest.c.escalation_id == Escalation.id)
        .join(stage, and_(stage.escalation_id == Escalation.id, stage.index == latest.c.position))
        .where(scope_condition(user))
    )
    if filters.partnership:
        query = query.where(Escalation.partnership == filters.partnership)
    if filters.agency:
        query = query.where(agency_condition(filters.agency))
    if filters.category:
        query = query.where(Escalation.category == filters.category)
    if filters.stage is not None:
        query = query.where(stage.index == filters.stage - 1)
    if filters.status:
        query = query.where(Escalation.status == filters.status)
    if filters.start:
        query = query.where(Escalation.opened_at >= _start_of(filters.start))
    if filters.end:
        query = query.where(Escalation.opened_at < _start_of(filters.end + timedelta(days=1)))
    if filters.overdue:
        query = query.where(overdue)
    return query, due, overdue, stage


def working_days_overdue(status: str, due: date | None, today: date, calendar: Any) -> int:
    """Working days past the due date of an open escalation's current stage (at least 1 once
    past it: a date agreed for a weekend is overdue on the Sunday too); 0 otherwise."""
    if status != store.OPEN or due is None or due >= today:
        return 0
    if calendar is None:
        return (today - due).days
    return max(1, calendar.working_days_between(due, today))


def register(
    session: Session, *, user: DashboardUser, filters: Filters, today: date, names: dict[str, str],
    calendars: dict[str, Any] | None = None,
) -> Register:
    """One page of the register, filtered and sorted in SQL; ``calendars`` (partnership ->
    working-day calendar) count the days overdue in working days."""
    calendars = calendars or {}
    query, due, overdue, stage = register_query(user, filters, today)
    total = session.scalar(select(func.count()).select_from(query.subquery())) or 0
    overdue_total = session.scalar(select(func.count()).select_from(query.where(overdue).subquery())) or 0
    column = {
        "reference": Escalation.reference, "partnership": Escalation.partnership,
        "category": Escalation.category, "stage": stage.index, "due": due,
        "status": Escalation.status, "opened": Escalation.opened_at,
    }.get(filters.sort)  # fmt: skip
    descending = filters.direction == "desc"
    if filters.sort == "overdue":
        # Most overdue first: open and past due, by due date (oldest first), then the rest.
        first = case((overdue, 1), else_=0)
        order = [first.desc() if descending else first.asc(), due.asc() if descending else due.desc()]
    else:
        order = [column.desc() if descending else column.asc()]
    order.append(Escalation.id.desc())
    pages = max(1, -(-total // PAGE_SIZE))
    page = min(filters.page, pages)
    result = session.execute(query.order_by(*order).limit(PAGE_SIZE).offset((page - 1) * PAGE_SIZE))
    rows = []
    for row in result:
        days_overdue = working_days_overdue(row.status, row.due, today, calendars.get(row.partnership))
        if row.status == store.RESOLVED:
            outcome = f"Resolved at stage {row.index + 1}"
        elif row.status == store.CANCELLED:
            outcome = "Withdrawn"
        else:
            outcome = ""
        rows.append(
            RegisterRow(
                reference=row.reference, partnership=row.partnership,
                partnership_name=names.get(row.partnership, row.partnership),
                agencies=tuple(row.agencies or ()), category=row.category,
                category_label=store.category_label(row.category), stage_number=row.index + 1,
                stage_title=row.title, due_on=row.due, more_time=row.more_time_until is not None,
                days_overdue=days_overdue, status=row.status, outcome=outcome,
                opened_on=row.opened_at.astimezone(LONDON).date(),
            )  # fmt: skip
        )
    return Register(rows=rows, total=total, page=page, pages=pages, overdue_total=overdue_total)


def filter_options(session: Session, *, user: DashboardUser, names: dict[str, str]) -> dict[str, list]:
    """The choices the register's filters offer: only what is in the user's scope."""
    scope = scope_condition(user)
    partnerships = sorted(session.scalars(select(Escalation.partnership).where(scope).distinct()))
    agencies: set[str] = set()
    for listed in session.scalars(select(Escalation.agencies).where(scope)):
        agencies.update(listed or ())
    positions = sorted(
        session.scalars(select(StageEntry.index).join(Escalation, Escalation.id == StageEntry.escalation_id).where(scope).distinct())
    )
    return {
        "partnerships": [(p, names.get(p, p)) for p in partnerships],
        "agencies": sorted(agencies, key=str.lower),
        "categories": [(key, entry["label"]) for key, entry in store.categories().items()],
        "stages": [position + 1 for position in positions],
        "statuses": list(STATUSES),
    }


# A record's page -------------------------------------------------------------------------------


def in_scope(session: Session, *, user: DashboardUser, reference: str) -> bool:
    return session.scalar(
        select(Escalation.id).where(Escalation.reference == reference, scope_condition(user))
    ) is not None  # fmt: skip


def record_page(escalation: Escalation, *, user: DashboardUser, today: date, calendar: Any = None) -> dict[str, Any]:
    """What a record's page shows ``user``: its facts, timeline and audit trail, and only the
    free text their role may see."""
    seen = store.view(escalation)
    allowed = FREE_TEXT.get(user.role, ())
    notes = user.role in STAGE_NOTES
    current = escalation.stages[-1] if escalation.stages else None
    due = current.nudge_due_on if current else None
    stages = []
    for entry, stage in zip(escalation.stages, seen.stages):
        stages.append({
            "number": stage.index + 1, "title": stage.title, "started_on": stage.started_at.astimezone(LONDON).date(),
            "due_on": stage.due_on, "due_basis": stage.due_basis, "review_on": stage.review_on,
            "more_time_until": entry.more_time_until,
            "closed_on": stage.closed_at.astimezone(LONDON).date() if stage.closed_at else None,
            "resolved": stage.resolved, "key_points_in_writing": stage.key_points_in_writing,
            "involved": stage.involved if notes else None,
            "other_agency_position": stage.other_agency_position if notes else None,
            "outcome": stage.outcome if notes else None,
        })  # fmt: skip
    return {
        "reference": seen.reference,
        "partnership_name": seen.partnership_name,
        "procedure_version": seen.procedure_version,
        "subject": seen.subject,
        "case_reference": seen.case_reference if user.role in CASE_REFERENCE else None,
        "status": seen.status,
        "opened_on": seen.opened_at.astimezone(LONDON).date(),
        "closed_on": seen.closed_at.astimezone(LONDON).date() if seen.closed_at else None,
        "raised_by": {"role": seen.raised_by.role, "agency": seen.raised_by.agency},
        "other_agency": seen.other_agency,
        "agencies": seen.agencies,
        "category_label": seen.category_label,
        "safeguarding_lead_aware": seen.safeguarding_lead_aware,
        "current": stages[-1] if stages else None,
        "due_on": due,
        "days_overdue": working_days_overdue(seen.status, due, today, calendar),
        "stages": stages,
        "free_text": {name: getattr(seen, name) for name in allowed},
        "free_text_hidden": [FREE_TEXT_LABELS[name].lower() for name in ALL_FREE_TEXT if name not in allowed],
        "stage_notes": notes,
    }


# Web plumbing ----------------------------------------------------------------------------------


@dataclass
class Context:
    """What a page handler gets: the unit of work, the moment, and who is signed in."""

    session: Session
    now: datetime
    user: DashboardUser
    record: DashboardSession
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def today(self) -> date:
        return self.now.astimezone(LONDON).date()

    @property
    def actor(self) -> str:
        return auth.actor_of(self.user)


Handler = Callable[..., Awaitable[HTTPResponse]]


def _safe_next(target: str | None) -> str:
    """Only a path of this dashboard, never another site."""
    if target and target.startswith(PREFIX + "/") and not target.startswith("//") and "\\" not in target:
        return target
    return PREFIX + "/"


def _set_cookie(response: HTTPResponse, name: str, value: str, *, secure: bool) -> None:
    response.cookies[name] = value
    response.cookies[name]["httponly"] = True
    response.cookies[name]["samesite"] = "Strict"
    response.cookies[name]["path"] = PREFIX
    if secure:
        response.cookies[name]["secure"] = True


def _clear_cookie(response: HTTPResponse, name: str) -> None:
    response.cookies[name] = ""
    response.cookies[name]["path"] = PREFIX
    response.cookies[name]["max-age"] = 0
    response.cookies[name]["httponly"] = True
    response.cookies[name]["samesite"] = "Strict"


SECURITY_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'none'; style-src 'self'; img-src 'self' data:; form-action 'self'; "
        "base-uri 'none'; frame-ancestors 'none'"
    ),
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "X-Frame-Options": "DENY",
    "Cache-Control": "no-store",
}


def _period(args: Any, today: date) -> tuple[date, date]:
    """The period asked for (``from``/``to``), else the six months to today."""
    try:
        end = date.fromisoformat(args.get("to") or "") if args.get("to") else today
    except ValueError:
        end = today
    try:
        start = date.fromisoformat(args.get("from") or "") if args.get("from") else None
    except ValueError:
        start = None
    if start is None or start > end:
        month = end.month - 6
        year = end.year + (month - 1) // 12
        month = (month - 1) % 12 + 1
        start = date(year, month, min(end.day, 28)) + timedelta(days=1)
    return start, end


def create_app(
    settings: Settings, *, database: Database | None = None, clock: Clock | None = None, name: str = "dashboard"
) -> Sanic:
    """The dashboard's app for ``settings``; ``database`` and ``clock`` default to the settings'."""
    with warnings.catch_warnings():
        # Not in Sanic's app registry: nothing looks the app up by name, and tests build many.
        warnings.simplefilter("ignore", DeprecationWarning)
        app = Sanic(name, register=False)
    app.config.FALLBACK_ERROR_FORMAT = "html"
    app.config.REQUEST_MAX_SIZE = 1_000_000
    app.config.ACCESS_LOG = False
    clock = clock or clock_for(settings.frozen_now)
    owns_database = database is None
    database = database or open_database(settings)
    templates = Environment(loader=FileSystemLoader(str(TEMPLATES)), autoescape=True, trim_blocks=True, lstrip_blocks=True)
    templates.globals.update(prefix=PREFIX, roles=auth.ROLES)
    app.ctx.database = database

    try:
        from bot.procedures.loader import cached_library
        from bot.procedures.timescales import calendar_for

        packs = list(cached_library(settings.packs_dir).packs.values())
        names = {pack.id: pack.name for pack in packs}
        calendars = {pack.id: calendar_for(pack.bank_holidays) for pack in packs}
    except Exception:  # the dashboard still works on ids and calendar days without the packs
        logger.warning("procedure packs not readable; partnerships are shown by id")
        names, calendars = {}, {}
    partnership_ids = sorted(names)

    if owns_database:
        @app.after_server_stop
        async def _dispose(app, _loop) -> None:
            database.dispose()

    def render(template: str, status: int = 200, **values: Any) -> HTTPResponse:
        return html(templates.get_template(template).render(**values), status=status)

    def refused(status: int, message: str, ctx: Context | None = None) -> HTTPResponse:
        return render(
            "error.html", status=status, message=message,
            user=ctx.user if ctx else None, csrf=ctx.record.csrf_token if ctx else None,
        )  # fmt: skip

    def page(*roles: str, allow_password_change: bool = False):
        """A handler for signed-in users with one of ``roles`` (any role if none given); a POST is
        refused without the session's CSRF token."""

        def wrap(handler: Handler) -> Handler:
            @functools.wraps(handler)
            async def wrapped(request: Request, *args, **kwargs) -> HTTPResponse:
                with database.session() as session:
                    now = clock()
                    record = auth.current_session(session, token=request.cookies.get(SESSION_COOKIE), now=now)
                    if record is None:
                        if request.method != "GET":
                            return refused(403, "Your session has ended: sign in again.")
                        target = request.path + (f"?{request.query_string}" if request.query_string else "")
                        response = redirect(f"{PREFIX}/login?" + urlencode({"next": target}))
                        if request.cookies.get(SESSION_COOKIE):
                            _clear_cookie(response, SESSION_COOKIE)
                        return response
                    ctx = Context(session=session, now=now, user=record.user, record=record)
                    if request.method == "POST" and not auth.csrf_ok(record, request.form.get("csrf")):
                        logger.warning("form refused: missing or wrong CSRF token (user %s)", record.user.id)
                        return refused(403, "This form has expired or did not come from this dashboard: go back, reload the page and try again.", ctx)
                    if ctx.user.must_change_password and not allow_password_change:
                        return redirect(f"{PREFIX}/password")
                    if roles and ctx.user.role not in roles:
                        return refused(403, "Your role does not give access to this page.", ctx)
                    return await handler(request, ctx, *args, **kwargs)

            return wrapped

        return wrap

    def base(ctx: Context, **values: Any) -> dict[str, Any]:
        return {"user": ctx.user, "csrf": ctx.record.csrf_token, **values}

    @app.middleware("response")
    async def _headers(request: Request, response: HTTPResponse) -> None:
        for header, value in SECURITY_HEADERS.items():
            if header == "Cache-Control" and request.path.startswith(f"{PREFIX}/static/"):
                continue
            response.headers.setdefault(header, value)

    app.static(f"{PREFIX}/static", str(STATIC), name="static")

    # The web chat shares this app (one web app: the chat at /, the dashboard at /dashboard/).
    from bot import webchat

    chat_config = webchat.config_script(webchat.page_config(settings))
    chat_headers = webchat.security_headers(settings)

    def chat_file(path: str) -> HTTPResponse:
        file = webchat.static_file(webchat.STATIC_DIR, path)
        if file is None:
            return text("Not found.\n", status=404, headers=chat_headers)
        return raw(file.read_bytes(), content_type=webchat.CONTENT_TYPES[file.suffix], headers=chat_headers)

    @app.get("/")
    async def chat_page(request: Request) -> HTTPResponse:
        return chat_file("/index.html")

    @app.get("/config.js")
    async def chat_config_script(request: Request) -> HTTPResponse:
        return raw(chat_config, content_type=webchat.CONTENT_TYPES[".js"], headers=chat_headers)

    def chat_asset(name: str) -> Handler:
        async def serve_asset(request: Request) -> HTTPResponse:
            return chat_file(f"/{name}")

        return serve_asset

    for asset in sorted(p.name for p in webchat.STATIC_DIR.iterdir() if p.is_file() and p.name != "index.html"):
        app.add_route(chat_asset(asset), f"/{asset}", methods=["GET"], name=f"webchat_{asset.replace('.', '_')}")

    # Signing in and out ------------------------------------------------------------------------

    @app.get(f"{PREFIX}/login")
    async def login_form(request: Request) -> HTTPResponse:
        token = secrets.token_urlsafe(32)
        response = render("login.html", csrf=token, next=_safe_next(request.args.get("next")), error=None)
        _set_cookie(response, LOGIN_CSRF_COOKIE, token, secure=request.scheme == "https")
        return response

    @app.post(f"{PREFIX}/login")
    async def login(request: Request) -> HTTPResponse:
        # Before a session exists, the form's token must match the one set in its own cookie.
        cookie, submitted = request.cookies.get(LOGIN_CSRF_COOKIE), request.form.get("csrf")
        if not cookie or not submitted or not secrets.compare_digest(cookie.encode(), submitted.encode()):
            return refused(403, "This sign-in form has expired: reload the page and try again.")
        username = (request.form.get("username") or "").strip()
        password = request.form.get("password") or ""
        target = _safe_next(request.form.get("next"))
        with database.session() as session:
            now = clock()
            try:
                user = auth.authenticate(session, username=username, password=password, now=now)
            except auth.AuthError as error:
                failure = str(error)
            else:
                failure = None
                signed_in = auth.start_session(session, user=user, now=now)
                must_change = user.must_change_password
        if failure:
            response = render("login.html", status=401, csrf=cookie, next=target, error=failure, username=username)
            return response
        response = redirect(f"{PREFIX}/password" if must_change else target)
        _set_cookie(response, SESSION_COOKIE, signed_in.token, secure=request.scheme == "https")
        _clear_cookie(response, LOGIN_CSRF_COOKIE)
        return response

    @app.post(f"{PREFIX}/logout")
    @page(allow_password_change=True)
    async def logout(request: Request, ctx: Context) -> HTTPResponse:
        auth.end_session(ctx.session, record=ctx.record, now=ctx.now)
        response = redirect(f"{PREFIX}/login")
        _clear_cookie(response, SESSION_COOKIE)
        return response

    @app.route(f"{PREFIX}/password", methods=["GET", "POST"])
    @page(allow_password_change=True)
    async def password(request: Request, ctx: Context) -> HTTPResponse:
        error = None
        if request.method == "POST":
            try:
                auth.change_password(
                    ctx.session, user=ctx.user, current=request.form.get("current") or "",
                    new=request.form.get("new") or "", repeated=request.form.get("repeated") or "", now=ctx.now,
                )  # fmt: skip
            except auth.AuthError as problem:
                error = str(problem)
            else:
                return redirect(f"{PREFIX}/")
        return render("password.html", status=400 if error else 200, error=error, **base(ctx))

    @app.get(f"{PREFIX}/")
    @page()
    async def home(request: Request, ctx: Context) -> HTTPResponse:
        if ctx.user.role == auth.ADMINISTRATOR:
            return redirect(f"{PREFIX}/admin/users")
        return redirect(f"{PREFIX}/register")

    # The register ----------------------------------------------------------------------------

    @app.get(f"{PREFIX}/register")
    @page(*REGISTER_ROLES)
    async def register_page(request: Request, ctx: Context) -> HTTPResponse:
        filters = Filters.parse(request.args)
        result = register(ctx.session, user=ctx.user, filters=filters, today=ctx.today, names=names, calendars=calendars)
        options = filter_options(ctx.session, user=ctx.user, names=names)
        return render(
            "register.html", filters=filters, register=result, options=options, today=ctx.today,
            export_query=filters.query(page=None), **base(ctx),
        )  # fmt: skip

    @app.get(f"{PREFIX}/records/<reference:str>")
    @page(*REGISTER_ROLES)
    async def record(request: Request, ctx: Context, reference: str) -> HTTPResponse:
        reference = reference.strip().upper()
        escalation = ctx.session.scalars(select(Escalation).where(Escalation.reference == reference)).first()
        if escalation is None:
            return refused(404, f"There is no escalation {reference} on the register.", ctx)
        if not in_scope(ctx.session, user=ctx.user, reference=reference):
            store.audit(ctx.session, actor=ctx.actor, action="dashboard.view_refused", at=ctx.now, reference=reference)
            return refused(403, f"{reference} is not in your register: you can open only the escalations your role covers.", ctx)
        shown = record_page(escalation, user=ctx.user, today=ctx.today, calendar=calendars.get(escalation.partnership))
        store.audit(
            ctx.session, actor=ctx.actor, action="dashboard.viewed", at=ctx.now, reference=reference,
            role=ctx.user.role, free_text=sorted(name for name, value in shown["free_text"].items() if value),
        )  # fmt: skip
        ctx.session.flush()
        trail = [
            {"at": entry.at.astimezone(LONDON), "actor": entry.actor, "action": entry.action, "detail": entry.detail or {}}
            for entry in store.audit_trail(ctx.session, reference=reference)
        ]
        return render("record.html", record=shown, trail=trail, back=_safe_next(request.args.get("back")), **base(ctx))

    # Themes, report, export ------------------------------------------------------------------

    def theme_scope(user: DashboardUser) -> dict[str, Any]:
        return {
            "partnerships": [user.partnership] if user.partnership else None,
            "agency": user.agency if user.role == auth.SAFEGUARDING_LEAD else None,
            "manager_person_id": user.person_id if user.role == auth.LINE_MANAGER else None,
        }

    chart_cache: collections.OrderedDict[str, dict[str, str]] = collections.OrderedDict()

    @app.get(f"{PREFIX}/themes")
    @page(*REGISTER_ROLES)
    async def themes_page(request: Request, ctx: Context) -> HTTPResponse:
        start, end = _period(request.args, ctx.today)
        charts: dict[str, str] = {}
        problem = None
        try:
            from bot.dashboard import charts as charting, themes
        except ImportError:
            problem = "Themes are not available in this version."
        else:
            figures = themes.compute(ctx.session, start=start, end=end, now=ctx.now, **theme_scope(ctx.user))
            # Drawing six charts takes seconds: the same figures (on the same day) are drawn once.
            key = repr(dataclasses.replace(figures, now=figures.now.date()))
            charts = chart_cache.pop(key, None) or charting.render_all(figures)
            chart_cache[key] = charts
            while len(chart_cache) > CHART_CACHE_SIZE:
                chart_cache.popitem(last=False)
        images = {
            chart: "data:image/svg+xml;base64," + base64.b64encode(svg.encode("utf-8")).decode("ascii")
            for chart, svg in charts.items()
        }
        return render("themes.html", start=start, end=end, charts=images, problem=problem, **base(ctx))

    @app.get(f"{PREFIX}/report")
    @page(auth.BUSINESS_MANAGER)
    async def report_page(request: Request, ctx: Context) -> HTTPResponse:
        start, end = _period(request.args, ctx.today)
        if request.args.get("download") != "1":
            return render("report.html", start=start, end=end, **base(ctx))
        try:
            from bot.dashboard import report
        except ImportError:
            return refused(404, "The 6-monthly report is not available in this version.", ctx)
        filename, content = report.build(ctx.session, partnership=ctx.user.partnership, start=start, end=end, now=ctx.now)
        store.audit(
            ctx.session, actor=ctx.actor, action="dashboard.report", at=ctx.now,
            partnership=ctx.user.partnership, start=start.isoformat(), end=end.isoformat(),
        )  # fmt: skip
        return _download(content, filename, "application/vnd.openxmlformats-officedocument.wordprocessingml.document")

    @app.get(f"{PREFIX}/register.csv", name="export_csv")
    @page(*REGISTER_ROLES)
    async def export_csv(request: Request, ctx: Context) -> HTTPResponse:
        return await export_register(request, ctx, "csv")

    @app.get(f"{PREFIX}/register.xlsx", name="export_xlsx")
    @page(*REGISTER_ROLES)
    async def export_xlsx(request: Request, ctx: Context) -> HTTPResponse:
        return await export_register(request, ctx, "xlsx")

    async def export_register(request: Request, ctx: Context, kind: str) -> HTTPResponse:
        try:
            from bot.dashboard import export
        except ImportError:
            return refused(404, "The register's export is not available in this version.", ctx)
        filters = Filters.parse(request.args)
        references = _references(ctx.session, user=ctx.user, filters=filters, today=ctx.today)
        rows = export_rows(export, ctx.session, user=ctx.user, references=references, now=ctx.now)
        store.audit(
            ctx.session, actor=ctx.actor, action="dashboard.exported", at=ctx.now, format=kind, rows=len(rows),
            filters=filters.query(page=None),
        )  # fmt: skip
        stamp = ctx.today.isoformat()
        if kind == "csv":
            return _download(export.to_csv(rows), f"register-{stamp}.csv", "text/csv; charset=utf-8")
        return _download(
            export.to_xlsx(rows), f"register-{stamp}.xlsx",
            "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        )  # fmt: skip

    # Users -----------------------------------------------------------------------------------

    @app.route(f"{PREFIX}/admin/users", methods=["GET", "POST"])
    @page(auth.ADMINISTRATOR)
    async def users(request: Request, ctx: Context) -> HTTPResponse:
        error = created = None
        form = request.form if request.method == "POST" else {}
        if request.method == "POST":
            try:
                person = _person_of(ctx.session, (form.get("person") or "").strip()) if form.get("role") == auth.LINE_MANAGER else None
                user, one_time = auth.create_user(
                    ctx.session, username=form.get("username") or "", role=form.get("role") or "",
                    partnership=form.get("partnership"), agency=form.get("agency"), person=person,
                    now=ctx.now, actor=ctx.actor,
                )  # fmt: skip
                created = {"username": user.username, "password": one_time}
            except auth.AuthError as problem:
                error = str(problem)
        everyone = list(ctx.session.scalars(select(DashboardUser).order_by(DashboardUser.username)))
        return render(
            "admin_users.html", status=400 if error else 200, users=everyone, error=error, created=created,
            partnerships=partnership_ids, form=form if error else {}, **base(ctx),
        )  # fmt: skip

    @app.post(f"{PREFIX}/admin/users/<user_id:int>/<action:(deactivate|activate|reset)>")
    @page(auth.ADMINISTRATOR)
    async def user_action(request: Request, ctx: Context, user_id: int, action: str) -> HTTPResponse:
        user = ctx.session.get(DashboardUser, user_id)
        if user is None:
            return refused(404, "There is no such user.", ctx)
        created = None
        if action == "reset":
            created = {"username": user.username, "password": auth.reset_password(ctx.session, user=user, now=ctx.now, actor=ctx.actor)}
        elif user.id == ctx.user.id:
            return refused(400, "You cannot deactivate your own account: ask another administrator.", ctx)
        else:
            auth.set_active(ctx.session, user=user, active=action == "activate", now=ctx.now, actor=ctx.actor)
        everyone = list(ctx.session.scalars(select(DashboardUser).order_by(DashboardUser.username)))
        return render(
            "admin_users.html", users=everyone, error=None, created=created, partnerships=partnership_ids,
            form={}, **base(ctx),
        )  # fmt: skip

    return app


def _person_of(session: Session, identity: str) -> Person:
    """The person behind ``channel:id`` (as ``python -m bot people manager`` takes it)."""
    channel, _, channel_id = identity.partition(":")
    person = None
    if channel and channel_id:
        person = session.scalars(
            select(Person).where(Person.channel == channel.strip(), Person.channel_id == channel_id.strip())
        ).first()
    if person is None:
        raise auth.AuthError(
            f"No one uses the assistant as {identity or '(nothing given)'}: give the line manager's "
            "channel identity, such as telegram:424242, once they have used the assistant."
        )
    return person


def _references(session: Session, *, user: DashboardUser, filters: Filters, today: date) -> list[str]:
    """Every reference the register shows with these filters (all pages), in its order."""
    query, due, overdue, stage = register_query(user, filters, today)
    return list(session.scalars(select(query.subquery().c.reference)))


def export_rows(export: Any, session: Session, *, user: DashboardUser, references: list[str], now: datetime) -> list:
    """The export's rows for exactly the escalations the register shows this user, in its order,
    the case reference left out for roles that do not see it."""
    scope = {
        "partnerships": [user.partnership] if user.partnership else None,
        "agency": user.agency if user.role == auth.SAFEGUARDING_LEAD else None,
        "manager_person_id": user.person_id if user.role == auth.LINE_MANAGER else None,
    }
    by_reference = {row["reference"]: row for row in export.register_rows(session, now=now, **scope)}
    rows = []
    for reference in references:
        row = by_reference.get(reference)
        if row is None:
            continue
        if user.role not in CASE_REFERENCE and "case_reference" in row:
            row = {**row, "case_reference": None}
        rows.append(row)
    return rows


def _download(content: bytes, filename: str, content_type: str) -> HTTPResponse:
    safe = "".join(ch for ch in filename if ch.isalnum() or ch in "-_.") or "download"
    return raw(content, content_type=content_type, headers={"Content-Disposition": f'attachment; filename="{safe}"'})


def first_run_password(database: Any, now: datetime) -> str | None:
    """The first administrator's one-time password when this process created it. Two web apps
    started together on an empty database both find no users; the one whose insert loses (its
    username taken meanwhile) goes on without a password: the other printed it."""
    from sqlalchemy.exc import IntegrityError

    try:
        with database.session() as session:
            return auth.ensure_first_administrator(session, now=now)
    except (IntegrityError, auth.AuthError):
        logger.info("the first administrator was created by another process")
        return None


def main(settings: Settings) -> int:
    """Serve the dashboard on 127.0.0.1:BOT_DASHBOARD_PORT until SIGINT or SIGTERM."""
    logging.basicConfig(level=getattr(logging, settings.log_level, logging.INFO))
    port = settings.webchat_port
    database = open_database(settings)
    clock = clock_for(settings.frozen_now)
    password = first_run_password(database, clock())
    url = f"http://{HOST}:{port}{PREFIX}/"
    chat_url = f"http://{HOST}:{port}/"
    if password:
        # Printed once, on purpose: no one else can sign in until the first administrator does.
        print(
            f"First run: sign in to the dashboard at {url} as 'admin' with the one-time password "
            f"{password} (shown only now; you will be asked to choose your own).",
            flush=True,
        )
    app = create_app(settings, database=database, clock=clock)
    print(f"Web chat at {chat_url}, dashboard at {url}", flush=True)
    app.run(host=HOST, port=port, access_log=False, motd=False)
    database.dispose()
    return 0
