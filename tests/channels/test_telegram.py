"""The Telegram channel (``bot.channels.telegram``) with the real python-telegram-bot client
against a fake Bot API on loopback (``tests/channels/fake_telegram.py``): first the output and
input sides on their own, then whole conversations through the running assistant."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import time
import urllib.request
from pathlib import Path
from typing import Any, Awaitable, Callable, Dict, Iterator, List

import pytest
from rasa.core.channels.channel import UserMessage
from telegram import Bot, Update
from telegram.request import HTTPXRequest

from bot.channels.telegram import (
    EXPIRED_BUTTON,
    START_MESSAGE,
    TEXT_ONLY,
    ButtonPayloads,
    RateLimiter,
    TelegramDeliveryError,
    TelegramInput,
    TelegramOutput,
    split_text,
)
from bot.config import PROJECT_ROOT, Settings
from tests.channels.fake_telegram import TOKEN, FakeTelegram

CHAT = 700_001
LONG_PAYLOAD = '/inform_category{"category": "step-up-step-down", "note": "' + "x" * 80 + '"}'


@pytest.fixture
def fake() -> Iterator[FakeTelegram]:
    with FakeTelegram() as server:
        yield server


def run(make: Callable[[Bot], Awaitable[Any]], fake: FakeTelegram) -> Any:
    """Run ``make(bot)`` in a fresh event loop with a Bot pointed at the fake."""

    async def main() -> Any:
        async with Bot(TOKEN, base_url=fake.api_url, request=HTTPXRequest(connection_pool_size=4)) as bot:
            return await make(bot)

    return asyncio.run(main())


def output(bot: Bot, **kwargs: Any) -> TelegramOutput:
    return TelegramOutput(bot, RateLimiter(per_chat_interval=0.05), ButtonPayloads(), **kwargs)


# Sending ---------------------------------------------------------------------------------------


def test_text_is_sent_verbatim_without_markdown(fake):
    unsafe = "Stage *1*: [see] `section_4.2` <b>now</b> _today_ \\ 100% #1"
    run(lambda bot: output(bot).send_text_message(str(CHAT), unsafe), fake)
    [sent] = fake.sent(CHAT)
    assert sent.params["text"] == unsafe
    assert "parse_mode" not in sent.params


def test_long_text_is_split_within_telegrams_limit(fake):
    text = "\n\n".join(f"Paragraph {i}: " + "word " * 150 for i in range(12))  # about 9 000 characters
    run(lambda bot: output(bot).send_text_message(str(CHAT), text), fake)
    pieces = [c.params["text"] for c in fake.sent(CHAT)]
    assert len(pieces) == 3 and all(len(p) <= 4096 for p in pieces)
    assert " ".join(" ".join(pieces).split()) == " ".join(text.split())
    assert split_text("🚨" * 3000) == ["🚨" * 2048, "🚨" * 952]  # emoji count twice


def test_buttons_are_an_inline_keyboard_and_a_long_payload_is_mapped(fake):
    payloads = ButtonPayloads()
    buttons = [
        {"title": "Resolved", "payload": "/resolved"},
        {"title": "Step-up / step-down", "payload": LONG_PAYLOAD},
    ]

    async def send(bot: Bot) -> None:
        await TelegramOutput(bot, RateLimiter(), payloads).send_response(
            str(CHAT), {"text": "Has it been resolved?", "buttons": buttons}
        )

    run(send, fake)
    [sent] = fake.sent(CHAT)
    assert sent.params["text"] == "Has it been resolved?"
    keyboard = sent.keyboard
    assert [b["text"] for b in keyboard] == ["Resolved", "Step-up / step-down"]
    assert keyboard[0]["callback_data"] == "/resolved"
    mapped = keyboard[1]["callback_data"]
    assert mapped.startswith("~") and len(mapped.encode()) <= 64
    assert payloads.payload(mapped) == LONG_PAYLOAD
    assert payloads.callback_data(LONG_PAYLOAD) == mapped  # the same payload, the same id
    assert payloads.payload("~000000000000000000000000") is None


def test_a_file_attachment_is_uploaded_as_a_document(fake, tmp_path):
    form = tmp_path / "ESC-0001-escalation-notification.docx"
    form.write_bytes(b"PK\x03\x04 a Word document")
    attachment = {"type": "file", "name": form.name, "path": str(form), "mime": "application/vnd.openxmlformats-officedocument.wordprocessingml.document"}
    run(lambda bot: output(bot).send_response(str(CHAT), {"text": "Your form is ready.", "attachment": attachment}), fake)
    text, document = fake.sent(CHAT)
    assert (text.method, text.params["text"]) == ("sendMessage", "Your form is ready.")
    assert document.method == "sendDocument"
    upload = document.files["document"]
    assert (upload.filename, upload.content) == (form.name, b"PK\x03\x04 a Word document")


def test_a_429_is_waited_out_and_the_message_delivered_once(fake):
    fake.fail_next("sendMessage", times=1, retry_after=1)
    started = time.monotonic()
    run(lambda bot: output(bot).send_text_message(str(CHAT), "Hello"), fake)
    first, second = fake.made("sendMessage", CHAT)
    assert second.at - first.at >= 1.0 and time.monotonic() - started >= 1.0
    assert first.params["text"] == second.params["text"] == "Hello"
    # The fake answered the first with 429 and delivered only the second.


def test_sends_keep_to_one_message_a_second_in_a_chat(fake):
    async def send(bot: Bot) -> None:
        channel = TelegramOutput(bot, RateLimiter(), ButtonPayloads())
        to_chat = [channel.send_text_message(str(CHAT), f"m{i}") for i in range(3)]
        await asyncio.gather(*to_chat, channel.send_text_message(str(CHAT + 1), "another chat goes at once"))

    run(send, fake)
    times = [c.at for c in fake.made("sendMessage", CHAT)]
    assert [b - a >= 0.95 for a, b in zip(times, times[1:])] == [True, True]
    assert fake.made("sendMessage", CHAT + 1)[0].at - times[0] < 0.5


def test_the_limiter_allows_30_a_second_overall():
    now = [100.0]
    limiter = RateLimiter(clock=lambda: now[0])
    assert [limiter.reserve("a"), limiter.reserve("a")] == [100.0, pytest.approx(101.0)]
    slots = [limiter.reserve(str(chat)) for chat in range(90)]
    assert slots[28] - slots[0] < 1.0  # 30 a second, counting chat a's first
    assert slots[-1] - slots[0] >= 2.9


def test_a_send_that_keeps_failing_raises(tmp_path):
    async def send() -> None:
        bot = Bot(TOKEN, base_url="http://127.0.0.1:9/bot")  # nothing listens on port 9
        await output(bot, attempts=3, backoff=0.01).send_text_message(str(CHAT), "Hello")

    with pytest.raises(TelegramDeliveryError, match="sendMessage failed 3 times"):
        asyncio.run(send())


# Receiving -------------------------------------------------------------------------------------


def settings_for(fake: FakeTelegram, **changes: str) -> Settings:
    return Settings.from_env(
        {"BOT_TELEGRAM_TOKEN": TOKEN, "BOT_TELEGRAM_API_URL": fake.api_url, **changes}
    )


def received(fake: FakeTelegram, updates: List[Dict[str, Any]]) -> List[UserMessage]:
    """What the channel hands to Rasa for these updates (real ``Update`` objects)."""
    channel = TelegramInput(settings_for(fake))
    messages: List[UserMessage] = []

    async def collect(message: UserMessage) -> None:
        messages.append(message)

    async def main() -> None:
        for update in updates:
            await channel.handle_update(Update.de_json({"update_id": 1, **update}, channel.bot), collect)
        await channel.stop()

    asyncio.run(main())
    return messages


def test_a_text_message_reaches_rasa_from_the_chat(fake):
    [message] = received(fake, [{"message": fake.message(CHAT, "my manager disagrees with CSC")}])
    assert (message.text, message.sender_id, message.input_channel) == ("my manager disagrees with CSC", str(CHAT), "telegram")
    assert message.metadata["telegram"]["chat_id"] == str(CHAT)
    assert isinstance(message.output_channel, TelegramOutput)


def test_start_is_a_greeting(fake):
    [message] = received(fake, [{"message": fake.message(CHAT, "/start")}])
    assert message.text == START_MESSAGE


def test_a_button_press_is_its_payload_and_an_unknown_one_is_answered(fake):
    channel = TelegramInput(settings_for(fake))
    messages: List[UserMessage] = []

    async def collect(message: UserMessage) -> None:
        messages.append(message)

    async def main() -> None:
        mapped = channel.buttons.callback_data(LONG_PAYLOAD)
        for data in ("/resolved", mapped, "~ffffffffffffffffffffffff"):
            fake.user_presses(CHAT, data)
        updates = await channel.bot.get_updates()
        for update in updates:
            await channel.handle_update(update, collect)
        await channel.stop()

    asyncio.run(main())
    assert [m.text for m in messages] == ["/resolved", LONG_PAYLOAD]
    answers = fake.made("answerCallbackQuery")
    assert len(answers) == 3
    assert answers[2].params["text"] == EXPIRED_BUTTON


def test_updates_without_a_private_message_are_ignored(fake):
    chat = fake.message(CHAT, "edited")
    messages = received(
        fake,
        [
            {"edited_message": {**chat, "edit_date": int(time.time())}},
            {"channel_post": {**fake.message(-100123, "news", "channel"), "sender_chat": {"id": -100123, "type": "channel"}}},
            {"message": fake.message(-100456, "hello group", "group")},
            {"my_chat_member": {
                "chat": chat["chat"], "from": fake.user(CHAT), "date": int(time.time()),
                "old_chat_member": {"status": "member", "user": fake.user(123456)},
                "new_chat_member": {"status": "kicked", "user": fake.user(123456), "until_date": 0},
            }},
        ],
    )  # fmt: skip
    assert messages == []
    assert fake.made("sendMessage") == []


def test_a_photo_is_answered_with_a_sentence(fake):
    photo = {k: v for k, v in fake.message(CHAT, "").items() if k != "text"}
    photo["photo"] = [{"file_id": "p1", "file_unique_id": "p1u", "width": 90, "height": 90}]
    assert received(fake, [{"message": photo}]) == []
    [sent] = fake.sent(CHAT)
    assert sent.params["text"] == TEXT_ONLY


def test_polling_gets_updates_in_order_and_stops_cleanly(fake):
    channel = TelegramInput(settings_for(fake), poll_timeout=2)
    messages: List[UserMessage] = []

    async def collect(message: UserMessage) -> None:
        await asyncio.sleep(0.05)  # slow handling must not reorder a chat's messages
        messages.append(message)

    async def main() -> None:
        channel.start(collect)
        fake.user_says(CHAT, "first")
        fake.user_says(CHAT, "second")
        last = fake.user_says(CHAT, "third")
        for _ in range(100):
            if len(messages) == 3:
                break
            await asyncio.sleep(0.05)
        await channel.stop()
        return last

    last = asyncio.run(main())
    assert [m.text for m in messages] == ["first", "second", "third"]
    assert fake.made("getMe") and fake.made("deleteWebhook") and not fake.made("setWebhook")
    assert fake.confirmed_offset == last + 1  # confirmed on the way out


# Through the running assistant -----------------------------------------------------------------

RASA_PORT, ACTIONS_PORT = 5305, 5355


class Assistant:
    """The running assistant with Telegram on, and the fake Telegram its users talk through."""

    def __init__(self, fake: FakeTelegram, url: str, var: Path) -> None:
        self.fake, self.url, self.var = fake, url, var

    def tracker(self, chat: int) -> Dict[str, Any]:
        with urllib.request.urlopen(f"{self.url}/conversations/{chat}/tracker", timeout=30) as answer:
            return json.loads(answer.read())

    def handled(self, chat: int, update_id: int) -> bool:
        """Whether the assistant has finished with an update: the conversation holds it and has
        gone back to listening (Rasa saves the conversation after all its replies are sent)."""
        events = self.tracker(chat)["events"]
        for i, event in enumerate(events):
            if event["event"] == "user" and event.get("message_id") == str(update_id):
                after = events[i + 1:]
                return bool(after) and after[-1].get("name") == "action_listen"
        return False

    def exchange(self, chat: int, update_id: int, timeout: float = 90.0) -> List[Any]:
        before = len(self.fake.sent(chat))
        deadline = time.monotonic() + timeout
        while not self.handled(chat, update_id):
            assert time.monotonic() < deadline, f"update {update_id} was not answered"
            time.sleep(0.2)
        return self.fake.sent(chat)[before:]

    def say(self, chat: int, text: str) -> str:
        """Type ``text``; the replies' text."""
        before = len(self.fake.sent(chat))
        update_id = self.fake.user_says(chat, text)
        self.exchange(chat, update_id)
        return "\n".join(c.params.get("text", "") for c in self.fake.sent(chat)[before:])

    def press(self, chat: int, title: str) -> str:
        """Press the button titled ``title`` in the latest keyboard sent to the chat."""
        keyboard = [c for c in self.fake.sent(chat) if c.keyboard][-1]
        [button] = [b for b in keyboard.keyboard if b["text"] == title]
        before = len(self.fake.sent(chat))
        self.exchange(chat, self.fake.user_presses(chat, button["callback_data"]))
        return "\n".join(c.params.get("text", "") for c in self.fake.sent(chat)[before:])

    def operator(self, *args: str, now: str) -> str:
        env = {**os.environ, "BOT_VAR_DIR": str(self.var), "BOT_RASA_PORT": str(RASA_PORT), "BOT_NOW": now}
        done = subprocess.run([sys.executable, "-m", "bot", *args], cwd=PROJECT_ROOT, env=env,
                              capture_output=True, text=True, timeout=120)  # fmt: skip
        assert done.returncode == 0, done.stdout + done.stderr
        return done.stdout


