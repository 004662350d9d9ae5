"""Faults: each process killed with SIGKILL mid-conversation and mid-escalation, and the records
database down for a minute; afterwards no record, stage, audit entry or nudge is lost or doubled.

    python bench/faults.py [--only rasa|actions|scheduler|database] [--outage-seconds 60]

The assistant's processes are started as ``bot/serve.py`` ``commands()`` defines them (the action
server, the Rasa server, the nudge scheduler), but each on its own, on a fresh ``BOT_VAR_DIR`` and a
frozen clock (``BOT_NOW``), so that one can be killed while the others run on:

- **rasa**: the Rasa server killed between two answers of the escalation form; then while the
  form's last answer is in flight, once the record is written but before Rasa stored the
  conversation; then while "not resolved" is in flight, before and after the stage is written. Each
  time it is started again and the practitioner sends again the message that got no answer.
- **actions**: the same for the action server, killed between answers, and while it handles the
  action that opens the record or moves it to the next stage (before and after it wrote).
- **scheduler**: ``python -m bot nudges run`` killed in the middle of a sweep, while a nudge is on
  its way to Rasa and after Rasa took it, then started again: every nudge arrives once.
- **database**: the records on a throwaway PostgreSQL cluster (``BOT_DATABASE_URL``), stopped with
  ``pg_ctl stop -m fast`` for ``--outage-seconds``: practitioners opening and moving records in the
  meantime get a sentence that says nothing was saved; afterwards, with nothing restarted, the same
  conversations finish and each record is written once; nudges that fell due are sent.

To hit "the record is written but the answer is lost" every time, without touching the code under
test, Rasa reaches the action server (and the scheduler reaches Rasa) through a small HTTP relay in
this script (``Gate``) that can hold one request, before or after passing it on, while the process
is killed; the relay then drops the connection, as the dead process would have.

Writes what was killed, when, what was checked, pass or fail and the recovery time to
``bench/results/faults.md`` and ``.json`` (``faults-<scenario>.md`` with ``--only``). Uses ports
5805-5880 and takes about 20 minutes on a 2-core machine, most of it the Rasa server loading its
model after each kill.
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import http.client
import json
import os
import platform
import pwd
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
import traceback
import urllib.error
import urllib.parse
import urllib.request
from datetime import datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Callable, Iterator

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bot.config import Settings  # noqa: E402
from bot.serve import MODEL, commands, process_environment, wait_until_ready, write_credentials, write_endpoints  # noqa: E402

RASA_PORT, RASA_GATE_PORT = 5805, 5806
ACTIONS_PORT, ACTIONS_GATE_PORT = 5855, 5856
WEBCHAT_PORT = 5899  # only named in Rasa's --cors; nothing listens there
POSTGRES_PORT = 5880
RASA_URL = f"http://127.0.0.1:{RASA_PORT}"

OPENED_AT = datetime.fromisoformat("2026-11-23T10:00:00+00:00")  # Monday: records are opened
DUE_AT = datetime.fromisoformat("2026-11-24T10:00:00+00:00")  # South Tyneside's first stage is due
OVERDUE_AT = datetime.fromisoformat("2026-11-26T10:00:00+00:00")  # two working days later: overdue
CLAIM_SECONDS = 20
SCENARIOS = ("rasa", "actions", "scheduler", "database")


class Failure(RuntimeError):
    """The scenario could not go on (a process did not start, a reply was not the one expected)."""


# Processes ----------------------------------------------------------------------------------------


class Process:
    """One of the assistant's processes, started on its own so that it can be killed alone."""

    def __init__(self, name: str, command: list[str], env: dict[str, str], log: Path, ready: str | None) -> None:
        self.name, self.command, self.env, self.log, self.ready_url = name, command, env, log, ready
        self.popen: subprocess.Popen | None = None

    def start(self) -> None:
        with self.log.open("a") as log:
            log.write(f"\n--- {self.name} started at {datetime.now():%H:%M:%S} ---\n")
            log.flush()
            self.popen = subprocess.Popen(
                self.command, cwd=ROOT, env=self.env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
            )

    def wait_ready(self, timeout: float = 400, ready_line: str | None = None) -> float:
        """Seconds until it answers (or logs ``ready_line``); ``Failure`` if it exits or never does."""
        started = time.monotonic()
        while time.monotonic() - started < timeout:
            if self.popen.poll() is not None:
                raise Failure(f"{self.name} exited with code {self.popen.returncode}:\n{self.tail()}")
            if ready_line is not None:
                if ready_line in self.log.read_text(errors="replace").rsplit("--- " + self.name + " started", 1)[-1]:
                    return time.monotonic() - started
                time.sleep(0.5)
            elif wait_until_ready(self.ready_url, timeout=2):
                return time.monotonic() - started
        raise Failure(f"{self.name} did not get ready in {timeout:.0f} s:\n{self.tail()}")

    @property
    def alive(self) -> bool:
        return self.popen is not None and self.popen.poll() is None

    def kill9(self) -> None:
        os.kill(self.popen.pid, signal.SIGKILL)
        self.popen.wait(timeout=30)
        with contextlib.suppress(ProcessLookupError):  # anything it started goes with it
            os.killpg(self.popen.pid, signal.SIGKILL)

    def stop(self) -> None:
        if self.popen is None or self.popen.poll() is not None:
            return
        os.killpg(self.popen.pid, signal.SIGTERM)
        try:
            self.popen.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(self.popen.pid, signal.SIGKILL)
            self.popen.wait(timeout=30)

    def tail(self, lines: int = 25) -> str:
        return "\n".join(self.log.read_text(errors="replace").splitlines()[-lines:])


