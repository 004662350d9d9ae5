"""The terminal chat's rendering of replies and buttons."""

from __future__ import annotations

from bot.chat import render


def test_render_numbers_buttons_across_replies():
    text, buttons = render(
        [
            {"text": "First line\nSecond line"},
            {"text": "Which one?", "buttons": [{"title": "A", "payload": "/a"}, {"title": "B", "payload": "/b"}]},
        ]
    )
    assert text.splitlines() == ["bot> First line", "bot> Second line", "bot> Which one?", "bot>   [1] A", "bot>   [2] B"]
    assert [b["payload"] for b in buttons] == ["/a", "/b"]


def test_render_wraps_long_lines():
    text, _ = render([{"text": "word " * 40}], width=40)
    assert all(len(line) <= 45 for line in text.splitlines())
    assert len(text.splitlines()) > 1


def test_render_shows_an_attachment_as_a_file():
    text, _ = render([{"attachment": {"type": "file", "name": "ESC-7K2P9Q-escalation-summary.docx", "path": "/var/x.docx"}}])
    assert text == "bot> 📎 ESC-7K2P9Q-escalation-summary.docx: /var/x.docx"


def test_nudges_that_arrived_in_the_conversation_are_found_once(tmp_path):
    import json
    import threading
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

    from bot.chat import nudges_since

    events = [
        {"event": "user", "timestamp": 1.0, "parse_data": {"intent": {"name": "greet"}}},
        {"event": "bot", "timestamp": 1.1, "text": "Hello"},
        {"event": "user", "timestamp": 2.0, "parse_data": {"intent": {"name": "EXTERNAL_nudge"}}},
        {"event": "bot", "timestamp": 2.1, "text": "⏰ ESC-7K2P9Q: Level 2 is due today.",
         "data": {"buttons": [{"title": "Resolved", "payload": "/resolved"}]}},
    ]

    class Tracker(BaseHTTPRequestHandler):
        def log_message(self, *args):
            pass

        def do_GET(self):
            assert self.path == "/conversations/terminal-1/tracker"
            body = json.dumps({"events": events}).encode()
            self.send_response(200)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

    server = ThreadingHTTPServer(("127.0.0.1", 0), Tracker)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    url = f"http://127.0.0.1:{server.server_address[1]}"
    try:
        seen: set[float] = set()
        found = nudges_since(url, "terminal-1", seen)
        assert found == [{"text": "⏰ ESC-7K2P9Q: Level 2 is due today.", "buttons": [{"title": "Resolved", "payload": "/resolved"}]}]
        assert nudges_since(url, "terminal-1", seen) == []
    finally:
        server.shutdown()