@pytest.fixture(scope="module")
def assistant(tmp_path_factory) -> Iterator[Assistant]:
    from tests.serving import ServerDidNotStart, serving

    var = tmp_path_factory.mktemp("var")
    with FakeTelegram() as fake:
        env = {"BOT_TELEGRAM_TOKEN": TOKEN, "BOT_TELEGRAM_API_URL": fake.api_url, "BOT_TELEGRAM_MODE": "polling"}
        try:
            with serving(var, RASA_PORT, ACTIONS_PORT, env=env) as url:
                fake.wait_until(lambda: bool(fake.made("getUpdates")), timeout=60)
                yield Assistant(fake, url, var)
        except ServerDidNotStart as error:
            pytest.fail(str(error))
        log = (var / f"serve-{RASA_PORT}.log").read_text()
        assert "Traceback" not in log, log[-3000:]


@pytest.mark.server
def test_a_message_on_telegram_is_answered_with_an_inline_keyboard(assistant):
    chat = 810_001
    update_id = assistant.fake.user_says(chat, "the other agency has closed the case and I disagree with their decision")
    replies = assistant.exchange(chat, update_id)
    assert replies, "no reply reached Telegram"
    assert any(c.keyboard for c in replies)
    tracker = assistant.tracker(chat)
    assert tracker["latest_input_channel"] == "telegram"
    assert tracker["slots"]["route"] == "disagreement"
    answered = assistant.press(chat, "South Tyneside")  # a button press continues the conversation
    assert "Stage" in answered
    assert assistant.tracker(chat)["slots"]["partnership"] == "south-tyneside"