class Gate:
    """An HTTP relay in front of a process that can hold one exchange: ``trap`` a request matching
    ``match`` before passing it on (``"request"``) or after the answer came back (``"response"``);
    ``held`` is set while it waits; ``release(drop=True)`` then closes the connection without an
    answer, as a process killed at that moment would."""

    def __init__(self, port: int, upstream_port: int) -> None:
        self.upstream_port = upstream_port
        self.lock = threading.Lock()
        self.phase: str | None = None
        self.match: Callable[[str, str, bytes], bool] | None = None
        self.held = threading.Event()
        self.released = threading.Event()
        self.drop = False
        gate = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args) -> None:
                pass

            def do_GET(self) -> None:
                gate.relay(self)

            do_POST = do_PUT = do_DELETE = do_GET

        self.server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
        self.server.daemon_threads = True
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.released.set()
        self.server.shutdown()
        self.server.server_close()

    @contextlib.contextmanager
    def trap(self, phase: str, match: Callable[[str, str, bytes], bool]) -> Iterator["Gate"]:
        with self.lock:
            self.phase, self.match, self.drop = phase, match, False
            self.held.clear()
            self.released.clear()
        try:
            yield self
        finally:
            with self.lock:
                self.phase = self.match = None
            self.released.set()

    def release(self, *, drop: bool) -> None:
        self.drop = drop
        self.released.set()

    def _caught(self, phase: str, method: str, path: str, body: bytes) -> bool:
        with self.lock:
            if self.phase != phase or self.match is None or self.held.is_set():
                return False
            if not self.match(method, path, body):
                return False
            self.held.set()
        self.released.wait(timeout=600)
        return True

    def relay(self, handler: BaseHTTPRequestHandler) -> None:
        length = int(handler.headers.get("Content-Length") or 0)
        body = handler.rfile.read(length) if length else b""
        if self._caught("request", handler.command, handler.path, body) and self.drop:
            return  # closed without an answer: it never reached the process
        try:
            upstream = http.client.HTTPConnection("127.0.0.1", self.upstream_port, timeout=300)
            headers = {k: v for k, v in handler.headers.items() if k.lower() not in ("host", "connection")}
            upstream.request(handler.command, handler.path, body=body or None, headers=headers)
            answer = upstream.getresponse()
            content = answer.read()
            upstream.close()
        except OSError:
            return  # the process is gone: the caller sees the connection closed
        if self._caught("response", handler.command, handler.path, body) and self.drop:
            return  # done, but its answer is lost
        with contextlib.suppress(OSError):
            handler.send_response(answer.status)
            for name, value in answer.getheaders():
                if name.lower() not in ("transfer-encoding", "connection", "content-length"):
                    handler.send_header(name, value)
            handler.send_header("Content-Length", str(len(content)))
            handler.end_headers()
            handler.wfile.write(content)


def action_named(name: str) -> Callable[[str, str, bytes], bool]:
    """A request from Rasa to the action server to run action ``name``."""

    def match(method: str, path: str, body: bytes) -> bool:
        try:
            return json.loads(body or b"{}").get("next_action") == name
        except ValueError:
            return False

    return match


def nth_trigger(n: int) -> Callable[[str, str, bytes], bool]:
    """The ``n``-th nudge the scheduler hands to Rasa (``trigger_intent``) from now on."""
    seen = [0]

    def match(method: str, path: str, body: bytes) -> bool:
        if method != "POST" or "/trigger_intent" not in path:
            return False
        seen[0] += 1
        return seen[0] == n

    return match


class Assistant:
    """The action server, the Rasa server and the nudge scheduler on one fresh ``var/``, with a gate
    between Rasa and the action server and one between the scheduler and Rasa."""

    def __init__(self, var: Path, extra_env: dict[str, str] | None = None, model: Path = MODEL) -> None:
        self.var = var
        var.mkdir(parents=True, exist_ok=True)
        self.env = {
            "BOT_VAR_DIR": str(var), "BOT_NOW": OPENED_AT.isoformat(),
            "BOT_RASA_PORT": str(RASA_PORT), "BOT_ACTIONS_PORT": str(ACTIONS_PORT),
            "BOT_WEBCHAT_PORT": str(WEBCHAT_PORT), **(extra_env or {}),
        }  # fmt: skip
        settings = Settings.from_env({**os.environ, **self.env})
        via_gate = Settings.from_env({**os.environ, **self.env, "BOT_ACTIONS_PORT": str(ACTIONS_GATE_PORT)})
        endpoints = write_endpoints(via_gate)  # Rasa calls the action server through the gate
        write_credentials(settings)
        self.commands = commands(settings, endpoints, model)
        rasa_command = commands(via_gate, endpoints, model)["rasa"]
        self.process_env = {**process_environment(settings), **self.env}
        self.actions = Process("actions", self.commands["actions"], self.process_env, var / "actions.log",
                               f"http://127.0.0.1:{ACTIONS_PORT}/health")  # fmt: skip
        self.rasa = Process("rasa", rasa_command, self.process_env, var / "rasa.log", f"{RASA_URL}/status")
        self.scheduler: Process | None = None
        self.action_gate = Gate(ACTIONS_GATE_PORT, ACTIONS_PORT)
        self.rasa_gate = Gate(RASA_GATE_PORT, RASA_PORT)
        self.settings = settings

    def start(self) -> None:
        self.actions.start()
        self.rasa.start()
        self.actions.wait_ready()
        self.rasa.wait_ready()

    def start_scheduler(self, now: datetime) -> Process:
        """``python -m bot nudges run`` with its clock at ``now``, reaching Rasa through the gate."""
        env = {
            **self.process_env, "BOT_NOW": now.isoformat(), "BOT_RASA_PORT": str(RASA_GATE_PORT),
            "BOT_NUDGE_INTERVAL_SECONDS": "2", "BOT_NUDGE_CLAIM_SECONDS": str(CLAIM_SECONDS),
        }  # fmt: skip
        self.scheduler = Process("nudges", self.commands["nudges"], env, self.var / "nudges.log", None)
        self.scheduler.start()
        return self.scheduler

    def restart(self, process: Process) -> float:
        """Start a killed process again; seconds until it answers."""
        process.start()
        if process is self.scheduler:
            return process.wait_ready(ready_line="nudges: sweeping every")
        return process.wait_ready()

    def stop(self) -> None:
        for process in (self.scheduler, self.rasa, self.actions):
            if process is not None:
                process.stop()
        self.action_gate.close()
        self.rasa_gate.close()


