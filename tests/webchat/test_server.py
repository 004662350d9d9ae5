"""The web chat's static-file server (bot/webchat): its files, their types, /config.js, and
nothing outside static/."""

from __future__ import annotations

import http.client
import json
import os
import signal
import subprocess
import sys
import threading
import time
from typing import Iterator

import pytest

from bot.config import PROJECT_ROOT, Settings
from bot.serve import wait_until_ready
from bot.webchat import create_server

WEBCHAT_PORT = 8505  # this suite's port (others use 81xx-84xx)


@pytest.fixture(scope="module")
def settings() -> Settings:
    return Settings.from_env({"BOT_RASA_PORT": "5505", "BOT_WEBCHAT_PORT": str(WEBCHAT_PORT)})


@pytest.fixture(scope="module")
def port(settings: Settings) -> Iterator[int]:
    """The server on a free port, serving in a thread for these tests."""
    server = create_server(settings, port=0)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server.server_address[1]
    finally:
        server.shutdown()
        server.server_close()


def get(port: int, path: str, method: str = "GET") -> tuple[int, dict[str, str], bytes]:
    """A raw request: ``path`` goes on the wire as written (no client-side normalising)."""
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
    try:
        connection.request(method, path)
        response = connection.getresponse()
        return response.status, {k.lower(): v for k, v in response.getheaders()}, response.read()
    finally:
        connection.close()


@pytest.mark.parametrize(
    "path, file, content_type",
    [
        ("/", "index.html", "text/html; charset=utf-8"),
        ("/index.html", "index.html", "text/html; charset=utf-8"),
        ("/chat.js", "chat.js", "text/javascript; charset=utf-8"),
        ("/chat.css", "chat.css", "text/css; charset=utf-8"),
        ("/chat.js?v=2", "chat.js", "text/javascript; charset=utf-8"),
    ],
)
def test_serves_the_page_files_with_their_types(port, path, file, content_type):
    status, headers, body = get(port, path)
    assert status == 200
    assert headers["content-type"] == content_type
    assert body == (PROJECT_ROOT / "bot" / "webchat" / "static" / file).read_bytes()
    assert headers["content-length"] == str(len(body))
    assert headers["x-content-type-options"] == "nosniff"


def test_head_answers_without_a_body(port):
    status, headers, body = get(port, "/chat.css", method="HEAD")
    assert status == 200 and body == b""
    assert int(headers["content-length"]) > 0


def test_config_tells_the_page_where_rasa_is(port, settings):
    status, headers, body = get(port, "/config.js")
    assert status == 200
    assert headers["content-type"] == "text/javascript; charset=utf-8"
    prefix, suffix = "window.WEBCHAT_CONFIG = Object.freeze(", ");\n"
    text = body.decode("utf-8")
    assert text.startswith(prefix) and text.endswith(suffix)
    assert json.loads(text[len(prefix) : -len(suffix)]) == {"rasaUrl": "http://127.0.0.1:5505", "pollSeconds": 10}
    assert settings.rasa_url == "http://127.0.0.1:5505"


def test_the_page_may_talk_only_to_itself_and_rasa(port):
    _, headers, _ = get(port, "/")
    policy = headers["content-security-policy"]
    assert "default-src 'self'" in policy
    assert "connect-src 'self' http://127.0.0.1:5505;" in policy
    assert headers["referrer-policy"] == "no-referrer"


def test_the_page_loads_only_its_own_files():
    html = (PROJECT_ROOT / "bot" / "webchat" / "static" / "index.html").read_text(encoding="utf-8")
    assert "http://" not in html and "https://" not in html  # no CDN
    for name in ('src="/config.js"', 'src="/chat.js"', 'href="/chat.css"', 'aria-live="polite"'):
        assert name in html
    assert "dates of birth" in html


@pytest.mark.parametrize(
    "path",
    [
        "/../bot/config.py",
        "/../../bot/config.py",
        "/%2e%2e/bot/config.py",
        "/%2E%2E/%2E%2E/bot/config.py",
        "/..%2f..%2fbot%2fconfig.py",
        "/..%5c..%5cbot%5cconfig.py",
        "/../__init__.py",
        "/%2e%2e/__main__.py",
        "//etc/passwd",
        "/static/chat.js",
        "/missing.js",
        "/.hidden.js",
        "/chat.js%00.css",
        "/webchat",
    ],
)
def test_nothing_outside_the_page_files_is_served(port, path):
    status, headers, body = get(port, path)
    assert status == 404
    assert body == b"Not found.\n"
    assert b"import" not in body


def test_a_directory_or_unknown_type_is_not_served(tmp_path, settings):
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "page.html").write_text("<p>in a folder</p>")
    (tmp_path / "notes.txt").write_text("not a page file")
    (tmp_path / "index.html").write_text("<p>test page</p>")
    server = create_server(settings, port=0, static_dir=tmp_path)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        port = server.server_address[1]
        assert get(port, "/")[2] == b"<p>test page</p>"
        assert get(port, "/sub/page.html")[0] == 200
        assert get(port, "/sub")[0] == 404
        assert get(port, "/sub/")[0] == 404
        assert get(port, "/notes.txt")[0] == 404
        assert get(port, "/sub/../notes.txt")[0] == 404
    finally:
        server.shutdown()
        server.server_close()


def test_other_methods_are_refused(port):
    status, _, _ = get(port, "/", method="POST")
    assert status == 501


def test_main_serves_on_the_webchat_port_until_sigterm():
    env = {**os.environ, "BOT_RASA_PORT": "5505", "BOT_WEBCHAT_PORT": str(WEBCHAT_PORT),
           "PYTHONPATH": str(PROJECT_ROOT)}  # fmt: skip
    process = subprocess.Popen(
        [sys.executable, "-m", "bot.webchat"], cwd=PROJECT_ROOT, env=env,
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )  # fmt: skip
    try:
        assert wait_until_ready(f"http://127.0.0.1:{WEBCHAT_PORT}/config.js", timeout=20), process.stdout
        assert b"http://127.0.0.1:5505" in get(WEBCHAT_PORT, "/config.js")[2]
        started = time.monotonic()
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=10) == 0
        assert time.monotonic() - started < 10
        assert "Web chat on http://127.0.0.1:8505" in process.stdout.read()
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
