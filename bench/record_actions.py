"""How long an action that writes a stage takes, through the real action server.

``python bench/record_actions.py`` starts the action server (``python -m rasa_sdk``) on a fresh
SQLite records database, opens ``--escalations`` escalations through ``bot.escalations.Desk``,
then times ``action_advance_escalation`` (record the stage's outcome, close it, open the next
stage with its due date, write the audit trail) as Rasa calls it: an HTTP POST of the tracker to
``/webhook``. Writes the median, p90, p99 and maximum to ``bench/results/record_actions.md``
and ``.json``.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bot.clock import frozen_clock  # noqa: E402
from bot.config import Settings  # noqa: E402
from bot.dialogue import Assistant  # noqa: E402
from bot.escalations import Caller, Desk  # noqa: E402
from bot.procedures.loader import load_library  # noqa: E402
from bot.records.db import open_database  # noqa: E402
from bot.serve import wait_until_ready  # noqa: E402
from bot.triage import Thresholds  # noqa: E402

NOW = "2026-11-23T10:00:00+00:00"
PARTNERSHIPS = ["bury-adults", "bury-children", "warrington-adults", "cambs-peterborough-adults", "south-tyneside"]


def tracker(sender: str, reference: str) -> dict:
    slots = {
        "escalation_ref": reference, "stage_outcome": "They maintain their decision.",
        "key_points_in_writing": True, "outcome_kind": "not_resolved", "has_record": True,
    }  # fmt: skip
    return {
        "next_action": "action_advance_escalation",
        "sender_id": sender,
        "tracker": {
            "sender_id": sender, "slots": slots, "latest_message": {"text": "yes", "intent": {"name": "affirm"}},
            "events": [], "paused": False, "followup_action": None, "active_loop": {},
            "latest_action_name": "outcome_form", "latest_input_channel": "rest",
        },  # fmt: skip
        "domain": {},
    }


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(share * (len(ordered) - 1))))]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--escalations", type=int, default=300)
    parser.add_argument("--port", type=int, default=5255)
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "results")
    args = parser.parse_args(argv)

    var = Path(tempfile.mkdtemp(prefix="bench-records-"))
    env = {**os.environ, "BOT_VAR_DIR": str(var), "BOT_NOW": NOW, "SANIC_HOST": "127.0.0.1", "PYTHONPATH": str(ROOT)}
    settings = Settings.from_env(env)
    library = load_library(settings.packs_dir)
    desk = Desk(Assistant(library, frozen_clock(settings.frozen_now), Thresholds()), open_database(settings), settings.documents_dir)

    print(f"Opening {args.escalations} escalations…", flush=True)
    opened: list[tuple[str, str]] = []
    for number in range(args.escalations):
        partnership = PARTNERSHIPS[number % len(PARTNERSHIPS)]
        caller = Caller(channel="rest", sender=f"bench-{number}")
        slots = {
            "partnership": partnership, "subject": "adults" if partnership not in ("bury-children",) else "children",
            "case_reference": f"CASE-{100000 + number}", "other_agency": "the other agency", "category": "risk",
            "summary": "A summary of the disagreement.", "desired_outcome": "A meeting.", "evidence": "skip",
            "my_agency": "An agency", "my_role": "A role",
        }  # fmt: skip
        opened.append((caller.sender, desk.open(caller, slots).slots["escalation_ref"]))
    desk.database.dispose()

    server = subprocess.Popen(
        [sys.executable, "-m", "rasa_sdk", "--actions", "actions", "--port", str(args.port)],
        cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True,
    )  # fmt: skip
    try:
        if not wait_until_ready(f"http://127.0.0.1:{args.port}/health", timeout=120):
            print("the action server did not start", file=sys.stderr)
            return 1
        url = f"http://127.0.0.1:{args.port}/webhook"
        # One warm-up call loads the packs and opens the database, as a first real message does.
        sender, reference = opened[0]
        urllib.request.urlopen(urllib.request.Request(url, json.dumps(tracker(sender, reference)).encode(), {"Content-Type": "application/json"})).read()
        timings = []
        for sender, reference in opened[1:]:
            body = json.dumps(tracker(sender, reference)).encode()
            started = time.perf_counter()
            with urllib.request.urlopen(urllib.request.Request(url, body, {"Content-Type": "application/json"})) as response:
                answer = json.loads(response.read())
            timings.append((time.perf_counter() - started) * 1000)
            if not any(r.get("response") == "utter_escalation_moved" for r in answer["responses"]):
                print(f"unexpected answer for {reference}: {answer['responses'][:1]}", file=sys.stderr)
                return 1
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        server.wait(timeout=30)

    figures = {
        "calls": len(timings),
        "median_ms": round(statistics.median(timings), 1),
        "p90_ms": round(percentile(timings, 0.90), 1),
        "p99_ms": round(percentile(timings, 0.99), 1),
        "max_ms": round(max(timings), 1),
        "database": "SQLite (WAL) on local disk",
    }
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "record_actions.json").write_text(json.dumps(figures, indent=2), encoding="utf-8")
    table = "\n".join(
        [
            "# An action that writes a stage",
            "",
            "`action_advance_escalation` through the action server's `/webhook` (HTTP, loopback): record the",
            "stage's outcome, close it, open the next stage with its due date, write the audit trail.",
            "",
            "| calls | median | p90 | p99 | max |",
            "| --- | --- | --- | --- | --- |",
            f"| {figures['calls']} | {figures['median_ms']} ms | {figures['p90_ms']} ms | {figures['p99_ms']} ms | {figures['max_ms']} ms |",
            "",
            f"Database: {figures['database']}. Command: `python bench/record_actions.py --escalations {args.escalations}`.",
        ]
    )
    (args.out / "record_actions.md").write_text(table + "\n", encoding="utf-8")
    print(table)
    return 0


if __name__ == "__main__":
    sys.exit(main())