# Talking to it ------------------------------------------------------------------------------------


def say(sender: str, message: str, timeout: float = 180) -> str | None:
    """The assistant's replies to ``message`` as one text; None if no answer came (connection
    dropped: the server died)."""
    request = urllib.request.Request(
        f"{RASA_URL}/webhooks/rest/webhook", data=json.dumps({"sender": sender, "message": message}).encode(),
        headers={"Content-Type": "application/json"}, method="POST",
    )  # fmt: skip
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            replies = json.loads(response.read() or b"[]")
    except (urllib.error.URLError, http.client.HTTPException, ConnectionError, TimeoutError, OSError):
        return None
    return "\n".join(reply.get("text") or "" for reply in replies)


class InFlight(threading.Thread):
    """A message sent in the background, so that a process can be killed while it is handled."""

    def __init__(self, sender: str, message: str) -> None:
        super().__init__(daemon=True)
        self.sender, self.message, self.reply = sender, message, None

    def run(self) -> None:
        self.reply = say(self.sender, self.message)


def tracker(sender: str) -> dict:
    with urllib.request.urlopen(f"{RASA_URL}/conversations/{urllib.parse.quote(sender)}/tracker", timeout=30) as response:
        return json.loads(response.read())


def nudges_in_conversation(sender: str) -> list[str]:
    """The keys of the nudges that arrived in ``sender``'s conversation, once per arrival."""
    keys = []
    for event in tracker(sender).get("events") or []:
        if event.get("event") == "user":
            for entity in (event.get("parse_data") or {}).get("entities") or []:
                if entity.get("entity") == "nudge":
                    keys.append(entity.get("value"))
    return keys


# The South Tyneside escalation form, as in tests/test_record_conversations.py: (message, what the
# answer asks next).
FORM = [
    ("the other agency has closed the case and I disagree with their decision", None),
    ('/choose_partnership{"partnership": "south-tyneside"}', None),
    ("/open_record", "child (under 18) or an adult"),
    ('/inform_subject{"subject": "children"}', "case reference"),
    ("{case}", "Which agency or team"),
    ("children's social care assessment team", "Which is it mostly about?"),
    ('/inform_category{"category": "step-up-step-down"}', "what is the disagreement"),
    ("the case was closed although the home conditions have not changed", "What outcome do you want"),
    ("the case to stay open with a plan", "What evidence supports"),
    ("two home visits in November found the same conditions", "Which agency and team"),
    ("health visiting", None),
]
LAST_ANSWER = "health visitor"  # the form's last answer: the record is opened
OUTCOME = [
    ("/not_resolved", "What happened at"),
    ("still no agreement", "other agency's position"),
    ("their manager backs the decision", "confirmed in writing"),
]
CONFIRM = "/affirm"  # the outcome form's last answer: the record moves to the next stage


def converse(sender: str, steps: list[tuple[str, str | None]], case: str = "") -> None:
    for message, expected in steps:
        reply = say(sender, message.replace("{case}", case))
        if reply is None or (expected and expected not in reply):
            raise Failure(f"{sender}: {message!r} was answered {reply!r}, expected {expected!r}")


def open_record(sender: str, case: str) -> str:
    converse(sender, FORM, case)
    reply = say(sender, LAST_ANSWER) or ""
    if not reply.startswith("Opened ESC-"):
        raise Failure(f"{sender}: the record was not opened: {reply!r}")
    return reply.split()[1]


# The records, read back ---------------------------------------------------------------------------


class Records:
    """The records database as an inspector reads it."""

    def __init__(self, env: dict[str, str]) -> None:
        from bot.records.db import open_database

        self.database = open_database(Settings.from_env({**os.environ, **env}))  # migrates, makes the key

    def of(self, sender: str) -> list[dict]:
        """Every escalation ``sender`` raised: reference, status, stages, audit trail, nudges."""
        from sqlalchemy import select

        from bot.records import store
        from bot.records.models import Nudge, Person

        with self.database.session() as session:
            person = session.scalars(select(Person).where(Person.channel_id == sender)).first()
            if person is None:
                return []
            found = []
            for escalation in store.escalations_of(session, person=person):
                nudges = session.scalars(select(Nudge).where(Nudge.escalation_id == escalation.id).order_by(Nudge.id))
                found.append(
                    {
                        "reference": escalation.reference,
                        "status": escalation.status,
                        "stages": [entry.key for entry in escalation.stages],
                        "audit": [entry.action for entry in store.audit_trail(session, reference=escalation.reference)],
                        "nudges": [
                            {"key": n.key, "kind": n.kind, "status": n.status, "attempts": n.attempts} for n in nudges
                        ],
                    }
                )
            return found

    def close(self) -> None:
        self.database.dispose()