@pytest.mark.server
def test_updates_without_a_message_cause_no_error(assistant):
    chat = 810_002
    fake = assistant.fake
    fake.queue({"edited_message": {**fake.message(chat, "edited"), "edit_date": int(time.time())}})
    fake.queue({"channel_post": fake.message(-100_999, "news", "channel")})
    assert assistant.say(chat, "hello")
    assert fake.sent(-100_999) == []


def open_record_on_telegram(assistant: Assistant, chat: int, partnership: str = "south-tyneside") -> str:
    """tests/test_record_conversations.py's ``open_record``, typed and pressed in Telegram."""
    say = assistant.say
    say(chat, "the other agency has closed the case and I disagree with their decision")
    say(chat, '/choose_partnership{"partnership": "%s"}' % partnership)
    asked = say(chat, "/open_record")
    if "child (under 18) or an adult" in asked:
        asked = say(chat, '/inform_subject{"subject": "children"}')
    assert "case reference" in asked
    assert "Which agency or team" in say(chat, "CSC-204518")
    assert "Which is it mostly about?" in say(chat, "children's social care assessment team")
    assert "what is the disagreement" in say(chat, '/inform_category{"category": "step-up-step-down"}')
    assert "What outcome do you want" in say(chat, "the case was closed although the home conditions have not changed")
    assert "What evidence supports" in say(chat, "the case to stay open with a plan")
    asked = say(chat, "two home visits in November found the same conditions")
    if "Which agency and team" in asked:
        say(chat, "health visiting")
        asked = say(chat, "health visitor")
    assert asked.startswith("Opened ESC-")
    return assistant.tracker(chat)["slots"]["escalation_ref"]


