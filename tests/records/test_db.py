"""The records database's engine: which errors mean "unavailable just now", nothing of a case in
an error, and recovery by itself after PostgreSQL restarts (on a throwaway cluster of this
module's own, which it stops and starts; skipped with the reason where there is no PostgreSQL)."""

from __future__ import annotations

import os
import pwd
import shutil
import socket
import subprocess
from pathlib import Path

import pytest
from sqlalchemy import text
from sqlalchemy.exc import IntegrityError, OperationalError

from bot.clock import frozen_clock
from bot.config import Settings
from bot.dialogue import Assistant
from bot.escalations import Caller, Desk
from bot.records import store
from bot.records.db import make_engine, open_database, reason, unavailable
from bot.triage import Thresholds
from tests.conftest import london

ME = Caller(channel="rest", sender="practitioner-db")


def test_a_refused_connection_is_unavailable_with_the_drivers_reason():
    engine = make_engine("postgresql://bot@127.0.0.1:9/records")  # nothing listens on the discard port
    with pytest.raises(OperationalError) as raised:
        engine.connect()
    assert unavailable(raised.value)
    assert "refused" in reason(raised.value).lower() and "SELECT" not in reason(raised.value)
    engine.dispose()


def test_an_integrity_error_is_not_unavailable_and_shows_no_values(tmp_path):
    engine = make_engine(f"sqlite:///{tmp_path / 'x.db'}")
    with engine.begin() as connection:
        connection.execute(text("CREATE TABLE cases (reference TEXT UNIQUE)"))
        connection.execute(text("INSERT INTO cases VALUES (:reference)"), {"reference": "CSC-204518"})
    with pytest.raises(IntegrityError) as raised, engine.begin() as connection:
        connection.execute(text("INSERT INTO cases VALUES (:reference)"), {"reference": "CSC-204518"})
    assert not unavailable(raised.value)
    assert "CSC-204518" not in str(raised.value)  # statement parameters are hidden from errors and logs
    engine.dispose()


def test_a_database_that_cannot_be_opened_is_unavailable(tmp_path):
    (tmp_path / "records.db").mkdir()  # a directory where the file should be
    with pytest.raises(OperationalError) as raised:
        open_database(Settings.from_env({"BOT_VAR_DIR": str(tmp_path)}))
    assert unavailable(raised.value)


class Cluster:
    """A throwaway PostgreSQL cluster on loopback that the test can stop and start."""

    def __init__(self, directory: Path) -> None:
        self.initdb, self.pg_ctl = shutil.which("initdb"), shutil.which("pg_ctl")
        if not (self.initdb and self.pg_ctl):
            pytest.skip("no PostgreSQL here: initdb and pg_ctl are not on PATH")
        self.as_user: list[str] = []
        if os.geteuid() == 0:  # PostgreSQL refuses to run as root
            try:
                owner = pwd.getpwnam("postgres")
            except KeyError:
                pytest.skip("running as root and there is no 'postgres' user to run PostgreSQL as")
            self.as_user = ["runuser", "-u", "postgres", "--"]
            for path in directory.parents:
                if path == Path("/"):
                    break
                os.chmod(path, os.stat(path).st_mode | 0o011)  # let the postgres user reach its directory
            os.chown(directory, owner.pw_uid, owner.pw_gid)
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            self.port = probe.getsockname()[1]
        self.directory, self.data = directory, directory / "data"
        made = subprocess.run([*self.as_user, self.initdb, "-D", str(self.data), "-U", "bot", "--auth=trust", "-E", "UTF8",
                               "--no-sync"], capture_output=True, text=True)  # fmt: skip
        if made.returncode != 0:
            pytest.skip(f"initdb failed: {made.stderr.strip()[-300:]}")
        self.url = f"postgresql://bot@127.0.0.1:{self.port}/postgres"

    def pg_ctl_run(self, *arguments: str) -> None:
        subprocess.run([*self.as_user, self.pg_ctl, "-D", str(self.data), "-w", *arguments], check=True, capture_output=True)

    def start(self) -> None:
        options = f"-p {self.port} -k {self.directory} -c listen_addresses=127.0.0.1 -c fsync=off"
        self.pg_ctl_run("-l", str(self.directory / "log"), "-o", options, "start")

    def stop(self) -> None:
        self.pg_ctl_run("-m", "fast", "stop")  # as an operator restarting it: sessions are cut off


@pytest.fixture
def cluster(tmp_path):
    directory = tmp_path / "pg"
    directory.mkdir()
    cluster = Cluster(directory)
    cluster.start()
    yield cluster
    subprocess.run([*cluster.as_user, cluster.pg_ctl, "-D", str(cluster.data), "-m", "immediate", "stop"], capture_output=True)


def test_after_postgresql_restarts_the_same_engine_works_again_and_nothing_was_half_written(cluster, tmp_path, library):
    settings = Settings.from_env({"BOT_VAR_DIR": str(tmp_path / "var"), "BOT_DATABASE_URL": cluster.url})
    database = open_database(settings)
    desk = Desk(Assistant(library, frozen_clock(london(2026, 11, 23, 10)), Thresholds()), database, settings.documents_dir)
    slots = {
        "partnership": "south-tyneside", "subject": "children", "case_reference": "CSC-204518", "other_agency": "CSC",
        "category": "risk", "summary": "The risk was judged lower than the evidence shows.",
        "desired_outcome": "A strategy discussion.", "evidence": "skip", "my_agency": "Health visiting", "my_role": "Health visitor",
    }  # fmt: skip
    reference = desk.open(ME, slots).slots["escalation_ref"]
    outcome = {"escalation_ref": reference, "stage": 0.0, "stage_outcome": "No agreement.", "key_points_in_writing": True,
               "outcome_kind": "not_resolved"}  # fmt: skip
    try:
        cluster.stop()  # the pool's connections are now dead
        with pytest.raises(Exception) as raised:
            desk.advance(ME, outcome)
        assert unavailable(raised.value), raised.value
        cluster.start()
        # Nothing disposed or restarted: the pool finds its dead connections and replaces them.
        moved = desk.advance(ME, outcome)
        assert moved.replies[0].response == "utter_escalation_moved"
        with database.session() as session:
            escalation = store.find(session, reference=reference, person=None)
            assert [s.index for s in escalation.stages] == [0, 1]
            actions = [e.action for e in store.audit_trail(session, reference=reference)]
        assert actions == ["escalation.opened", "stage.recorded", "stage.escalated"]
    finally:
        database.dispose()


def test_only_a_failure_of_commit_itself_is_uncertain(database):
    from sqlalchemy import event
    from sqlalchemy.orm import Session

    from bot.records.db import CommitUncertain

    dropped = OperationalError("SELECT 1", {}, Exception("server closed the connection unexpectedly"))
    with pytest.raises(OperationalError):  # inside the unit of work: rolled back, said as such
        with database.session():
            raise dropped

    def commit_lost(session):
        raise OperationalError("COMMIT", {}, Exception("server closed the connection unexpectedly"))

    event.listen(Session, "before_commit", commit_lost)
    try:
        with pytest.raises(CommitUncertain) as raised:
            with database.session() as session:
                session.execute(text("SELECT 1"))
    finally:
        event.remove(Session, "before_commit", commit_lost)
    assert unavailable(raised.value) and "server closed the connection" in str(raised.value)