# Results ------------------------------------------------------------------------------------------


@dataclasses.dataclass
class Row:
    scenario: str
    fault: str
    when: str
    checks: list[dict] = dataclasses.field(default_factory=list)
    recovery_seconds: float | None = None
    note: str = ""

    def check(self, what: str, ok: bool, detail: object = "") -> bool:
        self.checks.append({"check": what, "ok": bool(ok), "detail": "" if ok else str(detail)[:400]})
        return bool(ok)

    @property
    def passed(self) -> bool:
        return bool(self.checks) and all(c["ok"] for c in self.checks)


OPENED = ["escalation.opened"]
MOVED_ONCE = ["escalation.opened", "stage.recorded", "stage.escalated"]
MOVED_TWICE = MOVED_ONCE + ["stage.recorded", "stage.escalated", "document.produced"]  # South Tyneside's Stage 2 form


def check_records(row: Row, records: Records, sender: str, stages: list[str], audit: list[str]) -> dict | None:
    """Exactly one record for ``sender``, at ``stages``, with exactly ``audit`` in its trail."""
    found = records.of(sender)
    row.check("exactly one record", len(found) == 1, [r["reference"] for r in found])
    if not found:
        return None
    row.check(f"stages {' > '.join(stages)}", found[0]["stages"] == stages, found[0]["stages"])
    row.check("audit trail without duplicates", found[0]["audit"] == audit, found[0]["audit"])
    return found[0]


def check_conversation(row: Row, sender: str, reference: str, stage: float) -> None:
    slots = tracker(sender)["slots"]
    row.check(
        "conversation follows the record",
        slots.get("escalation_ref") == reference and slots.get("stage") == stage,
        {"escalation_ref": slots.get("escalation_ref"), "stage": slots.get("stage")},
    )


def kill_in_flight(assistant: Assistant, victim: Process, sender: str, message: str, phase: str, action: str) -> tuple[InFlight, float]:
    """Send ``message``; when Rasa's call of ``action`` reaches the gate (``phase`` "request": before
    the action server has it; "response": after it answered), kill ``victim`` with SIGKILL and drop
    the call. Returns the message's thread and the moment of the kill."""
    with assistant.action_gate.trap(phase, action_named(action)) as gate:
        flight = InFlight(sender, message)
        flight.start()
        if not gate.held.wait(timeout=120):
            raise Failure(f"{action} never reached the gate ({phase}); the reply was {flight.reply!r}")
        victim.kill9()
        killed_at = time.monotonic()
        gate.release(drop=True)
    flight.join(timeout=180)
    return flight, killed_at


# Scenario: the Rasa server -------------------------------------------------------------------------


def scenario_rasa(assistant: Assistant, records: Records) -> list[Row]:
    rows = []
    sender = "faults-rasa"
    rasa = assistant.rasa

    row = Row("rasa", "Rasa server, SIGKILL", "between two answers of the escalation form (after the category)")
    converse(sender, FORM[:7], "CSC-300001")
    rasa.kill9()
    killed = time.monotonic()
    reply, _ = restarted(row, assistant, rasa, killed, sender, [FORM[7][0]])
    row.check("the form goes on with its next question", reply is not None and FORM[7][1] in reply, reply)
    row.check("no record yet", records.of(sender) == [], records.of(sender))
    rows.append(row)
    converse(sender, FORM[8:])

    row = Row("rasa", "Rasa server, SIGKILL", "form's last answer in flight: record written, conversation not yet saved")
    flight, killed = kill_in_flight(assistant, rasa, sender, LAST_ANSWER, "response", "action_open_escalation")
    row.check("the practitioner got no answer", flight.reply is None, flight.reply)
    written = records.of(sender)
    row.check("the record was written before the kill", len(written) == 1, written)
    reply, _ = restarted(row, assistant, rasa, killed, sender, [LAST_ANSWER])  # sent again: it got no answer
    found = check_records(row, records, sender, ["practitioners"], OPENED)
    if found:
        row.check("the answer names the record", reply is not None and found["reference"] in reply, reply)
        check_conversation(row, sender, found["reference"], 0.0)
    rows.append(row)
    reference = found["reference"] if found else None

    row = Row("rasa", "Rasa server, SIGKILL", "\"not resolved\" confirmed, in flight before the action server had it")
    converse(sender, OUTCOME)
    flight, killed = kill_in_flight(assistant, rasa, sender, CONFIRM, "request", "action_advance_escalation")
    row.check("the practitioner got no answer", flight.reply is None, flight.reply)
    row.check("nothing written before the kill", records.of(sender)[0]["stages"] == ["practitioners"], records.of(sender))
    reply, _ = restarted(row, assistant, rasa, killed, sender, [CONFIRM])
    row.check("sent again, it moves the record", reply is not None and "moved to Stage 1" in reply, reply)
    check_records(row, records, sender, ["practitioners", "stage-1"], MOVED_ONCE)
    check_conversation(row, sender, reference, 1.0)
    rows.append(row)

    row = Row("rasa", "Rasa server, SIGKILL", "\"not resolved\" confirmed, in flight after the stage was written")
    converse(sender, OUTCOME)
    flight, killed = kill_in_flight(assistant, rasa, sender, CONFIRM, "response", "action_advance_escalation")
    row.check("the practitioner got no answer", flight.reply is None, flight.reply)
    row.check("the stage was written before the kill", len(records.of(sender)[0]["stages"]) == 3, records.of(sender))
    reply, _ = restarted(row, assistant, rasa, killed, sender, [CONFIRM])
    row.check("sent again, the answer says where the record is", reply is not None and "already at Stage 2" in reply, reply)
    check_records(row, records, sender, ["practitioners", "stage-1", "stage-2"], MOVED_TWICE)
    check_conversation(row, sender, reference, 2.0)
    rows.append(row)
    return rows