def not_resolved(assistant: Assistant, chat: int, what_happened: str, position: str) -> str:
    assistant.say(chat, "/not_resolved")
    assistant.say(chat, what_happened)
    assistant.say(chat, position)
    return assistant.say(chat, "/affirm")


@pytest.mark.server
def test_a_disagreement_walk_opens_a_record_and_the_form_arrives_as_a_document(assistant):
    chat = 810_003
    reference = open_record_on_telegram(assistant, chat)
    assert not_resolved(assistant, chat, "we spoke, they will not reopen it", "threshold not met").startswith(
        f"{reference} moved to Stage 1"
    )
    assert not_resolved(assistant, chat, "the managers did not agree", "still not met").startswith(
        f"{reference} moved to Stage 2"
    )
    if not assistant.fake.made("sendDocument", chat):
        assistant.say(chat, "send me the form")
    [document] = assistant.fake.made("sendDocument", chat)
    upload = document.files["document"]
    assert upload.filename.startswith(reference) and upload.filename.endswith(".docx")
    assert upload.content.startswith(b"PK")  # a Word file, uploaded whole


@pytest.mark.server
def test_a_due_stage_nudges_the_manager_on_telegram_with_buttons(assistant):
    practitioner, manager = 810_004, 810_005
    assistant.say(manager, "hello")  # registered as telegram:<chat> from their first message
    reference = open_record_on_telegram(assistant, practitioner)
    moved = not_resolved(assistant, practitioner, "we spoke on the phone, they will not reopen it", "they say the threshold is not met")
    assert moved.startswith(f"{reference} moved to Stage 1")
    assistant.operator("people", "manager", f"telegram:{practitioner}", f"telegram:{manager}", now="2026-11-24T10:00:00+00:00")

    before = len(assistant.fake.sent(manager))
    assert "sent 2" in assistant.operator("nudges", "sweep", now="2026-11-24T10:00:00+00:00")
    [nudge] = assistant.fake.sent(manager)[before:]
    assert nudge.params["text"].startswith(f"⏰ {reference} (South Tyneside): Stage 1")
    assert [b["callback_data"] for b in nudge.keyboard] == ["/resolved", "/not_resolved", "/more_time"]
    to_practitioner = assistant.fake.sent(practitioner)[-1]
    assert to_practitioner.params["text"].startswith(f"⏰ {reference}: Stage 1")

    asked = assistant.press(manager, nudge.keyboard[1]["text"])  # the manager answers the nudge
    assert "What happened at Stage 1" in asked


