"""A terminal chat with the running assistant, over Rasa's REST channel.

Buttons are shown numbered: type the number to press one. ``/quit`` (or Ctrl+D) leaves. Nudges
(``bot.nudges``) that arrive in the conversation between messages are shown as they come.
"""

from __future__ import annotations

import json
import sys
import textwrap
import threading
import urllib.error
import urllib.request
import uuid
from typing import Callable, TextIO


def post_message(rasa_url: str, sender: str, message: str, timeout: float = 60) -> list[dict]:
    """Send one message through the REST channel; the assistant's replies."""
    request = urllib.request.Request(
        f"{rasa_url}/webhooks/rest/webhook",
        data=json.dumps({"sender": sender, "message": message}).encode("utf-8"),
        headers={"Content-Type": "application/json"},
        method="POST",
    )
    with urllib.request.urlopen(request, timeout=timeout) as response:
        return json.loads(response.read().decode("utf-8") or "[]")


def nudges_since(rasa_url: str, sender: str, seen: set[float], timeout: float = 10) -> list[dict]:
    """The assistant's messages answering nudges (``EXTERNAL_nudge``) not in ``seen`` (event
    timestamps, updated), as replies."""
    with urllib.request.urlopen(f"{rasa_url}/conversations/{sender}/tracker", timeout=timeout) as response:
        events = json.loads(response.read().decode("utf-8")).get("events") or []
    found, answering_nudge = [], False
    for event in events:
        if event.get("event") == "user":
            answering_nudge = ((event.get("parse_data") or {}).get("intent") or {}).get("name") == "EXTERNAL_nudge"
        elif event.get("event") == "bot" and answering_nudge and event.get("timestamp") not in seen:
            seen.add(event.get("timestamp"))
            found.append({"text": event.get("text"), "buttons": (event.get("data") or {}).get("buttons") or []})
    return found


def render(replies: list[dict], width: int = 96) -> tuple[str, list[dict]]:
    """The replies as terminal text, and the buttons in the order they are numbered."""
    lines: list[str] = []
    buttons: list[dict] = []
    for reply in replies:
        for paragraph in (reply.get("text") or "").splitlines():
            lines.extend(textwrap.wrap(paragraph, width=width, subsequent_indent="  ") or [""])
        attachment = reply.get("attachment")
        if isinstance(attachment, dict):
            lines.append(f"📎 {attachment.get('name')}: {attachment.get('path') or attachment.get('url')}")
        for button in reply.get("buttons") or []:
            buttons.append(button)
            lines.append(f"  [{len(buttons)}] {button.get('title')}")
    return "\n".join(f"bot> {line}" if line else "bot>" for line in lines), buttons


def chat(
    rasa_url: str,
    sender: str | None = None,
    read: Callable[[str], str] = input,
    out: TextIO = sys.stdout,
    poll_seconds: float = 10.0,
) -> None:
    """Talk to the assistant until /quit or end of input; every ``poll_seconds`` (0: never) show
    the nudges that arrived meanwhile."""
    sender = sender or f"terminal-{uuid.uuid4().hex[:12]}"
    out.write(
        "Type your worry (no names, dates of birth or addresses). Numbers press buttons; "
        "/quit leaves.\n"
    )
    buttons: list[dict] = []
    seen: set[float] = set()
    lock, stop = threading.Lock(), threading.Event()

    def show_nudges() -> None:
        nonlocal buttons
        try:
            arrived = nudges_since(rasa_url, sender, seen)
        except (urllib.error.URLError, ConnectionError, TimeoutError, ValueError):
            return  # not up yet, or gone: the next message says so
        if arrived:
            text, buttons = render(arrived)
            out.write("\n" + text + "\n")
            out.flush()

    def watch() -> None:
        while not stop.wait(poll_seconds):
            with lock:
                show_nudges()

    if poll_seconds > 0:
        threading.Thread(target=watch, name="nudges", daemon=True).start()
    try:
        while True:
            try:
                typed = read("you> ").strip()
            except (EOFError, KeyboardInterrupt):
                out.write("\n")
                return
            if not typed:
                continue
            if typed in ("/quit", "/exit"):
                return
            with lock:
                if typed.isdigit() and buttons and len(typed) <= 2:
                    if not 1 <= int(typed) <= len(buttons):
                        out.write(f"(Type a number from 1 to {len(buttons)} to press a button, or type a message.)\n")
                        continue
                    typed = buttons[int(typed) - 1]["payload"]
                try:
                    replies = post_message(rasa_url, sender, typed)
                except (urllib.error.URLError, ConnectionError, TimeoutError) as error:
                    out.write(f"(The assistant at {rasa_url} did not answer: {error}. Is it running?)\n")
                    continue
                text, buttons = render(replies)
                out.write((text or "bot> (no reply)") + "\n")
    finally:
        stop.set()