# Scenario: the action server ---------------------------------------------------------------------


def retry_until(sender: str, messages: list[str], *wanted: str) -> tuple[str | None, list[str]]:
    """What a practitioner does when an answer did not come: send the message again, then say what
    they wanted ("open a record", "not resolved") until the answer has one of ``wanted``."""
    said, reply = [], None
    for message in messages:
        reply = say(sender, message)
        said.append(message)
        if reply is not None and any(text in reply for text in wanted):
            break
    return reply, said


def restarted(row: Row, assistant: Assistant, process: Process, killed_at: float, sender: str,
              messages: list[str], *wanted: str) -> tuple[str | None, list[str]]:
    """Restart ``process``, then send what the practitioner would (``retry_until``); the row's
    recovery time runs from the kill to that answer."""
    assistant.restart(process)
    reply, said = retry_until(sender, messages, *wanted)
    row.recovery_seconds = round(time.monotonic() - killed_at, 1)
    return reply, said


TOLD_TO_RESEND = "Please send it again in a minute"  # utter_assistant_unavailable


def scenario_actions(assistant: Assistant, records: Records) -> list[Row]:
    rows = []
    actions = assistant.actions
    first, second = "faults-actions-1", "faults-actions-2"

    row = Row("actions", "action server, SIGKILL", "between two answers of the escalation form (after the case reference)")
    converse(first, FORM[:5], "CSC-300002")
    actions.kill9()
    killed = time.monotonic()
    reply, _ = restarted(row, assistant, actions, killed, first, [FORM[5][0]])
    row.check("the form goes on with its next question", reply is not None and FORM[5][1] in reply, reply)
    rows.append(row)
    converse(first, FORM[6:])

    row = Row("actions", "action server, SIGKILL", "opening the record, before it wrote")
    flight, killed = kill_in_flight(assistant, actions, first, LAST_ANSWER, "request", "action_open_escalation")
    row.note = f"answer while it was down: {flight.reply!r}"
    row.check("told at once to send it again", bool(flight.reply) and TOLD_TO_RESEND in flight.reply, flight.reply)
    row.check("nothing written", records.of(first) == [], records.of(first))
    reply, said = restarted(row, assistant, actions, killed, first, [LAST_ANSWER, "/open_record"], "ESC-")
    row.note += f"; then sent {said}"
    found = check_records(row, records, first, ["practitioners"], OPENED)
    if found:
        row.check("the answer names the record", reply is not None and found["reference"] in reply, reply)
        check_conversation(row, first, found["reference"], 0.0)
    rows.append(row)
    first_ref = found["reference"] if found else None

    row = Row("actions", "action server, SIGKILL", "moving the record to the next stage, after it wrote, before it answered")
    converse(first, OUTCOME)
    flight, killed = kill_in_flight(assistant, actions, first, CONFIRM, "response", "action_advance_escalation")
    row.note = f"answer while it was down: {flight.reply!r}"
    row.check("told at once to send it again", bool(flight.reply) and TOLD_TO_RESEND in flight.reply, flight.reply)
    row.check("the stage was written before the kill", records.of(first)[0]["stages"] == ["practitioners", "stage-1"], records.of(first))
    reply, said = restarted(row, assistant, actions, killed, first, [CONFIRM, "/not_resolved"], "moved to Stage 1", "already at Stage 1")
    row.note += f"; then sent {said}"
    row.check("the answer says where the record is", reply is not None and "already at Stage 1" in reply, reply)
    check_records(row, records, first, ["practitioners", "stage-1"], MOVED_ONCE)
    check_conversation(row, first, first_ref, 1.0)
    rows.append(row)

    row = Row("actions", "action server, SIGKILL", "opening the record, after it wrote, before it answered")
    converse(second, FORM, "CSC-300003")
    flight, killed = kill_in_flight(assistant, actions, second, LAST_ANSWER, "response", "action_open_escalation")
    row.note = f"answer while it was down: {flight.reply!r}"
    row.check("told at once to send it again", bool(flight.reply) and TOLD_TO_RESEND in flight.reply, flight.reply)
    row.check("the record was written before the kill", len(records.of(second)) == 1, records.of(second))
    reply, said = restarted(row, assistant, actions, killed, second, [LAST_ANSWER, "/open_record"], "ESC-")
    row.note += f"; then sent {said}"
    found = check_records(row, records, second, ["practitioners"], OPENED)
    if found:
        row.check("the answer names the record", reply is not None and found["reference"] in reply, reply)
        check_conversation(row, second, found["reference"], 0.0)
    rows.append(row)
    second_ref = found["reference"] if found else None

    row = Row("actions", "action server, SIGKILL", "moving the record to the next stage, before it wrote")
    converse(second, OUTCOME)
    flight, killed = kill_in_flight(assistant, actions, second, CONFIRM, "request", "action_advance_escalation")
    row.note = f"answer while it was down: {flight.reply!r}"
    row.check("told at once to send it again", bool(flight.reply) and TOLD_TO_RESEND in flight.reply, flight.reply)
    row.check("nothing written", records.of(second)[0]["stages"] == ["practitioners"], records.of(second))
    reply, said = restarted(row, assistant, actions, killed, second, [CONFIRM, "/not_resolved"], "moved to Stage 1", "already at Stage 1")
    row.note += f"; then sent {said}"
    row.check("the record moves once", reply is not None and "moved to Stage 1" in reply, reply)
    check_records(row, records, second, ["practitioners", "stage-1"], MOVED_ONCE)
    check_conversation(row, second, second_ref, 1.0)
    rows.append(row)
    return rows


