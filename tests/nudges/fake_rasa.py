"""A local fake of the two Rasa HTTP endpoints nudges use, recording what it received.

``POST /conversations/<id>/trigger_intent`` appends the ``user`` event Rasa would (the intent with
its entities) to that conversation; ``GET /conversations/<id>/tracker`` returns its events. Modes
make it fail (HTTP 500), or hang before or after applying a trigger, so that a sweeper process
can be killed mid-send while the fake, in a thread of the test, lives on.
"""

from __future__ import annotations

import json
import threading
import time
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

NORMAL, FAIL, HANG_BEFORE, HANG_AFTER = "normal", "fail", "hang-before", "hang-after"


class _State:
    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.events: dict[str, list[dict]] = {}
        self.triggers: list[tuple[str, dict]] = []  # every trigger_intent body received, applied or not
        self.mode = NORMAL


def handler_for(state: _State):
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args) -> None:  # quiet
            pass

        def _reply(self, status: int, body: dict) -> None:
            data = json.dumps(body).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def _conversation(self) -> tuple[str, str]:
            path = urllib.parse.urlparse(self.path).path
            parts = path.strip("/").split("/")
            if len(parts) != 3 or parts[0] != "conversations":
                return "", ""
            return urllib.parse.unquote(parts[1]), parts[2]

        def do_GET(self) -> None:
            sender, what = self._conversation()
            if what != "tracker":
                return self._reply(404, {"error": "not found"})
            with state.lock:
                events = list(state.events.get(sender, []))
            self._reply(200, {"sender_id": sender, "events": events})

        def do_POST(self) -> None:
            sender, what = self._conversation()
            length = int(self.headers.get("Content-Length") or 0)
            body = json.loads(self.rfile.read(length) or b"{}")
            if what != "trigger_intent":
                return self._reply(404, {"error": "not found"})
            with state.lock:
                state.triggers.append((sender, body))
                mode = state.mode
            if mode == FAIL:
                return self._reply(500, {"error": "the assistant is unwell"})
            if mode == HANG_BEFORE:
                time.sleep(3600)
            entities = [{"entity": name, "value": value} for name, value in (body.get("entities") or {}).items()]
            event = {"event": "user", "parse_data": {"intent": {"name": body["name"]}, "entities": entities}}
            with state.lock:
                state.events.setdefault(sender, []).append(event)
            if mode == HANG_AFTER:
                time.sleep(3600)
            self._reply(200, {"tracker": {"sender_id": sender}, "messages": [{"recipient_id": sender, "text": "nudged"}]})

    return Handler


class FakeRasa:
    """The fake in a thread of the test process."""

    def __init__(self) -> None:
        self.state = _State()
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), handler_for(self.state))
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self) -> "FakeRasa":
        self.thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.server.shutdown()
        self.server.server_close()

    @property
    def mode(self) -> str:
        return self.state.mode

    @mode.setter
    def mode(self, value: str) -> None:
        self.state.mode = value

    def nudges(self, sender: str | None = None) -> list[tuple[str, str]]:
        """(conversation, nudge key) of every nudge applied, in order."""
        with self.state.lock:
            return [
                (who, entity["value"])
                for who, events in self.state.events.items()
                if sender is None or who == sender
                for event in events
                for entity in event["parse_data"]["entities"]
                if entity["entity"] == "nudge"
            ]

