"""The web chat: a small static-file server for a phone-sized chat page that talks to Rasa's REST
channel from the browser.

``main(settings)`` serves ``static/`` on ``127.0.0.1:BOT_WEBCHAT_PORT`` (``settings.webchat_url``)
until SIGINT or SIGTERM. Besides the page's own files there is one generated file, ``/config.js``,
which tells the page where the Rasa server is (``settings.rasa_url``); Rasa allows the page's
origin with ``--cors`` (``bot/serve.py``). Nothing else is served: no directory listings, no file
outside ``static/``, no external network, no build step.
"""

from __future__ import annotations

import json
import logging
import signal
import threading
from functools import partial
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import unquote, urlsplit

from bot.config import Settings

logger = logging.getLogger(__name__)

STATIC_DIR = Path(__file__).resolve().parent / "static"
HOST = "127.0.0.1"
POLL_SECONDS = 10

CONTENT_TYPES = {
    ".html": "text/html; charset=utf-8",
    ".js": "text/javascript; charset=utf-8",
    ".css": "text/css; charset=utf-8",
    ".svg": "image/svg+xml",
    ".png": "image/png",
    ".ico": "image/x-icon",
}


def page_config(settings: Settings, poll_seconds: float = POLL_SECONDS) -> dict:
    """What the page needs to know: where the assistant is, how often to look for nudges."""
    return {"rasaUrl": settings.rasa_url, "pollSeconds": poll_seconds}


def config_script(config: dict) -> bytes:
    """``/config.js``: the page's settings as one global, ``window.WEBCHAT_CONFIG``."""
    # `</` is escaped so a setting can never close a script element if inlined later.
    body = json.dumps(config).replace("</", "<\\/")
    return f"window.WEBCHAT_CONFIG = Object.freeze({body});\n".encode("utf-8")


def security_headers(settings: Settings) -> dict[str, str]:
    """Headers on every answer: the page may only load its own files and talk to the Rasa server."""
    return {
        "Content-Security-Policy": (
            "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
            f"connect-src 'self' {settings.rasa_url}; base-uri 'none'; form-action 'none'; "
            "frame-ancestors 'none'"
        ),
        "X-Content-Type-Options": "nosniff",
        "Referrer-Policy": "no-referrer",
        "X-Frame-Options": "DENY",
        "Cache-Control": "no-cache",
    }


def static_file(static_dir: Path, path: str) -> Path | None:
    """The file under ``static_dir`` that ``path`` names, or None: never a file outside it, a
    directory, a dotfile or a type not in ``CONTENT_TYPES``."""
    if path in ("", "/"):
        path = "/index.html"
    parts = path.split("/")[1:]
    if not parts or any(part in ("", ".", "..") or part.startswith(".") or "\\" in part or "\0" in part for part in parts):
        return None
    root = static_dir.resolve()
    candidate = root.joinpath(*parts).resolve()
    if root not in candidate.parents or not candidate.is_file() or candidate.suffix not in CONTENT_TYPES:
        return None
    return candidate


class WebchatHandler(BaseHTTPRequestHandler):
    """GET and HEAD for the page's files and ``/config.js``; 404 for anything else."""

    server_version = "webchat"
    sys_version = ""

    def __init__(self, *args, settings: Settings, static_dir: Path, config: dict, **kwargs) -> None:
        self.settings = settings
        self.config = config
        self.static_dir = static_dir
        super().__init__(*args, **kwargs)

    def do_GET(self) -> None:  # noqa: N802 (the standard library's name)
        self._answer(with_body=True)

    def do_HEAD(self) -> None:  # noqa: N802
        self._answer(with_body=False)

    def _answer(self, with_body: bool) -> None:
        path = unquote(urlsplit(self.path).path)
        if path == "/config.js":
            self._send(HTTPStatus.OK, CONTENT_TYPES[".js"], config_script(self.config), with_body)
            return
        file = self.static_file(path)
        if file is None:
            self._send(HTTPStatus.NOT_FOUND, "text/plain; charset=utf-8", b"Not found.\n", with_body)
            return
        self._send(HTTPStatus.OK, CONTENT_TYPES[file.suffix], file.read_bytes(), with_body)

    def static_file(self, path: str) -> Path | None:
        return static_file(self.static_dir, path)

    def _send(self, status: HTTPStatus, content_type: str, body: bytes, with_body: bool) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        for name, value in security_headers(self.settings).items():
            self.send_header(name, value)
        self.end_headers()
        if with_body:
            self.wfile.write(body)

    def log_message(self, format: str, *args) -> None:  # noqa: A002 (the standard library's name)
        # Paths only, never message text (the page never puts any in a URL); quiet below DEBUG.
        logger.debug("%s %s", self.address_string(), format % args)


def create_server(
    settings: Settings, port: int | None = None, static_dir: Path = STATIC_DIR, poll_seconds: float = POLL_SECONDS
) -> ThreadingHTTPServer:
    """The web chat's server bound to ``127.0.0.1`` (``port``: default ``settings.webchat_port``,
    0 for any free port), not yet serving; the page looks for nudges every ``poll_seconds``."""
    config = page_config(settings, poll_seconds)
    handler = partial(WebchatHandler, settings=settings, static_dir=static_dir, config=config)
    server = ThreadingHTTPServer((HOST, settings.webchat_port if port is None else port), handler)
    server.daemon_threads = True
    return server


def main(settings: Settings) -> int:
    """Serve the web chat until SIGINT or SIGTERM; 0 when stopped by a signal."""
    try:
        server = create_server(settings)
    except OSError as error:
        logger.error("The web chat cannot listen on %s:%s (%s): set BOT_WEBCHAT_PORT to a free port.",
                     HOST, settings.webchat_port, error.strerror)  # fmt: skip
        return 1
    stop = threading.Event()
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, lambda *_: stop.set())
    thread = threading.Thread(target=server.serve_forever, name="webchat", daemon=True)
    thread.start()
    print(f"Web chat on {settings.webchat_url} (talking to {settings.rasa_url}).", flush=True)
    try:
        stop.wait()
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)
    return 0