# Scenario: the nudge scheduler -------------------------------------------------------------------


def nudge_counts(senders: list[str], records: Records, kind: str) -> tuple[list[int], list[str]]:
    """How often each sender's ``kind`` nudge arrived in their conversation; the nudges' states."""
    counts, states = [], []
    for sender in senders:
        [record] = records.of(sender)
        keys = [n["key"] for n in record["nudges"] if n["kind"] == kind]
        arrived = nudges_in_conversation(sender)
        counts.append(sum(arrived.count(key) for key in keys))
        states += [n["status"] for n in record["nudges"] if n["kind"] == kind]
    return counts, states


def check_every_nudge_once(row: Row, records: Records, senders: list[str]) -> None:
    """Every nudge recorded sent arrived once in its conversation; every other one never."""
    wrong = []
    for sender in senders:
        arrived = nudges_in_conversation(sender)
        for record in records.of(sender):
            for nudge in record["nudges"]:
                expected = 1 if nudge["status"] == "sent" else 0
                if arrived.count(nudge["key"]) != expected:
                    wrong.append(f"{nudge['key']} {nudge['status']} arrived {arrived.count(nudge['key'])} times")
    row.check("every nudge recorded sent arrived once, no other", not wrong, wrong)


def wait_for(condition: Callable[[], bool], timeout: float, step: float = 0.5) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(step)
    return condition()


def scheduler_killed_mid_sweep(assistant: Assistant, records: Records, senders: list[str], kind: str,
                               at: datetime, phase: str, when: str) -> Row:
    """The scheduler at ``at`` killed while the second of the senders' nudges is held at the gate;
    started again (its clock still inside the dead sweep's claim, then past it)."""
    row = Row("scheduler", "nudge scheduler, SIGKILL", when)
    with assistant.rasa_gate.trap(phase, nth_trigger(2)) as gate:
        scheduler = assistant.start_scheduler(at)
        if not gate.held.wait(timeout=180):
            raise Failure(f"the scheduler never sent a second nudge:\n{scheduler.tail()}")
        scheduler.kill9()
        killed = time.monotonic()
        gate.release(drop=True)
    counts, _ = nudge_counts(senders, records, kind)
    row.check("when killed: first arrived, third not yet", counts[0] == 1 and counts[2] == 0, counts)
    assistant.start_scheduler(at + timedelta(seconds=5))  # started again while the claim still holds
    assistant.scheduler.wait_ready(ready_line="nudges: sweeping every")
    time.sleep(6)  # three sweeps
    again, _ = nudge_counts(senders, records, kind)
    row.check("restarted inside the dead sweep's claim: nothing sent twice", again == counts, again)
    assistant.scheduler.stop()
    assistant.start_scheduler(at + timedelta(seconds=CLAIM_SECONDS + 5))  # the claim has expired
    delivered = wait_for(lambda: nudge_counts(senders, records, kind)[1] == ["sent"] * len(senders), 120)
    row.recovery_seconds = round(time.monotonic() - killed, 1)
    time.sleep(6)  # and three more sweeps add nothing
    counts, states = nudge_counts(senders, records, kind)
    row.check(f"every {kind} nudge recorded sent", delivered and states == ["sent"] * len(senders), states)
    row.check(f"every {kind} nudge arrived exactly once", counts == [1] * len(senders), counts)
    assistant.scheduler.stop()
    return row


def scenario_scheduler(assistant: Assistant, records: Records) -> list[Row]:
    senders = [f"faults-nudges-{n}" for n in range(3)]
    for number, sender in enumerate(senders):
        open_record(sender, f"CSC-30010{number}")
    return [
        scheduler_killed_mid_sweep(assistant, records, senders, "due", DUE_AT, "request",
                                   "mid-sweep: a \"due\" nudge on its way to Rasa, not arrived"),
        scheduler_killed_mid_sweep(assistant, records, senders, "overdue", OVERDUE_AT, "response",
                                   "mid-sweep: an \"overdue\" nudge arrived in the conversation, not yet recorded sent"),
    ]  # fmt: skip


# Scenario: the records database down -----------------------------------------------------------


class Postgres:
    """A throwaway PostgreSQL cluster on loopback (run as the ``postgres`` user when we are root)."""

    def __init__(self, directory: Path, port: int = POSTGRES_PORT) -> None:
        self.directory, self.port = directory, port
        self.initdb, self.pg_ctl = shutil.which("initdb"), shutil.which("pg_ctl")
        if not (self.initdb and self.pg_ctl):
            raise Failure("no PostgreSQL here (initdb and pg_ctl are not on PATH)")
        self.as_user: list[str] = []
        if os.geteuid() == 0:  # PostgreSQL refuses to run as root
            owner = pwd.getpwnam("postgres")
            self.as_user = ["runuser", "-u", "postgres", "--"]
            for path in (directory, *directory.parents):
                if path == Path("/"):
                    break
                os.chmod(path, os.stat(path).st_mode | 0o011)  # let the postgres user reach its directory
            os.chown(directory, owner.pw_uid, owner.pw_gid)
        subprocess.run([*self.as_user, self.initdb, "-D", str(directory / "db"), "-U", "bot", "--auth=trust", "-E", "UTF8"],
                       check=True, capture_output=True)  # fmt: skip

    @property
    def url(self) -> str:
        return f"postgresql://bot@127.0.0.1:{self.port}/postgres"

    def start(self) -> None:
        subprocess.run(
            [*self.as_user, self.pg_ctl, "-D", str(self.directory / "db"), "-w", "-l", str(self.directory / "log"),
             "-o", f"-p {self.port} -k {self.directory} -c listen_addresses=127.0.0.1", "start"],
            check=True, capture_output=True,
        )  # fmt: skip

    def stop(self) -> None:
        subprocess.run([*self.as_user, self.pg_ctl, "-D", str(self.directory / "db"), "-m", "fast", "-w", "stop"],
                       check=True, capture_output=True)  # fmt: skip


