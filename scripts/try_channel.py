"""Try a channel end to end on this machine, against the local fake of its service.

``.venv/bin/python scripts/try_channel.py telegram`` (or ``teams``) starts the fake (the one the
tests use: tests/channels/fake_telegram.py, fake_botframework.py), prints the settings to start
the assistant with, and then lets you be a user of that channel in this terminal: each line you
type is delivered as a message, numbers press the buttons shown, and whatever the assistant sends
to your chat (replies, forms, nudges) is printed as it arrives. ``/quit`` leaves.

In a second terminal, start the assistant with the printed settings, e.g.
``BOT_TELEGRAM_TOKEN=123456:LOCAL BOT_TELEGRAM_API_URL=http://127.0.0.1:PORT/bot make serve``.
"""

from __future__ import annotations

import argparse
import json
import sys
import threading
import time
import urllib.error
import urllib.request
import uuid
from pathlib import Path
from typing import Any, Callable

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

APP_ID = "00000000-0000-4000-8000-00000000b07"
TENANT = "11111111-1111-4111-8111-111111111111"


def _show(text: str, buttons: list[tuple[str, str]]) -> None:
    for line in (text or "").splitlines() or [""]:
        print(f"bot> {line}")
    for number, (title, _) in enumerate(buttons, 1):
        print(f"bot>   [{number}] {title}")
    sys.stdout.flush()


Button = tuple[str, str]  # (title, payload)


def converse(
    received: Callable[[], list[Any]], render: Callable[[Any], tuple[str, list[Button]]],
    say: Callable[[str], None], press: Callable[[str], None],
) -> None:
    """Print what arrives in your chat (``received``, rendered) as it comes; send what you type
    (``say``), a number pressing the latest buttons (``press``), until /quit or end of input."""
    buttons: list[Button] = []

    def watch() -> None:
        nonlocal buttons
        shown = 0
        while True:
            items = received()
            for item in items[shown:]:
                text, offered = render(item)
                buttons = offered or buttons
                _show(text, offered)
            shown = len(items)
            time.sleep(0.3)

    threading.Thread(target=watch, daemon=True).start()
    for line in sys.stdin:
        typed = line.strip()
        if typed in ("/quit", "/exit"):
            break
        if typed.isdigit() and buttons and 1 <= int(typed) <= len(buttons):
            press(buttons[int(typed) - 1][1])
        elif typed:
            say(typed)


def telegram(chat_id: int) -> None:
    from tests.channels.fake_telegram import FakeTelegram

    token = "123456:LOCAL"

    def render(call) -> tuple[str, list[Button]]:
        if call.method == "sendDocument":
            return f"📎 {next(iter(call.files.values())).filename if call.files else 'a document'}", []
        return call.params.get("text", ""), [(b["text"], b["callback_data"]) for b in call.keyboard]

    with FakeTelegram(token) as fake:
        print("Start the assistant in another terminal with:\n")
        print(f"  BOT_TELEGRAM_TOKEN={token} BOT_TELEGRAM_API_URL={fake.api_url} make serve\n")
        print(f"You are Telegram chat {chat_id} (as identity: telegram:{chat_id}). Type a message; /quit leaves.\n")
        converse(lambda: fake.sent(chat_id), render, lambda text: fake.user_says(chat_id, text),
                 lambda payload: fake.user_presses(chat_id, payload))  # fmt: skip


def teams(rasa_url: str) -> None:
    from tests.channels.fake_botframework import FakeBotFramework

    aad_id, conversation = str(uuid.uuid4()), f"a:1{uuid.uuid4().hex}"

    def render(item) -> tuple[str, list[Button]]:
        activity = item.activity
        cards = [a["content"] for a in activity.get("attachments") or [] if isinstance(a.get("content"), dict)]
        buttons = [b for card in cards for b in card.get("buttons") or []]
        links = [f"🔗 {b.get('title')}: {b.get('value')}" for b in buttons if b.get("type") == "openUrl"]
        offered = [(b.get("title", ""), (b.get("value") or {}).get("payload", "")) for b in buttons
                   if b.get("type") == "messageBack"]  # fmt: skip
        return "\n".join(filter(None, [activity.get("text"), *links])), offered

    with FakeBotFramework() as fake:

        def post(content: dict) -> None:
            body = {
                "type": "message", "id": f"f:{uuid.uuid4().hex[:12]}", "channelId": "msteams", "serviceUrl": fake.url,
                "from": {"id": f"29:{aad_id[:8]}", "aadObjectId": aad_id}, "recipient": {"id": f"28:{APP_ID}"},
                "conversation": {"id": conversation, "conversationType": "personal", "tenantId": TENANT},
                "channelData": {"tenant": {"id": TENANT}}, **content,
            }  # fmt: skip
            request = urllib.request.Request(
                f"{rasa_url}/webhooks/teams/webhook", data=json.dumps(body).encode(), method="POST",
                headers={"Content-Type": "application/json",
                         "Authorization": f"Bearer {fake.token(audience=APP_ID, service_url=fake.url)}"},
            )  # fmt: skip
            try:
                urllib.request.urlopen(request, timeout=120).close()
            except (urllib.error.URLError, OSError) as error:
                print(f"(The assistant at {rasa_url} did not take it: {error}. Is it running with the settings above?)")

        print("Start the assistant in another terminal with:\n")
        print(f"  BOT_TEAMS_APP_ID={APP_ID} BOT_TEAMS_APP_PASSWORD=local-client-secret-{uuid.uuid4().hex[:8]} "
              f"BOT_TEAMS_TENANT_ID={TENANT} BOT_TEAMS_OPENID_URL={fake.url}/openid "
              f"BOT_TEAMS_TOKEN_URL={fake.url}/token make serve\n")  # fmt: skip
        print(f"You are a Teams user (identity: teams:{aad_id}). Type a message; /quit leaves.\n")
        converse(lambda: fake.in_conversation(conversation), render, lambda text: post({"text": text}),
                 lambda payload: post({"value": {"payload": payload}}))  # fmt: skip


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("channel", choices=["telegram", "teams"])
    parser.add_argument("--chat-id", type=int, default=424242, help="your Telegram chat id (default: %(default)s)")
    parser.add_argument("--rasa-url", default="http://127.0.0.1:5005", help="the assistant (Teams posts to it)")
    args = parser.parse_args(argv)
    try:
        telegram(args.chat_id) if args.channel == "telegram" else teams(args.rasa_url)
    except KeyboardInterrupt:
        pass
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
