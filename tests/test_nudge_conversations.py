"""Nudges through the running assistant: a sweep (with the clock moved on) triggers them in the
practitioner's and the manager's conversations, and the manager's "not resolved" advances the
record, as it would in a conversation of their own."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import urllib.request

import pytest
from sqlalchemy import select

from bot.config import PROJECT_ROOT, Settings
from bot.records import store
from bot.records.db import open_database
from bot.records.models import Nudge
from tests.serving import RASA_PORT, URL, new_sender, say, slots
from tests.test_record_conversations import open_record

pytestmark = pytest.mark.server


def bot_messages(sender: str) -> list[dict]:
    with urllib.request.urlopen(f"{URL}/conversations/{sender}/tracker") as response:
        return [e for e in json.loads(response.read())["events"] if e["event"] == "bot"]


def operator(server, *args: str, now: str | None = None) -> str:
    env = {**os.environ, "BOT_VAR_DIR": str(server), "BOT_RASA_PORT": str(RASA_PORT)}
    if now:
        env["BOT_NOW"] = now
    done = subprocess.run([sys.executable, "-m", "bot", *args], cwd=PROJECT_ROOT, env=env,
                          capture_output=True, text=True, timeout=120)  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr
    return done.stdout


def test_a_due_stage_nudges_practitioner_and_manager_and_the_manager_escalates(server):
    practitioner, manager = new_sender(), new_sender()
    say(manager, "hello")  # the manager has used the assistant once: registered
    reference = open_record(practitioner, "south-tyneside")
    # Practitioner to practitioner did not resolve it: Stage 1, line managers, within 1 day.
    say(practitioner, "not resolved")
    say(practitioner, "we spoke on the phone, they will not reopen it")
    say(practitioner, "they say the threshold is not met")
    assert say(practitioner, "/affirm").startswith(f"{reference} moved to Stage 1")
    operator(server, "people", "manager", f"rest:{practitioner}", f"rest:{manager}")

    due = operator(server, "nudges", "due", now="2026-11-24T10:00:00+00:00")
    assert f"{reference} due " in due and f"{reference} due-manager" in due
    assert "Nothing to send." in operator(server, "nudges", "due", now="2026-11-28T10:00:00+00:00")  # Saturday
    # The shared server holds other tests' escalations too: this one's two nudges are checked below.
    swept = operator(server, "nudges", "sweep", now="2026-11-24T10:00:00+00:00")
    assert "failed 0" in swept and int(swept.split("sent ")[1].split(",")[0]) >= 2
    assert "sent 0" in operator(server, "nudges", "sweep", now="2026-11-24T10:05:00+00:00")

    to_practitioner = bot_messages(practitioner)[-1]
    assert to_practitioner["text"].startswith(f"⏰ {reference}: Stage 1 – Immediate Resolution – Line Managers")
    assert "is due today (Tue 24 Nov 2026). Has it been resolved?" in to_practitioner["text"]
    nudge = bot_messages(manager)[-1]
    assert nudge["text"].startswith(f"⏰ {reference} (South Tyneside): Stage 1")
    assert "raised by your team at health visiting" in nudge["text"]
    assert "Source: South Tyneside procedure" in nudge["text"]
    assert [b["payload"] for b in nudge["data"]["buttons"]] == ["/resolved", "/not_resolved", "/more_time"]
    assert slots(manager)["escalation_ref"] == reference

    asked = say(manager, "/not_resolved")
    assert "What happened at Stage 1" in asked
    say(manager, "I spoke to their team manager, no change")
    say(manager, "they still say the threshold is not met")
    moved = say(manager, "/affirm")
    assert moved.startswith(f"{reference} moved to Stage 2")

    database = open_database(Settings.from_env({"BOT_VAR_DIR": str(server)}))
    try:
        with database.session() as session:
            escalation = store.find(session, reference=reference, person=None)
            assert [s.key for s in escalation.stages] == ["practitioners", "stage-1", "stage-2"]
            assert escalation.stages[1].outcome == "I spoke to their team manager, no change"
            boss = store.person_for(session, channel="rest", channel_id=manager, now=escalation.opened_at)
            trail = store.audit_trail(session, reference=reference)
            escalated = [e for e in trail if e.action == "stage.escalated"][-1]
            assert (escalated.detail["to_stage"], escalated.actor) == ("stage-2", f"person:{boss.id}")
            assert trail[-1].action == "document.produced"  # Appendix A, which Stage 2 asks for
            kinds = {n.kind: n.status for n in session.scalars(select(Nudge).where(Nudge.escalation_id == escalation.id))}
            assert kinds == {"due": "sent", "due-manager": "sent"}
    finally:
        database.dispose()