UNAVAILABLE = "nothing was saved"  # what the sentence for an unreachable database must say


def scenario_database(assistant: Assistant, records: Records, postgres: Postgres, outage: float) -> list[Row]:
    opening, moving, fresh, nudged = "faults-db-open", "faults-db-move", "faults-db-fresh", "faults-db-nudge"
    nudged_ref = open_record(nudged, "CSC-300201")
    moving_ref = open_record(moving, "CSC-300202")
    converse(moving, OUTCOME)
    converse(opening, FORM, "CSC-300203")
    scheduler = assistant.start_scheduler(OPENED_AT)  # nothing owed yet
    scheduler.wait_ready(ready_line="nudges: sweeping every")
    time.sleep(3)

    outage_row = Row("database", f"PostgreSQL stopped ({outage:.0f} s, pg_ctl stop -m fast)", "practitioners mid-form and mid-stage")
    postgres.stop()
    stopped = time.monotonic()
    answers: dict[str, str | None] = {}
    answers["open"] = say(opening, LAST_ANSWER)
    outage_row.check("opening: a sentence saying nothing was saved", answers["open"] and UNAVAILABLE in answers["open"], answers["open"])
    outage_row.check("opening: never \"Opened\"", "Opened ESC-" not in (answers["open"] or ""), answers["open"])
    answers["move"] = say(moving, CONFIRM)
    outage_row.check("moving a stage: a sentence saying nothing was saved", answers["move"] and UNAVAILABLE in answers["move"], answers["move"])
    outage_row.check("moving a stage: never \"moved\"", "moved to" not in (answers["move"] or ""), answers["move"])
    answers["list"] = say(moving, "my escalations")
    outage_row.check("\"my escalations\": a sentence", bool(answers["list"]) and "records" in answers["list"], answers["list"])
    try:
        converse(fresh, FORM, "CSC-300204")
        answers["fresh"] = say(fresh, LAST_ANSWER)
        outage_row.check("a new form can be filled in meanwhile; at the end, the sentence",
                         answers["fresh"] is not None and UNAVAILABLE in answers["fresh"], answers["fresh"])
    except Failure as error:
        answers["fresh"] = None
        outage_row.check("a new form can be filled in meanwhile; at the end, the sentence", False, error)
    # The scheduler killed and started again during the outage, its clock now past the first stage's due date.
    scheduler.kill9()
    scheduler = assistant.start_scheduler(DUE_AT)
    time.sleep(5)
    outage_row.check("a scheduler started during the outage keeps running", scheduler.alive, scheduler.tail(8))
    outage_row.check("no traceback or silence in any answer", all(a and "Traceback" not in a for a in answers.values()), answers)
    time.sleep(max(0.0, outage - (time.monotonic() - stopped)))
    postgres.start()
    back_at = time.monotonic()
    outage_row.note = f"down for {back_at - stopped:.0f} s; answers: " + json.dumps(answers, ensure_ascii=False)[:600]
    written = {s: records.of(s) for s in (opening, moving, fresh)}
    outage_row.check("nothing written during the outage",
                     written[opening] == [] and written[fresh] == [] and written[moving][0]["stages"] == ["practitioners"],
                     written)  # fmt: skip
    rows = [outage_row]

    row = Row("database", "PostgreSQL back, nothing restarted", "the same conversations go on")
    reply, said = retry_until(opening, ["/open_record"], "ESC-")
    row.recovery_seconds = round(time.monotonic() - back_at, 1)
    row.check("opening again: the record is opened", reply is not None and "Opened ESC-" in reply, reply)
    found = check_records(row, records, opening, ["practitioners"], OPENED)
    if found:
        check_conversation(row, opening, found["reference"], 0.0)
    reply, _ = retry_until(moving, ["/not_resolved"], "moved to Stage 1", "already at Stage 1")
    row.check("\"not resolved\" again: moved once", reply is not None and "moved to Stage 1" in reply, reply)
    check_records(row, records, moving, ["practitioners", "stage-1"], MOVED_ONCE)
    check_conversation(row, moving, moving_ref, 1.0)
    reply, _ = retry_until(fresh, ["/open_record"], "ESC-")
    row.check("the form filled during the outage: opened once", reply is not None and "Opened ESC-" in reply, reply)
    check_records(row, records, fresh, ["practitioners"], OPENED)
    rows.append(row)

    row = Row("database", "PostgreSQL back, nothing restarted", "nudges owed while it was down")
    senders = [nudged]
    sent = wait_for(lambda: nudge_counts(senders, records, "due")[1] == ["sent"], 180)
    row.recovery_seconds = round(time.monotonic() - back_at, 1)
    time.sleep(6)
    counts, states = nudge_counts(senders, records, "due")
    row.check("the due nudge recorded sent", sent and states == ["sent"], states)
    row.check("and arrived exactly once", counts == [1], counts)
    row.check("the scheduler never stopped", scheduler.alive, scheduler.tail(8))
    check_every_nudge_once(row, records, [opening, moving, fresh, nudged])
    said = [line.split(": ", 1)[-1][:140] for line in scheduler.log.read_text().splitlines() if " bot.nudges" in line]
    row.note = f"record {nudged_ref}; the scheduler's log: " + " | ".join(dict.fromkeys(said))[-700:]
    rows.append(row)
    scheduler.stop()
    return rows


