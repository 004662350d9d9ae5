"""Nudges: follow-ups when an escalation's stage reaches its timescale.

``python -m bot nudges run`` (one of the processes ``make serve`` starts) owns an APScheduler 3.9
scheduler with one fixed-id interval job that sweeps the records database (``sweep``); what is
owed is decided by ``plan``; delivery goes through Rasa's HTTP API (``delivery``). The database is
the truth: the scheduler keeps no state of its own, so a restart loses nothing.
"""

from __future__ import annotations

import logging
import signal
from datetime import datetime, timedelta

from bot.clock import LONDON, Clock
from bot.config import Settings

logger = logging.getLogger(__name__)

SWEEP_JOB = "nudge-sweep"


def sweeper_for(settings: Settings, clock: Clock):
    """The sweeper over the settings' database and assistant."""
    from bot.nudges.delivery import RasaDelivery
    from bot.nudges.sweep import Sweeper
    from bot.records.db import open_database

    return Sweeper(open_database(settings), RasaDelivery(settings.rasa_url), clock, settings)


def run(settings: Settings, clock: Clock) -> int:
    """Sweep every ``BOT_NUDGE_INTERVAL_SECONDS`` until SIGTERM / Ctrl+C."""
    from apscheduler.schedulers.blocking import BlockingScheduler
    from apscheduler.triggers.interval import IntervalTrigger

    from bot.records.db import reason, unavailable
    from bot.serve import wait_until_ready

    interval = settings.nudge_interval_seconds
    scheduler = BlockingScheduler(
        timezone=LONDON,
        job_defaults={
            # After a pause (suspended machine, long sweep) run once, not once per missed interval:
            # a sweep catches up with everything owed, so the missed runs add nothing.
            "coalesce": True,
            # A run more than one interval late is skipped: the next one is due as soon.
            "misfire_grace_time": interval,
            "max_instances": 1,
        },
    )

    sweepers: list = []  # the sweeper, once the records database could be opened
    try:
        sweepers.append(sweeper_for(settings, clock))
    except Exception as error:
        if not unavailable(error):
            raise  # a wrong key or URL is not fixed by waiting
        # Started while the database is down (or still starting): the sweeps open it when it is back.
        logger.warning("nudges: the records database is unavailable (%s); each sweep tries again", reason(error))

    def sweep() -> None:
        try:
            if not sweepers:
                sweepers.append(sweeper_for(settings, clock))
            report = sweepers[0].sweep()
        except Exception as error:  # a bad sweep must not stop the next one; the database keeps the state
            if unavailable(error):
                # Down or restarting: whatever was owed is still owed, and whatever a sweep had
                # claimed is taken over when its lease ends, so the next sweep catches up.
                logger.warning("nudge sweep: the records database is unavailable (%s); the next one retries", reason(error))
            else:
                logger.exception("nudge sweep failed; the next one retries")
            return
        if report.recorded or report.sent or report.failed or report.already_delivered or report.obsolete:
            logger.info("nudge sweep: %s", report)

    # Nudges wait for the assistant to answer: the first sweep runs once it does (or after 2 minutes).
    wait_until_ready(f"{settings.rasa_url}/status", timeout=120)
    scheduler.add_job(
        sweep, IntervalTrigger(seconds=interval, timezone=LONDON), id=SWEEP_JOB, name="sweep for due nudges",
        replace_existing=True, next_run_time=datetime.now(LONDON) + timedelta(seconds=1),
    )  # fmt: skip

    def stop(signum, _frame) -> None:
        logger.info("nudges: stopping (signal %s)", signum)
        scheduler.shutdown(wait=True)

    signal.signal(signal.SIGTERM, stop)
    logger.info("nudges: sweeping every %d s, in working hours %s-%s", interval, *settings.nudge_hours)
    try:
        scheduler.start()
    except KeyboardInterrupt:
        pass
    return 0
