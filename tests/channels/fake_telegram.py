"""A fake of Telegram's Bot API on loopback, for driving the real python-telegram-bot client.

``FakeTelegram`` serves ``http://127.0.0.1:PORT/bot<token>/<method>`` from a thread (point
``Bot(base_url=fake.api_url)`` or ``BOT_TELEGRAM_API_URL`` at ``fake.api_url``). It records every
call with its parameters (form fields as python-telegram-bot sends them, ``reply_markup``
decoded; uploaded files with their name and bytes), queues updates for ``getUpdates`` (a real
long poll: it waits up to ``timeout`` seconds for one), and can answer the next N calls of a
method with a 429 ``retry_after``.
"""

from __future__ import annotations

import dataclasses
import email.parser
import email.policy
import itertools
import json
import threading
import time
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Callable, Dict, List, Optional

TOKEN = "123456:TEST"
BOT_USER = {"id": 123456, "is_bot": True, "first_name": "Safeguarding", "username": "safeguarding_test_bot"}


@dataclasses.dataclass
class Upload:
    filename: str
    content: bytes
    content_type: str


@dataclasses.dataclass
class Call:
    """One request the fake received."""

    method: str
    params: Dict[str, Any]
    files: Dict[str, Upload]
    at: float

    @property
    def chat_id(self) -> str:
        return str(self.params.get("chat_id", ""))

    @property
    def keyboard(self) -> List[Dict[str, str]]:
        """The inline keyboard's buttons, row by row flattened: [{"text", "callback_data"}]."""
        markup = self.params.get("reply_markup") or {}
        return [button for row in markup.get("inline_keyboard", []) for button in row]


