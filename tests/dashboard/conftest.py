"""The dashboard against a real records database: a SQLite file migrated by Alembic and seeded
with scripts/seed_register.seed (once per run, copied per test), the real Sanic app served on a
loopback port in a background thread, and a small HTTP client with its own cookies that does not
follow redirects (so tests see them)."""

from __future__ import annotations

import asyncio
import contextlib
import http.cookiejar
import re
import shutil
import socket
import threading
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass
from email.message import Message
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Iterator

import pytest
from sanic import Sanic
from sqlalchemy import select

from bot.clock import LONDON
from bot.config import Settings
from bot.dashboard import auth
from bot.dashboard.app import create_app
from bot.records.db import Database, open_database
from bot.records.models import Person

NOW = datetime(2026, 11, 23, 10, 0, tzinfo=timezone.utc)  # Monday 23 November 2026
HOST = "127.0.0.1"
PASSWORD = "correct horse battery staple"


class MovingClock:
    """A clock the test moves on (sessions expire, lockouts end)."""

    def __init__(self, at: datetime) -> None:
        self.at = at

    def __call__(self) -> datetime:
        return self.at.astimezone(LONDON)

    def advance(self, **delta: float) -> None:
        self.at += timedelta(**delta)


@pytest.fixture(scope="session")
def seeded_var(tmp_path_factory) -> Path:
    """A var/ directory with a records database seeded once for the whole run."""
    from scripts.seed_register import seed

    var = tmp_path_factory.mktemp("seeded") / "var"
    settings = Settings.from_env({"BOT_VAR_DIR": str(var)})
    database = open_database(settings)
    try:
        seed(database, count=120, now=NOW, rng_seed=7)
    finally:
        database.dispose()
    return var


@pytest.fixture
def settings(seeded_var, tmp_path) -> Settings:
    var = tmp_path / "var"
    shutil.copytree(seeded_var, var)
    return Settings.from_env({"BOT_VAR_DIR": str(var)})


@pytest.fixture
def database(settings) -> Iterator[Database]:
    database = open_database(settings)
    yield database
    database.dispose()


@pytest.fixture
def clock() -> MovingClock:
    return MovingClock(NOW)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind((HOST, 0))
        return probe.getsockname()[1]


@contextlib.contextmanager
def serving(app: Sanic, port: int) -> Iterator[str]:
    """``app`` on 127.0.0.1:``port`` in a background thread (its own event loop) until the block
    ends; yields the base URL."""
    # Sanic's start-up rewrites its protocol class once per process; in test mode it keeps the
    # original, so several apps can start one after another (as sanic-testing does).
    Sanic.test_mode = True
    loop = asyncio.new_event_loop()
    ready = threading.Event()
    state: dict = {}

    def run() -> None:
        asyncio.set_event_loop(loop)

        async def start() -> None:
            server = await app.create_server(host=HOST, port=port, return_asyncio_server=True, access_log=False)
            await server.startup()
            await server.before_start()
            await server.after_start()
            state["server"] = server

        try:
            loop.run_until_complete(start())
        except BaseException as error:  # reported to the test, not lost in the thread
            state["error"] = error
            ready.set()
            return
        ready.set()
        loop.run_forever()

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    ready.wait(30)
    if "error" in state:
        raise state["error"]
    try:
        yield f"http://{HOST}:{port}"
    finally:
        server = state["server"]

        async def stop() -> None:
            await server.before_stop()
            server.close()
            await server.wait_closed()
            # A browser keeps connections alive: close them before the loop goes.
            for connection in list(server.connections):
                connection.close_if_idle()
            for _ in range(40):
                if not server.connections:
                    break
                await asyncio.sleep(0.05)
            for connection in list(server.connections):
                connection.close()
            await asyncio.sleep(0.05)
            await server.after_stop()

        asyncio.run_coroutine_threadsafe(stop(), loop).result(15)
        loop.call_soon_threadsafe(loop.stop)
        thread.join(15)
        loop.close()


@dataclass
class Response:
    status: int
    headers: Message  # case-insensitive
    body: bytes

    def cookies_set(self) -> str:
        return "\n".join(self.headers.get_all("Set-Cookie") or ())

    @property
    def text(self) -> str:
        return self.body.decode("utf-8")

    @property
    def location(self) -> str | None:
        return self.headers.get("Location")

    def csrf(self) -> str:
        match = re.search(r'name="csrf" value="([^"]+)"', self.text)
        assert match, "no CSRF token on the page"
        return match.group(1)


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):
        return None


class Client:
    """A browser's worth of HTTP: cookies kept, redirects returned rather than followed."""

    def __init__(self, base: str) -> None:
        self.base = base
        self.cookies = http.cookiejar.CookieJar()
        self.opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(self.cookies), _NoRedirect())

    def request(self, method: str, path: str, data: dict | None = None) -> Response:
        body = urllib.parse.urlencode(data).encode() if data is not None else None
        request = urllib.request.Request(self.base + path, data=body, method=method)
        if body is not None:
            request.add_header("Content-Type", "application/x-www-form-urlencoded")
        try:
            with self.opener.open(request, timeout=30) as answer:
                return Response(answer.status, answer.headers, answer.read())
        except urllib.error.HTTPError as answer:
            return Response(answer.code, answer.headers, answer.read())

    def get(self, path: str) -> Response:
        return self.request("GET", path)

    def post(self, path: str, data: dict) -> Response:
        return self.request("POST", path, data)

    def cookie(self, name: str) -> http.cookiejar.Cookie | None:
        return next((c for c in self.cookies if c.name == name), None)

    def login(self, username: str, password: str = PASSWORD) -> Response:
        form = self.get("/dashboard/login")
        return self.post("/dashboard/login", {"csrf": form.csrf(), "username": username, "password": password})


@pytest.fixture
def app(settings, database, clock) -> Sanic:
    return create_app(settings, database=database, clock=clock)


@pytest.fixture
def base_url(app) -> Iterator[str]:
    with serving(app, free_port()) as url:
        yield url


@pytest.fixture
def client(base_url) -> Client:
    return Client(base_url)


def make_user(database: Database, username: str, role: str, *, password: str = PASSWORD, **scope) -> None:
    """A user who has already chosen their password (so pages do not ask for a change)."""
    with database.session() as session:
        user, _ = auth.create_user(session, username=username, role=role, now=NOW, actor="test", **scope)
        user.password_hash = auth.hash_password(password)
        user.must_change_password = False


def seeded_manager(database: Database, partnership: str, agency: str) -> Person:
    """The seed's team manager of ``agency`` in ``partnership`` (line manager of its practitioners)."""
    slug = f"{partnership}:{agency.lower().replace(' ', '-').replace(chr(39), '')}:manager"
    with database.session() as session:
        return session.scalars(select(Person).where(Person.channel == "seed", Person.channel_id == slug)).one()


@pytest.fixture
def users(database) -> dict[str, str]:
    """One user of each role, named after their scope."""
    manager = seeded_manager(database, "bury-children", "Children's Social Care")
    with database.session() as session:
        person = session.get(Person, manager.id)
    make_user(database, "boss", auth.ADMINISTRATOR)
    make_user(database, "bm-bury", auth.BUSINESS_MANAGER, partnership="bury-children")
    make_user(database, "lead-police", auth.SAFEGUARDING_LEAD, agency="Police", partnership="south-tyneside")
    make_user(database, "manager-csc", auth.LINE_MANAGER, person=person)
    return {"manager_person_id": str(manager.id)}