# Running and reporting ---------------------------------------------------------------------------


def run_scenario(name: str, base: Path, outage: float, model: Path) -> list[Row]:
    var = base / name
    extra: dict[str, str] = {}
    postgres = None
    if name == "database":
        pg_dir = base / "pg"
        pg_dir.mkdir()
        postgres = Postgres(pg_dir)
        postgres.start()
        extra["BOT_DATABASE_URL"] = postgres.url
    assistant = Assistant(var, extra, model)
    records = Records(assistant.env)
    try:
        assistant.start()
        if name == "rasa":
            return scenario_rasa(assistant, records)
        if name == "actions":
            return scenario_actions(assistant, records)
        if name == "scheduler":
            return scenario_scheduler(assistant, records)
        return scenario_database(assistant, records, postgres, outage)
    except Exception as error:  # one scenario failing must not hide the others
        row = Row(name, "(scenario stopped)", "", note="".join(traceback.format_exception_only(type(error), error))[-1500:])
        row.check("scenario ran to the end", False, error)
        print(traceback.format_exc(), file=sys.stderr)
        return [row]
    finally:
        assistant.stop()
        records.close()
        if postgres is not None:
            with contextlib.suppress(subprocess.CalledProcessError):
                postgres.stop()


def markdown(rows: list[Row], command: str, seconds: float) -> str:
    lines = [
        "# Faults: processes killed, the records database down",
        "",
        f"`{command}`: each process started on its own as `bot/serve.py` defines it (fresh `BOT_VAR_DIR`,",
        "frozen clock `BOT_NOW`), killed with SIGKILL at the moment named, started again; the database on a",
        "throwaway PostgreSQL cluster stopped and started. Recovery: from the kill (or the database's return)",
        "to the practitioner's next proper answer or the nudge recorded sent, restart included.",
        "",
        "| # | killed / stopped | when | checked | result | recovery |",
        "| --- | --- | --- | --- | --- | --- |",
    ]
    for number, row in enumerate(rows, 1):
        checks = "; ".join(("✓ " if c["ok"] else "✗ ") + c["check"] + (f" ({c['detail']})" if c["detail"] else "") for c in row.checks)
        recovery = f"{row.recovery_seconds:.0f} s" if row.recovery_seconds is not None else "-"
        cell = lambda text: text.replace("|", "\\|").replace("\n", " ")  # noqa: E731
        lines.append(f"| {number} | {cell(row.scenario + ': ' + row.fault)} | {cell(row.when)} | {cell(checks)} | {'pass' if row.passed else '**FAIL**'} | {recovery} |")
    passed = sum(row.passed for row in rows)
    lines += ["", f"{passed} of {len(rows)} passed in {seconds / 60:.1f} min on {platform.node() or 'this machine'} ({os.cpu_count()} cores)."]
    notes = [f"{number}. {row.note}" for number, row in enumerate(rows, 1) if row.note]
    if notes:
        lines += ["", "Notes (what the practitioner saw):", "", *notes]
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--only", choices=SCENARIOS, action="append", help="run only this scenario (repeatable)")
    parser.add_argument("--outage-seconds", type=float, default=60.0, help="how long the database is down")
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "results")
    parser.add_argument("--keep", action="store_true", help="keep the scenarios' var/ directories and logs")
    parser.add_argument("--model", type=Path, default=MODEL, help="the trained model (default: the one `make train` makes)")
    args = parser.parse_args(argv)
    if not args.model.is_file():
        print(f"no trained model at {args.model}: run `make train` first", file=sys.stderr)
        return 2
    chosen = args.only or list(SCENARIOS)
    base = Path(tempfile.mkdtemp(prefix="bench-faults-"))
    started = time.monotonic()
    rows: list[Row] = []
    try:
        for name in chosen:
            print(f"[{time.monotonic() - started:5.0f} s] {name}…", flush=True)
            found = run_scenario(name, base, args.outage_seconds, args.model)
            for row in found:
                print(f"    {'pass' if row.passed else 'FAIL'}: {row.fault}, {row.when}", flush=True)
                for c in row.checks:
                    if not c["ok"]:
                        print(f"        ✗ {c['check']}: {c['detail']}", flush=True)
            rows += found
    finally:
        if args.keep:
            print(f"logs and databases kept in {base}")
        else:
            shutil.rmtree(base, ignore_errors=True)
    seconds = time.monotonic() - started
    command = "python bench/faults.py" + "".join(f" --only {name}" for name in args.only or []) + (
        f" --outage-seconds {args.outage_seconds:g}" if args.outage_seconds != 60 else ""
    ) + (f" --model {args.model}" if args.model != MODEL else "")
    args.out.mkdir(parents=True, exist_ok=True)
    stem = "faults" if not args.only else "faults-" + "-".join(args.only)
    (args.out / f"{stem}.json").write_text(
        json.dumps({"command": command, "seconds": round(seconds), "passed": all(r.passed for r in rows),
                    "rows": [{**dataclasses.asdict(r), "passed": r.passed} for r in rows]}, indent=2, ensure_ascii=False),
        encoding="utf-8",
    )  # fmt: skip
    table = markdown(rows, command, seconds)
    (args.out / f"{stem}.md").write_text(table, encoding="utf-8")
    print(table)
    return 0 if rows and all(r.passed for r in rows) else 1


if __name__ == "__main__":
    sys.exit(main())
