"""A terminal chat with the running assistant, over Rasa's REST channel.

Buttons are shown numbered: type the number to press one. ``/quit`` (or Ctrl+D) leaves.
"""

from __future__ import annotations

import json
import sys
import textwrap
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
) -> None:
    """Talk to the assistant until /quit or end of input."""
    sender = sender or f"terminal-{uuid.uuid4().hex[:12]}"
    out.write(
        "Type your worry (no names, dates of birth or addresses). Numbers press buttons; "
        "/quit leaves.\n"
    )
    buttons: list[dict] = []
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