class FakeTelegram:
    """The Bot API's fake; use as a context manager, or ``start()`` / ``stop()``."""

    def __init__(self, token: str = TOKEN) -> None:
        self.token = token
        self.calls: List[Call] = []
        self._updates: List[Dict[str, Any]] = []
        self._update_ids = itertools.count(1000)
        self._message_ids = itertools.count(1)
        self._failures: Dict[str, List[int]] = {}  # method -> retry_after of the next answers
        self._changed = threading.Condition()
        self._stopping = False
        self.confirmed_offset = 0  # getUpdates' highest offset seen: earlier updates are gone
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    @property
    def api_url(self) -> str:
        """python-telegram-bot's ``base_url`` (the token is appended to it)."""
        return f"{self.url}/bot"

    def start(self) -> "FakeTelegram":
        self._thread.start()
        return self

    def stop(self) -> None:
        with self._changed:
            self._stopping = True
            self._changed.notify_all()
        self._server.shutdown()
        self._server.server_close()

    def __enter__(self) -> "FakeTelegram":
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # What the test does ------------------------------------------------------------------------

    def queue(self, update: Dict[str, Any]) -> int:
        """Queue an update (its ``update_id`` is given here) for getUpdates; its id."""
        with self._changed:
            update = {"update_id": next(self._update_ids), **update}
            self._updates.append(update)
            self._changed.notify_all()
        return update["update_id"]

    def user_says(self, chat_id: int, text: str, chat_type: str = "private") -> int:
        """A person types ``text`` in a chat with the bot; the update's id."""
        return self.queue({"message": self.message(chat_id, text, chat_type)})

    def user_presses(self, chat_id: int, callback_data: str, message_id: int = 1) -> int:
        """A person presses an inline button under the bot's message ``message_id``."""
        query = {
            "id": f"q{next(self._message_ids)}",
            "from": self.user(chat_id),
            "chat_instance": f"ci{chat_id}",
            "data": callback_data,
            "message": {**self.message(chat_id, "(the bot's message)"), "message_id": message_id, "from": BOT_USER},
        }
        return self.queue({"callback_query": query})

    def fail_next(self, method: str, times: int, retry_after: int = 1) -> None:
        """Answer the next ``times`` calls of ``method`` with 429 Too Many Requests."""
        with self._changed:
            self._failures[method] = [retry_after] * times

    @staticmethod
    def user(chat_id: int) -> Dict[str, Any]:
        return {"id": chat_id, "is_bot": False, "first_name": "Test", "language_code": "en"}

    def message(self, chat_id: int, text: str, chat_type: str = "private") -> Dict[str, Any]:
        chat = {"id": chat_id, "type": chat_type}
        if chat_type == "private":
            chat["first_name"] = "Test"
        else:
            chat["title"] = "A group"
        return {
            "message_id": next(self._message_ids),
            "date": int(time.time()),
            "chat": chat,
            "from": self.user(abs(chat_id)),
            "text": text,
        }

    def made(self, method: str, chat_id: Optional[int] = None) -> List[Call]:
        """The calls of ``method`` received so far (to ``chat_id``, if given)."""
        with self._changed:
            return [
                c for c in self.calls if c.method == method and (chat_id is None or c.chat_id == str(chat_id))
            ]

    def sent(self, chat_id: int) -> List[Call]:
        """Messages and documents sent to ``chat_id``, in order."""
        with self._changed:
            return [c for c in self.calls if c.method in ("sendMessage", "sendDocument") and c.chat_id == str(chat_id)]

    def wait_until(self, condition: Callable[[], bool], timeout: float = 30.0) -> None:
        """Block until ``condition()`` holds (re-checked at every call received)."""
        deadline = time.monotonic() + timeout
        with self._changed:
            while not condition():
                left = deadline - time.monotonic()
                if left <= 0:
                    raise AssertionError("the fake Telegram did not see what was expected in time")
                self._changed.wait(min(left, 0.2))

    # Serving -----------------------------------------------------------------------------------

    def _handler(self) -> type:
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, format: str, *args: Any) -> None:  # quiet
                pass

            def do_POST(self) -> None:
                self._answer(*fake._call(self.path, self.headers.get("Content-Type", ""), self._body()))

            def do_GET(self) -> None:
                self._answer(*fake._call(self.path, "", b""))

            def _body(self) -> bytes:
                return self.rfile.read(int(self.headers.get("Content-Length") or 0))

            def _answer(self, status: int, body: Dict[str, Any]) -> None:
                data = json.dumps(body).encode()
                try:
                    self.send_response(status)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(data)))
                    self.end_headers()
                    self.wfile.write(data)
                except (BrokenPipeError, ConnectionResetError):
                    pass  # the client gave up waiting (a long poll cancelled at shutdown)

        return Handler

    def _call(self, path: str, content_type: str, body: bytes) -> tuple[int, Dict[str, Any]]:
        prefix = f"/bot{self.token}/"
        if not path.startswith(prefix):
            return 401, {"ok": False, "error_code": 401, "description": "Unauthorized"}
        method = path[len(prefix):].split("?", 1)[0]
        params, files = _parse(content_type, body)
        with self._changed:
            self.calls.append(Call(method, params, files, time.monotonic()))
            self._changed.notify_all()
            pending = self._failures.get(method)
            if pending:
                retry_after = pending.pop(0)
                return 429, {
                    "ok": False, "error_code": 429, "parameters": {"retry_after": retry_after},
                    "description": f"Too Many Requests: retry after {retry_after}",
                }  # fmt: skip
        answer = getattr(self, "_" + method, None)
        if answer is None:
            return 404, {"ok": False, "error_code": 404, "description": "Not Found"}
        return 200, {"ok": True, "result": answer(params, files)}

    def _getMe(self, params: Dict[str, Any], files: Dict[str, Upload]) -> Any:
        return BOT_USER

    def _getUpdates(self, params: Dict[str, Any], files: Dict[str, Upload]) -> Any:
        offset = int(params.get("offset") or 0)
        limit = int(params.get("limit") or 100)
        deadline = time.monotonic() + float(params.get("timeout") or 0)
        with self._changed:
            if offset:
                self.confirmed_offset = max(self.confirmed_offset, offset)
                self._updates = [u for u in self._updates if u["update_id"] >= offset]
            while not self._updates and not self._stopping and time.monotonic() < deadline:
                self._changed.wait(deadline - time.monotonic())
            return self._updates[:limit]

    def _setWebhook(self, params: Dict[str, Any], files: Dict[str, Upload]) -> Any:
        return True

    def _deleteWebhook(self, params: Dict[str, Any], files: Dict[str, Upload]) -> Any:
        return True

    def _answerCallbackQuery(self, params: Dict[str, Any], files: Dict[str, Upload]) -> Any:
        return True

    def _sendMessage(self, params: Dict[str, Any], files: Dict[str, Upload]) -> Any:
        return {**self._sent_message(params), "text": params.get("text", "")}

    def _sendDocument(self, params: Dict[str, Any], files: Dict[str, Upload]) -> Any:
        upload = files.get("document")
        document = {"file_id": f"f{time.monotonic_ns()}", "file_unique_id": "u1"}
        if upload is not None:
            document.update(file_name=upload.filename, mime_type=upload.content_type, file_size=len(upload.content))
        return {**self._sent_message(params), "document": document}

    def _sent_message(self, params: Dict[str, Any]) -> Dict[str, Any]:
        chat_id = int(params["chat_id"])
        return {
            "message_id": next(self._message_ids),
            "date": int(time.time()),
            "chat": {"id": chat_id, "type": "private" if chat_id > 0 else "group"},
            "from": BOT_USER,
        }


def _parse(content_type: str, body: bytes) -> tuple[Dict[str, Any], Dict[str, Upload]]:
    """A request's parameters and files: form-encoded or multipart, as python-telegram-bot
    sends them (objects JSON-encoded in their field), or a JSON body."""
    params: Dict[str, Any] = {}
    files: Dict[str, Upload] = {}
    if content_type.startswith("application/json"):
        params = json.loads(body or b"{}")
    elif content_type.startswith("multipart/form-data"):
        message = email.parser.BytesParser(policy=email.policy.HTTP).parsebytes(
            f"Content-Type: {content_type}\r\n\r\n".encode() + body
        )
        for part in message.iter_parts():
            name = part.get_param("name", header="content-disposition")
            content = part.get_payload(decode=True) or b""
            if part.get_filename() is not None:
                files[name] = Upload(part.get_filename(), content, part.get_content_type())
            else:
                params[name] = content.decode("utf-8")
    elif body:
        params = {k: v[-1] for k, v in urllib.parse.parse_qs(body.decode("utf-8"), keep_blank_values=True).items()}
    if isinstance(params.get("reply_markup"), str):
        params["reply_markup"] = json.loads(params["reply_markup"])
    return params, files
