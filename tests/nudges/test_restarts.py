"""A sweeper process killed with SIGKILL in the middle of sending, then started again: each nudge
arrives exactly once."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from datetime import timedelta

import pytest
from sqlalchemy import select

from bot.config import PROJECT_ROOT
from bot.records.models import Nudge, NudgeAttempt
from tests.conftest import london
from tests.nudges.conftest import open_for, register
from tests.nudges.fake_rasa import HANG_AFTER, HANG_BEFORE, NORMAL

CLAIM_SECONDS = 30
DUE_AT = london(2026, 11, 24, 10)  # the South Tyneside practitioners' stage opened the day before


def sweep_process(settings, rasa, now) -> subprocess.Popen:
    env = {
        **os.environ,
        "BOT_VAR_DIR": str(settings.var_dir),
        "BOT_DATABASE_URL": settings.database_url,
        "BOT_RASA_PORT": rasa.url.rsplit(":", 1)[1],
        "BOT_NOW": now.isoformat(),
        "BOT_NUDGE_CLAIM_SECONDS": str(CLAIM_SECONDS),
    }
    return subprocess.Popen(
        [sys.executable, "-m", "bot", "nudges", "sweep"], cwd=PROJECT_ROOT, env=env,
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )  # fmt: skip


def run_sweep(settings, rasa, now) -> str:
    process = sweep_process(settings, rasa, now)
    out, _ = process.communicate(timeout=120)
    assert process.returncode == 0, out
    return out


def kill_when_sent(process, rasa) -> None:
    deadline = time.monotonic() + 60
    while not rasa.state.triggers:
        assert process.poll() is None, process.stdout.read()
        assert time.monotonic() < deadline, "the sweeper never tried to send"
        time.sleep(0.05)
    time.sleep(0.2)
    process.send_signal(signal.SIGKILL)
    process.wait(timeout=10)


@pytest.fixture
def one_due(database, library, clock):
    with database.session() as session:
        me = register(session, "practitioner-k", now=clock())
        open_for(session, library, me, "south-tyneside", london(2026, 11, 23, 10))


# Both moments on SQLite; on PostgreSQL the one that also has to find the nudge already delivered
# (each case starts and kills sweeper processes: seconds).
@pytest.mark.parametrize(
    "database_url, mode",
    [
        pytest.param("sqlite", HANG_BEFORE, id="sqlite-killed-before-it-arrived"),
        pytest.param("sqlite", HANG_AFTER, id="sqlite-killed-after-it-arrived"),
        pytest.param("postgresql", HANG_AFTER, id="postgresql-killed-after-it-arrived"),
    ],
    indirect=["database_url"],
)
def test_killed_mid_send_then_restarted_delivers_exactly_once(database, settings, rasa, one_due, mode):
    rasa.mode = mode
    kill_when_sent(sweep_process(settings, rasa, DUE_AT), rasa)
    with database.session() as session:
        nudge = session.scalars(select(Nudge)).one()
        assert (nudge.status, nudge.attempts) == ("pending", 0)  # claimed, never marked
        assert nudge.claim_token is not None
    arrived_before_the_kill = len(rasa.nudges())
    assert arrived_before_the_kill == (1 if mode == HANG_AFTER else 0)

    rasa.mode = NORMAL
    # Restarted while the dead sweep's claim still holds: nobody sends it.
    assert "sent 0" in run_sweep(settings, rasa, DUE_AT + timedelta(seconds=5))
    # Once the claim has expired the next sweep takes it over, and checks before sending.
    out = run_sweep(settings, rasa, DUE_AT + timedelta(seconds=CLAIM_SECONDS + 1))
    assert len(rasa.nudges()) == 1
    with database.session() as session:
        nudge = session.scalars(select(Nudge)).one()
        outcomes = [a.outcome for a in session.scalars(select(NudgeAttempt))]
    assert nudge.status == "sent"
    if mode == HANG_AFTER:
        assert outcomes == ["already-delivered"] and "already delivered 1" in out
    else:
        assert outcomes == ["sent"] and "sent 1" in out
    # And a third sweep, later that day, adds nothing.
    run_sweep(settings, rasa, DUE_AT + timedelta(hours=2))
    assert len(rasa.nudges()) == 1
