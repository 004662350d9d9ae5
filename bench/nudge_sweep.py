"""How long a nudge sweep takes over 10,000 open escalations, and the delay from due to sent.

``python bench/nudge_sweep.py`` builds a SQLite records database (temporary directory, real
migrations) with 10,000 open escalations spread over the five partnerships and their stages
(practitioners with line managers), then, with the clock injected:

* **steady sweep**: the sweep every ``BOT_NUDGE_INTERVAL_SECONDS`` when nothing new is owed (the
  common case): plan over every open escalation, compare with the stored nudges, claim nothing;
* **busy sweep**: the sweep at 09:00 on a day when 1,000 stages fall due (practitioner and manager
  nudges recorded, claimed and delivered over HTTP to a local fake of Rasa's API);
* **delay from due to sent**: a nudge is owed from 09:00 of its due date; the scheduler sweeps
  every interval, so the worst delay is one interval plus the busy sweep's time to reach the last
  nudge; the measured per-nudge delivery time is reported.

Results go to ``bench/results/nudge_sweep.md`` and ``.json``. Target: a sweep under 1 s.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from datetime import datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from sqlalchemy import insert  # noqa: E402

from bot.clock import LONDON  # noqa: E402
from bot.config import Settings  # noqa: E402
from bot.nudges.delivery import RasaDelivery  # noqa: E402
from bot.nudges.sweep import Sweeper  # noqa: E402
from bot.procedures.loader import load_library  # noqa: E402
from bot.procedures.timescales import calendar_for  # noqa: E402
from bot.records import store  # noqa: E402
from bot.records.db import open_database  # noqa: E402
from bot.records.models import Escalation, StageEntry  # noqa: E402
from tests.nudges.fake_rasa import FakeRasa  # noqa: E402

OPENED = datetime(2026, 11, 2, 10, tzinfo=LONDON)  # Monday
TARGET_SECONDS = 1.0


def build(database, library, count: int, due_today: int, today) -> None:
    """``count`` open escalations; ``due_today`` of them due ``today``, the rest later."""
    calendar = calendar_for("ENG")
    with database.session() as session:
        versions = {p.id: store.procedure_version(session, pack=p, now=OPENED).fingerprint for p in library}
        manager = store.person_for(session, channel="rest", channel_id="manager-0", now=OPENED)
        people = []
        for number in range(200):
            person = store.person_for(session, channel="rest", channel_id=f"practitioner-{number}", now=OPENED)
            person.line_manager_id = manager.id
            people.append(person.id)
        session.flush()
        summary = store.clean_text("The referral was judged below threshold.", "summary")
        encrypted = Escalation.__table__.c.summary.type.process_bind_param(summary, None)
        packs = list(library)
        escalations, stages = [], []
        for number in range(count):
            pack = packs[number % len(packs)]
            index = number % len(pack.stages)
            due = today if number < due_today else calendar.add_working_days(today, 3 + number % 10)
            escalations.append({
                "id": number + 1, "reference": f"ESC-B{number:05}", "partnership": pack.id,
                "procedure_fingerprint": versions[pack.id], "subject": pack.covers[0].value,
                "case_reference": f"CSC-{number:06}", "raised_by_id": people[number % len(people)],
                "other_agency": "Children's social care", "agencies": ["Children's social care"],
                "category": "levels-of-need", "summary": encrypted, "desired_outcome": encrypted,
                "status": "open", "opened_at": OPENED, "updated_at": OPENED, "version_id": 1,
            })  # fmt: skip
            for at in range(index + 1):
                stages.append({
                    "escalation_id": number + 1, "index": at, "key": pack.stages[at].key,
                    "title": pack.stages[at].title, "started_at": OPENED, "due_basis": "stage_timescale",
                    "due_on": due if at == index else OPENED.date(), "closed_at": None if at == index else OPENED,
                    "resolved": None if at == index else False,
                })  # fmt: skip
        session.execute(insert(Escalation), escalations)
        session.execute(insert(StageEntry), stages)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--escalations", type=int, default=10_000)
    parser.add_argument("--due", type=int, default=1_000)
    parser.add_argument("--steady-runs", type=int, default=10)
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "results")
    args = parser.parse_args(argv)

    library = load_library(Settings().packs_dir)
    with tempfile.TemporaryDirectory() as var, FakeRasa() as rasa:
        settings = Settings.from_env({"BOT_VAR_DIR": var})
        database = open_database(settings)
        due_day = datetime(2026, 11, 24, 9, 0, tzinfo=LONDON)
        started = time.perf_counter()
        build(database, library, args.escalations, args.due, due_day.date())
        print(f"built {args.escalations} open escalations in {time.perf_counter() - started:.1f} s")
        moment = [due_day - timedelta(minutes=30)]  # 08:30: nothing is sent before working hours
        sweeper = Sweeper(database, RasaDelivery(rasa.url), lambda: moment[0], settings)

        moment[0] = due_day
        started = time.perf_counter()
        busy = sweeper.sweep()
        busy_seconds = time.perf_counter() - started
        print(f"busy sweep at 09:00: {busy} in {busy_seconds:.2f} s")

        steady = []
        for run in range(args.steady_runs):
            moment[0] = due_day + timedelta(minutes=run + 1)
            started = time.perf_counter()
            report = sweeper.sweep()
            steady.append(time.perf_counter() - started)
            assert report.recorded == report.sent == 0, report
        delivered = len(rasa.nudges())
        database.dispose()

    per_nudge_ms = busy_seconds / max(busy.sent, 1) * 1000
    interval = Settings().nudge_interval_seconds
    result = {
        "open_escalations": args.escalations,
        "due_today": args.due,
        "nudges_sent_in_busy_sweep": busy.sent,
        "delivered_to_fake_rasa": delivered,
        "busy_sweep_seconds": round(busy_seconds, 3),
        "steady_sweep_seconds_median": round(statistics.median(steady), 3),
        "steady_sweep_seconds_max": round(max(steady), 3),
        "per_nudge_delivery_ms": round(per_nudge_ms, 2),
        "sweep_interval_seconds": interval,
        "worst_delay_due_to_sent_seconds": round(interval + busy_seconds, 1),
        "target_sweep_seconds": TARGET_SECONDS,
    }
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "nudge_sweep.json").write_text(json.dumps(result, indent=2) + "\n")
    (args.out / "nudge_sweep.md").write_text("\n".join([
        "# Nudge sweep over open escalations", "",
        f"{args.escalations:,} open escalations (five partnerships, every stage), SQLite, 2-core machine.", "",
        "| measure | value |", "| --- | --- |",
        f"| steady sweep (nothing new owed), median of {args.steady_runs} | {result['steady_sweep_seconds_median']} s |",
        f"| steady sweep, slowest | {result['steady_sweep_seconds_max']} s |",
        f"| busy sweep at 09:00 ({args.due:,} stages due: {busy.sent:,} nudges recorded, claimed, delivered over HTTP) | {result['busy_sweep_seconds']} s |",
        f"| delivery per nudge (conversation checked, then triggered) | {result['per_nudge_delivery_ms']} ms |",
        f"| worst delay from due (09:00) to sent: one interval ({interval} s) + the busy sweep | {result['worst_delay_due_to_sent_seconds']} s |",
        "", f"Target: a sweep under {TARGET_SECONDS:.0f} s.", "",
    ]))  # fmt: skip
    print(json.dumps(result, indent=2))
    return 0 if result["steady_sweep_seconds_max"] < TARGET_SECONDS else 1


if __name__ == "__main__":
    raise SystemExit(main())
