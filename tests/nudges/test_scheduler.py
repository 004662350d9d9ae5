"""The scheduler process (``python -m bot nudges run``) started while the records database cannot
be opened: it keeps running, says so in its log, and opens the database once it can."""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from bot.config import PROJECT_ROOT


class Status(BaseHTTPRequestHandler):
    """Rasa's ``/status`` answering, so the scheduler starts sweeping at once."""

    def log_message(self, *args) -> None:
        pass

    def do_GET(self) -> None:
        self.send_response(200)
        self.send_header("Content-Length", "2")
        self.end_headers()
        self.wfile.write(b"{}")


@pytest.fixture
def rasa_status():
    server = ThreadingHTTPServer(("127.0.0.1", 0), Status)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield server.server_address[1]
    server.shutdown()
    server.server_close()


def wait_for(condition, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.25)
    return False


def migrated(path) -> bool:
    if not path.is_file():
        return False
    try:
        with sqlite3.connect(path) as connection:
            return connection.execute("SELECT count(*) FROM alembic_version").fetchone()[0] == 1
    except sqlite3.Error:
        return False


def test_started_while_the_database_cannot_be_opened_it_waits_for_it(tmp_path, rasa_status):
    var = tmp_path / "var"
    records = var / "records.db"
    records.mkdir(parents=True)  # a directory where the file should be: SQLite cannot open it
    log = tmp_path / "nudges.log"
    env = {
        **os.environ, "BOT_VAR_DIR": str(var), "BOT_RASA_PORT": str(rasa_status), "BOT_NUDGE_INTERVAL_SECONDS": "1",
        "BOT_NOW": "2026-11-23T10:00:00+00:00",
    }  # fmt: skip
    with log.open("w") as out:
        process = subprocess.Popen([sys.executable, "-m", "bot", "nudges", "run"], cwd=PROJECT_ROOT, env=env,
                                   stdout=out, stderr=subprocess.STDOUT, start_new_session=True)  # fmt: skip
    try:
        assert wait_for(lambda: "nudge sweep: the records database is unavailable" in log.read_text(), 60), log.read_text()
        assert process.poll() is None, log.read_text()
        records.rmdir()  # the database can be opened now
        assert wait_for(lambda: migrated(records), 30), log.read_text()
        time.sleep(2)  # a sweep or two on the database
        assert process.poll() is None
        assert "Traceback" not in log.read_text()
    finally:
        os.killpg(process.pid, signal.SIGTERM)
        process.wait(timeout=30)