def test_webhook_mode_sets_the_webhook_and_refuses_posts_without_the_secret(fake):
    """The blueprint in a real Sanic server on loopback, as Rasa mounts it."""
    import httpx
    from sanic import Sanic

    settings = settings_for(
        fake, BOT_TELEGRAM_MODE="webhook", BOT_TELEGRAM_WEBHOOK_URL="https://bot.example.org/webhooks/telegram/webhook",
        BOT_TELEGRAM_WEBHOOK_SECRET="s3cr3t-Value_1",
    )  # fmt: skip
    channel = TelegramInput(settings)
    messages: List[UserMessage] = []

    async def collect(message: UserMessage) -> None:
        messages.append(message)

    async def main() -> List[int]:
        app = Sanic("telegram_webhook_test")
        app.blueprint(channel.blueprint(collect), url_prefix="/webhooks/telegram")
        server = await app.create_server(host="127.0.0.1", port=0, return_asyncio_server=True)
        await server.startup()
        await server.before_start()
        await server.after_start()
        port = server.server.sockets[0].getsockname()[1]
        url = f"http://127.0.0.1:{port}/webhooks/telegram/webhook"
        update = {"update_id": 5, "message": fake.message(CHAT, "hello")}
        try:
            for _ in range(50):  # setWebhook happens in the background
                if fake.made("setWebhook"):
                    break
                await asyncio.sleep(0.05)
            async with httpx.AsyncClient() as client:
                codes = [
                    (await client.post(url, json=update)).status_code,
                    (await client.post(url, json=update, headers={"X-Telegram-Bot-Api-Secret-Token": "wrong"})).status_code,
                    (await client.post(url, json=update, headers={"X-Telegram-Bot-Api-Secret-Token": "s3cr3t-Value_1"})).status_code,
                ]
            for _ in range(50):
                if messages:
                    break
                await asyncio.sleep(0.05)
        finally:
            await server.before_stop()
            server.close()
            await server.wait_closed()
            await server.after_stop()
        return codes

    assert asyncio.run(main()) == [403, 403, 200]
    [message] = messages
    assert (message.text, message.sender_id) == ("hello", str(CHAT))
    [webhook] = fake.made("setWebhook")
    assert webhook.params["url"] == "https://bot.example.org/webhooks/telegram/webhook"
    assert webhook.params["secret_token"] == "s3cr3t-Value_1"
    assert not fake.made("getUpdates") and not fake.made("deleteWebhook")


@pytest.mark.server
def test_a_proactive_message_telegram_will_not_take_fails_the_trigger(assistant):
    """So that the nudge sweeper marks the nudge undeliverable and retries it later."""
    import urllib.error

    chat = 810_006
    assistant.say(chat, "hello")
    assistant.fake.fail_next("sendMessage", times=1, retry_after=600)  # longer than a send waits
    request = urllib.request.Request(
        f"{assistant.url}/conversations/{chat}/trigger_intent?output_channel=latest",
        data=json.dumps({"name": "greet"}).encode(), headers={"Content-Type": "application/json"}, method="POST",
    )  # fmt: skip
    with pytest.raises(urllib.error.HTTPError) as refused:
        urllib.request.urlopen(request, timeout=60)
    assert refused.value.code == 500
    with urllib.request.urlopen(request, timeout=60) as answer:  # Telegram takes it again: delivered
        assert answer.status == 200
    assert assistant.fake.sent(chat)[-1].params["text"] == assistant.fake.sent(chat)[0].params["text"]
