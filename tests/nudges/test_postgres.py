"""Two sweepers on one PostgreSQL database: no nudge twice.

Uses ``BOT_TEST_POSTGRES_URL`` (an empty database) when set; otherwise starts a throwaway
PostgreSQL cluster on loopback with the machine's ``initdb`` / ``pg_ctl`` (run as the
``postgres`` user when the tests run as root). Skipped, with the reason, where neither exists.
"""

from __future__ import annotations

import os
import pwd
import shutil
import socket
import subprocess
import threading
from pathlib import Path

import pytest

from bot.config import Settings
from bot.nudges.delivery import RasaDelivery
from bot.nudges.sweep import Sweeper
from bot.records import store
from bot.records.db import open_database
from tests.conftest import london
from tests.nudges.conftest import open_for, register


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture(scope="module")
def postgres_url(tmp_path_factory):
    if os.environ.get("BOT_TEST_POSTGRES_URL"):
        yield os.environ["BOT_TEST_POSTGRES_URL"]
        return
    initdb, pg_ctl = shutil.which("initdb"), shutil.which("pg_ctl")
    if not (initdb and pg_ctl):
        pytest.skip("no PostgreSQL here: set BOT_TEST_POSTGRES_URL or install initdb/pg_ctl")
    as_user: list[str] = []
    data = tmp_path_factory.mktemp("pg")
    if os.geteuid() == 0:  # PostgreSQL refuses to run as root
        try:
            owner = pwd.getpwnam("postgres")
        except KeyError:
            pytest.skip("running as root and there is no 'postgres' user to run PostgreSQL as")
        as_user = ["runuser", "-u", "postgres", "--"]
        for path in (data, *data.parents):
            if path == Path("/"):
                break
            os.chmod(path, os.stat(path).st_mode | 0o011)  # let the postgres user reach its directory
        os.chown(data, owner.pw_uid, owner.pw_gid)
    port = _free_port()
    subprocess.run([*as_user, initdb, "-D", str(data / "db"), "-U", "bot", "--auth=trust", "-E", "UTF8"],
                   check=True, capture_output=True)  # fmt: skip
    subprocess.run(
        [*as_user, pg_ctl, "-D", str(data / "db"), "-w", "-l", str(data / "log"),
         "-o", f"-p {port} -k {data} -c listen_addresses=127.0.0.1", "start"],
        check=True, capture_output=True,
    )  # fmt: skip
    try:
        yield f"postgresql://bot@127.0.0.1:{port}/postgres"
    finally:
        subprocess.run([*as_user, pg_ctl, "-D", str(data / "db"), "-m", "fast", "stop"], capture_output=True)


def test_two_sweepers_on_one_postgresql_database_never_send_twice(postgres_url, tmp_path, library, clock, rasa):
    settings = Settings.from_env({"BOT_VAR_DIR": str(tmp_path / "var"), "BOT_DATABASE_URL": postgres_url})
    first, second = open_database(settings), open_database(settings)
    try:
        with first.session() as session:
            for number in range(30):
                me = register(session, f"pg-practitioner-{number:02}", manager="pg-manager", now=clock())
                escalation = open_for(session, library, me, "south-tyneside", london(2026, 11, 23, 10))
                store.escalate(session, escalation=escalation, person=me, now=london(2026, 11, 23, 11))
        clock.now = london(2026, 11, 25, 10)
        sweepers = [Sweeper(db, RasaDelivery(rasa.url, timeout=5), clock, settings) for db in (first, second)]
        start, reports = threading.Barrier(2), []

        def run(sweeper):
            start.wait()
            reports.append(sweeper.sweep())

        threads = [threading.Thread(target=run, args=(s,)) for s in sweepers]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=120)
        delivered = rasa.nudges()
        assert len(delivered) == len(set(delivered)) == 60
        assert sum(r.sent for r in reports) == 60 and sum(r.recorded for r in reports) == 60
        assert sweepers[0].sweep().sent == 0  # and nothing left over
    finally:
        first.dispose()
        second.dispose()
