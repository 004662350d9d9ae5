"""Telegram, as a Rasa custom connector (``bot.channels.telegram.TelegramInput``, name
``telegram``), speaking the Bot API through python-telegram-bot's ``Bot``.

Receiving:

* **Polling** (``BOT_TELEGRAM_MODE=polling``, the default; no public URL needed): once the Rasa
  server has started, a background task removes any webhook and long-polls ``getUpdates``,
  confirming each batch through the next call's ``offset``; it stops with the server.
* **Webhook** (``BOT_TELEGRAM_MODE=webhook``): at start ``setWebhook`` registers
  ``BOT_TELEGRAM_WEBHOOK_URL`` (which must point at ``/webhooks/telegram/webhook`` on this server)
  with a secret; Telegram's POSTs whose ``X-Telegram-Bot-Api-Secret-Token`` header does not carry
  it are refused with 403. Without ``BOT_TELEGRAM_WEBHOOK_SECRET`` a random secret is made at
  each start (only Telegram, told through ``setWebhook``, needs to know it).

Each text message in a private chat becomes a ``UserMessage`` whose sender id is the chat id and
whose message id is the update's id (metadata ``{"input_channel": "telegram", "telegram": {"update_id", "chat_id", ...}}``,
never a name); ``/start`` is a greeting (``/greet``); a photo, sticker or file is answered with
a sentence asking for text. Pressing an inline button sends the button's payload.
Group chats, edited messages, channel posts and the like are ignored: case details belong in a
private chat. Updates of one chat are handled one at a time, in order.

Sending (``TelegramOutput``): plain text (no ``parse_mode``, so nothing in a reply is read as
Markdown or HTML), split at Telegram's 4096 characters; buttons as an inline keyboard, one
button a row; file attachments (``{"type": "file", "name", "path", "mime"}``) with
``sendDocument``. Telegram's ``callback_data`` holds at most 64 bytes: a longer payload is sent
as ``~`` and a hash of it, kept in memory (the latest ``ButtonPayloads.capacity`` payloads) for
the press to be turned back into the payload; after a restart such an old button answers "That
button has expired", and the person types or asks again. Sends keep to about one message a
second per chat and 30 a second overall; a 429 is waited out and retried, network errors are
retried with backoff, and a send that still fails raises ``TelegramDeliveryError``, so that a
nudge's ``trigger_intent`` fails and the sweeper retries it later.
"""

from __future__ import annotations

import asyncio
import bisect
import collections
import hashlib
import hmac
import logging
import secrets
import time
import warnings
from datetime import timedelta
from pathlib import Path
from typing import Any, Awaitable, Callable, Dict, List, Optional, Text, TypeVar

from rasa.core.channels.channel import InputChannel, OutputChannel, UserMessage
from sanic import Blueprint, response
from sanic.request import Request
from sanic.response import HTTPResponse
from telegram import Bot, InlineKeyboardButton, InlineKeyboardMarkup, InputFile, Update
from telegram.constants import ChatType
from telegram.error import InvalidToken, NetworkError, RetryAfter, TelegramError
from telegram.request import HTTPXRequest
from telegram.warnings import PTBDeprecationWarning

from bot.config import Settings

logger = logging.getLogger(__name__)

CHANNEL = "telegram"
MESSAGE_LIMIT = 4096  # characters (UTF-16 code units) in one Telegram message
CALLBACK_DATA_LIMIT = 64  # bytes of an inline button's callback_data
START_MESSAGE = "/greet"  # what /start (a new chat, or the Start button) says to the assistant
ALLOWED_UPDATES = ["message", "callback_query"]
SECRET_HEADER = "X-Telegram-Bot-Api-Secret-Token"
TEXT_ONLY = "I can read typed messages only: please type your question."
EXPIRED_BUTTON = "That button has expired: please type your answer, or ask again."

OnNewMessage = Callable[[UserMessage], Awaitable[Any]]
T = TypeVar("T")


class TelegramDeliveryError(RuntimeError):
    """A message could not be sent to Telegram, after retrying what is worth retrying."""


class RateLimiter:
    """Spaces sends: at most one per ``per_chat_interval`` seconds in a chat and
    ``overall_per_second`` overall (Telegram's published limits for bots).

    Each caller reserves the earliest free slot at once (no await between reading and writing,
    so reservations never race) and then sleeps until it."""

    def __init__(
        self,
        per_chat_interval: float = 1.0,
        overall_per_second: int = 30,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.per_chat_interval = per_chat_interval
        self.gap = 1.0 / overall_per_second
        self._clock = clock
        self._next_in_chat: Dict[str, float] = {}
        self._slots: List[float] = []  # reserved send times, sorted, each ``gap`` apart

    def reserve(self, chat_id: str) -> float:
        """The time (on ``clock``) at which the next message to ``chat_id`` may go."""
        now = self._clock()
        self._forget_before(now)
        at = max(now, self._next_in_chat.get(chat_id, now))
        i = bisect.bisect_left(self._slots, at - self.gap)
        while i < len(self._slots) and self._slots[i] < at + self.gap:
            at = self._slots[i] + self.gap
            i += 1
        bisect.insort(self._slots, at)
        self._next_in_chat[chat_id] = at + self.per_chat_interval
        return at

    async def wait(self, chat_id: str) -> None:
        """Sleep until a message to ``chat_id`` may be sent."""
        delay = self.reserve(chat_id) - self._clock()
        if delay > 0:
            await asyncio.sleep(delay)

    def _forget_before(self, now: float) -> None:
        del self._slots[: bisect.bisect_left(self._slots, now - 1.0)]
        if len(self._next_in_chat) > 1000:
            self._next_in_chat = {c: t for c, t in self._next_in_chat.items() if t > now}


class ButtonPayloads:
    """Inline buttons' ``callback_data`` for payloads of any length.

    A payload that fits in 64 bytes (and does not start with ``~``) is its own callback data; a
    longer one is ``~`` + the first 24 hex digits of its SHA-256, remembered here (the latest
    ``capacity`` of them, in memory) so a press can be turned back into the payload. The same
    payload always gets the same id, so re-sent buttons do not fill the store."""

    PREFIX = "~"

    def __init__(self, capacity: int = 10_000) -> None:
        self.capacity = capacity
        self._payloads: collections.OrderedDict[str, str] = collections.OrderedDict()

    def callback_data(self, payload: str) -> str:
        """What to put in the button for ``payload``."""
        if len(payload.encode("utf-8")) <= CALLBACK_DATA_LIMIT and not payload.startswith(self.PREFIX):
            return payload
        data = self.PREFIX + hashlib.sha256(payload.encode("utf-8")).hexdigest()[:24]
        self._payloads[data] = payload
        self._payloads.move_to_end(data)
        while len(self._payloads) > self.capacity:
            self._payloads.popitem(last=False)
        return data

    def payload(self, data: str) -> Optional[str]:
        """The payload a press carries; None for an id this process no longer knows."""
        if not data.startswith(self.PREFIX):
            return data
        return self._payloads.get(data)


def split_text(text: str, limit: int = MESSAGE_LIMIT) -> List[str]:
    """``text`` in pieces Telegram accepts (at most ``limit`` UTF-16 code units each), cut at a
    paragraph, line or word boundary where there is one in the second half of a piece."""

    def size(piece: str) -> int:
        return len(piece.encode("utf-16-le")) // 2

    pieces: List[str] = []
    rest = text
    while size(rest) > limit:
        end = limit
        while size(rest[:end]) > limit:  # characters outside the BMP count twice
            end -= 1
        cut = max(rest.rfind("\n\n", 0, end), rest.rfind("\n", 0, end), rest.rfind(" ", 0, end))
        if cut < end // 2:
            cut = end
        pieces.append(rest[:cut].rstrip())
        rest = rest[cut:].lstrip()
    if rest or not pieces:
        pieces.append(rest)
    return pieces


def _retry_seconds(error: RetryAfter) -> float:
    """How long Telegram asked to wait (an int or a timedelta, depending on PTB's settings)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", PTBDeprecationWarning)
        value = error.retry_after
    return value.total_seconds() if isinstance(value, timedelta) else float(value)


def _chat(recipient_id: Text) -> "int | str":
    return int(recipient_id) if recipient_id.lstrip("-").isdigit() else recipient_id


class TelegramOutput(OutputChannel):
    """Sends the assistant's messages to a Telegram chat (any chat id: replies and nudges)."""

    def __init__(
        self,
        bot: Bot,
        limiter: RateLimiter,
        buttons: ButtonPayloads,
        attempts: int = 4,
        backoff: float = 0.5,
        max_retry_after: float = 60.0,
    ) -> None:
        self.bot = bot
        self.limiter = limiter
        self.buttons = buttons
        self.attempts = attempts
        self.backoff = backoff
        self.max_retry_after = max_retry_after

    @classmethod
    def name(cls) -> Text:
        return CHANNEL

    async def send_response(self, recipient_id: Text, message: Dict[Text, Any]) -> None:
        """Send one of Rasa's bot messages: its text (with buttons), then what it carries."""
        text = message.get("text") or ""
        buttons = message.get("buttons") or message.get("quick_replies") or []
        if buttons:
            await self.send_text_with_buttons(recipient_id, text, buttons)
        elif text:
            await self.send_text_message(recipient_id, text)
        if message.get("custom"):
            await self.send_custom_json(recipient_id, message["custom"])
        if message.get("image"):
            await self.send_image_url(recipient_id, message["image"])
        if message.get("attachment"):
            await self.send_attachment(recipient_id, message["attachment"])
        if message.get("elements"):
            await self.send_elements(recipient_id, message["elements"])

    async def send_text_message(self, recipient_id: Text, text: Text, **kwargs: Any) -> None:
        """Send ``text`` verbatim, in as many messages as its length needs."""
        for piece in split_text(text):
            await self._send(
                recipient_id, "sendMessage", lambda p=piece: self.bot.send_message(_chat(recipient_id), p)
            )

    async def send_text_with_buttons(
        self, recipient_id: Text, text: Text, buttons: List[Dict[Text, Any]], **kwargs: Any
    ) -> None:
        """Send ``text`` with the buttons as an inline keyboard under its last piece."""
        rows = [
            [InlineKeyboardButton(str(b.get("title") or b["payload"]), callback_data=self.buttons.callback_data(str(b["payload"])))]
            for b in buttons
            if b.get("payload")
        ]  # fmt: skip
        keyboard = InlineKeyboardMarkup(rows)
        *first, last = split_text(text or "Please choose:")
        for piece in first:
            await self.send_text_message(recipient_id, piece)
        await self._send(
            recipient_id,
            "sendMessage",
            lambda: self.bot.send_message(_chat(recipient_id), last, reply_markup=keyboard),
        )

    async def send_quick_replies(
        self, recipient_id: Text, text: Text, quick_replies: List[Dict[Text, Any]], **kwargs: Any
    ) -> None:
        await self.send_text_with_buttons(recipient_id, text, quick_replies)

    async def send_attachment(self, recipient_id: Text, attachment: Any, **kwargs: Any) -> None:
        """Send a file attachment (``{"type": "file", "path", "name", "mime"}``) as a document;
        a URL as a document Telegram fetches itself."""
        if isinstance(attachment, dict) and attachment.get("type") == "file":
            await self._send_file(recipient_id, attachment)
        elif isinstance(attachment, str) and attachment.startswith(("http://", "https://")):
            await self._send(
                recipient_id, "sendDocument", lambda: self.bot.send_document(_chat(recipient_id), attachment)
            )
        else:
            logger.warning("telegram: an attachment of an unknown kind was not sent")

    async def send_image_url(self, recipient_id: Text, image: Text, **kwargs: Any) -> None:
        await self._send(recipient_id, "sendPhoto", lambda: self.bot.send_photo(_chat(recipient_id), image))

    async def send_custom_json(
        self, recipient_id: Text, json_message: Dict[Text, Any], **kwargs: Any
    ) -> None:
        """A custom payload that is one of our file attachments is sent as a document, one with
        ``text`` as a message; others are meant for other channels."""
        if json_message.get("type") == "file":
            await self._send_file(recipient_id, json_message)
        elif json_message.get("text"):
            await self.send_text_message(recipient_id, str(json_message["text"]))
        else:
            logger.debug("telegram: a custom payload for another channel was not sent")

    async def _send_file(self, recipient_id: Text, attachment: Dict[Text, Any]) -> None:
        path = Path(str(attachment.get("path") or ""))
        name = str(attachment.get("name") or path.name)
        if not path.is_file():
            logger.error("telegram: the attachment's file is missing; the person is told")
            await self.send_text_message(
                recipient_id, f"Sorry, {name} could not be attached: please ask for it again."
            )
            return

        async def upload() -> Any:
            with path.open("rb") as handle:  # opened per attempt: a retry re-reads the file
                return await self.bot.send_document(_chat(recipient_id), InputFile(handle, filename=name))

        await self._send(recipient_id, "sendDocument", upload)

    async def _send(self, recipient_id: Text, method: str, call: Callable[[], Awaitable[T]]) -> T:
        """Run ``call`` within the rate limits: a 429 is waited out (up to ``max_retry_after``
        seconds) and retried, network errors are retried with backoff; anything else, or the
        last failure, raises ``TelegramDeliveryError``."""
        failures = 0
        while True:
            await self.limiter.wait(str(recipient_id))
            try:
                return await call()
            except RetryAfter as error:
                wait = _retry_seconds(error)
                if wait > self.max_retry_after:
                    raise TelegramDeliveryError(
                        f"Telegram asked to wait {wait:.0f} s before {method}"
                    ) from error
                logger.info("telegram: %s rate limited, retrying in %.0f s", method, wait)
                await asyncio.sleep(wait)
            except NetworkError as error:  # includes TimedOut
                failures += 1
                if failures >= self.attempts:
                    raise TelegramDeliveryError(f"{method} failed {failures} times: {error}") from error
                delay = self.backoff * 2 ** (failures - 1)
                logger.warning(
                    "telegram: %s failed (%s), retrying in %.1f s", method, type(error).__name__, delay
                )
                await asyncio.sleep(delay)
            except TelegramError as error:  # refused: bad request, blocked by the person, bad token
                raise TelegramDeliveryError(f"Telegram refused {method}: {error}") from error


class _ChatTurns:
    """One chat's updates, handled one at a time: the lock and how many hold or await it."""

    def __init__(self) -> None:
        self.lock = asyncio.Lock()
        self.waiting = 0


class TelegramInput(InputChannel):
    """Receives Telegram updates by polling or by webhook and hands them to Rasa."""

    def __init__(
        self,
        settings: Settings,
        poll_timeout: int = 25,
        limiter: Optional[RateLimiter] = None,
        buttons: Optional[ButtonPayloads] = None,
    ) -> None:
        if not settings.telegram_token:
            raise ValueError(
                "BOT_TELEGRAM_TOKEN is not set: the Telegram channel needs the bot's token from BotFather."
            )
        self.settings = settings
        self.poll_timeout = poll_timeout
        self.limiter = limiter or RateLimiter()
        self.buttons = buttons or ButtonPayloads()
        self.webhook_secret = settings.telegram_webhook_secret or secrets.token_urlsafe(32)
        self._bot: Optional[Bot] = None
        self._output: Optional[TelegramOutput] = None
        self._runner: Optional[asyncio.Task] = None
        self._handling: set[asyncio.Task] = set()
        self._chats: Dict[str, _ChatTurns] = {}
        self._offset: Optional[int] = None

    @classmethod
    def name(cls) -> Text:
        return CHANNEL

    @classmethod
    def from_credentials(cls, credentials: Optional[Dict[Text, Any]]) -> "TelegramInput":
        """Settings come from the environment (``BOT_TELEGRAM_*``), never from credentials.yml."""
        return cls(Settings.from_env())

    @property
    def bot(self) -> Bot:
        """The Bot API client (made on first use, in the server's event loop)."""
        if self._bot is None:
            self._bot = Bot(
                self.settings.telegram_token,
                base_url=self.settings.telegram_api_url,
                request=HTTPXRequest(connection_pool_size=32, read_timeout=20.0),
                # Long polls get their own connection, so they never hold up replies.
                get_updates_request=HTTPXRequest(connection_pool_size=1),
            )
        return self._bot

    def get_output_channel(self) -> TelegramOutput:
        """An output channel able to message any chat (replies, and nudges via trigger_intent)."""
        if self._output is None:
            self._output = TelegramOutput(self.bot, self.limiter, self.buttons)
        return self._output

    def blueprint(self, on_new_message: OnNewMessage) -> Blueprint:
        telegram_webhook = Blueprint("telegram_webhook", __name__)

        @telegram_webhook.listener("after_server_start")
        async def start(app: Any, loop: Any) -> None:
            self.start(on_new_message)

        @telegram_webhook.listener("before_server_stop")
        async def stop(app: Any, loop: Any) -> None:
            await self.stop()

        @telegram_webhook.route("/", methods=["GET"])
        async def health(request: Request) -> HTTPResponse:
            return response.json({"status": "ok", "mode": self.settings.telegram_mode})

        @telegram_webhook.route("/webhook", methods=["POST"])
        async def receive(request: Request) -> HTTPResponse:
            if self.settings.telegram_mode != "webhook":
                return response.json(
                    {"error": "the Telegram channel is polling, not taking webhooks"}, status=404
                )
            given = request.headers.get(SECRET_HEADER, "")
            if not hmac.compare_digest(given.encode(), self.webhook_secret.encode()):
                return response.json({"error": "forbidden"}, status=403)
            try:
                update = Update.de_json(request.json, self.bot)
            except Exception:  # malformed body: Telegram never sends one, so log and drop it
                logger.warning("telegram: an unreadable webhook body was ignored")
                return response.json({"error": "unreadable update"}, status=400)
            # Answer at once (Telegram resends what is not answered quickly); handle it after.
            self._spawn(self.handle_update(update, on_new_message))
            return response.text("ok")

        return telegram_webhook

    # Running ----------------------------------------------------------------------------------

    def start(self, on_new_message: OnNewMessage) -> None:
        """Begin receiving: poll, or register the webhook (in the background: a Telegram outage
        never stops the rest of the assistant from starting)."""
        if self._runner is None:
            self._runner = asyncio.create_task(self._run(on_new_message), name="telegram")

    async def stop(self, grace: float = 10.0) -> None:
        """Stop polling, let updates being handled finish (up to ``grace`` seconds), confirm the
        last polled updates to Telegram and close the client."""
        if self._runner is not None:
            self._runner.cancel()
            await asyncio.gather(self._runner, return_exceptions=True)
            self._runner = None
        if self._handling:
            _, late = await asyncio.wait(set(self._handling), timeout=grace)
            for task in late:
                task.cancel()
        if self._bot is not None:
            if self.settings.telegram_mode == "polling" and self._offset is not None:
                try:  # an offset past the last handled update marks them read
                    await self._bot.get_updates(offset=self._offset, timeout=0, limit=1, read_timeout=5)
                except Exception as error:
                    logger.warning("telegram: could not confirm the last updates (%s)", type(error).__name__)
            await self._bot.shutdown()
            self._bot, self._output = None, None

    async def _run(self, on_new_message: OnNewMessage) -> None:
        try:
            await self._connect()
            if self.settings.telegram_mode == "polling":
                await self._poll(on_new_message)
        except asyncio.CancelledError:
            raise
        except InvalidToken:  # its message holds the token: never logged
            logger.error("telegram: the Bot API refused BOT_TELEGRAM_TOKEN; check the token BotFather gave")
        except Exception:
            logger.exception("telegram: the channel stopped; messages from Telegram are not received")

    async def _connect(self) -> None:
        """Check the token (getMe), then point Telegram at us: setWebhook, or deleteWebhook for
        polling. Network failures are retried until they succeed."""
        delay = 1.0
        while True:
            try:
                await self.bot.initialize()
                if self.settings.telegram_mode == "webhook":
                    await self.bot.set_webhook(
                        self.settings.telegram_webhook_url,
                        secret_token=self.webhook_secret,
                        allowed_updates=ALLOWED_UPDATES,
                    )
                else:
                    await self.bot.delete_webhook()
                logger.info("telegram: connected as @%s (%s)", self.bot.username, self.settings.telegram_mode)
                return
            except RetryAfter as error:
                await asyncio.sleep(_retry_seconds(error))
            except NetworkError as error:
                logger.warning(
                    "telegram: cannot reach the Bot API (%s), retrying in %.0f s", type(error).__name__, delay
                )
                await asyncio.sleep(delay)
                delay = min(delay * 2, 60.0)

    async def _poll(self, on_new_message: OnNewMessage) -> None:
        delay = 1.0
        while True:
            try:
                updates = await self.bot.get_updates(
                    offset=self._offset, timeout=self.poll_timeout, allowed_updates=ALLOWED_UPDATES
                )
            except RetryAfter as error:
                await asyncio.sleep(_retry_seconds(error))
                continue
            except (NetworkError, TelegramError) as error:  # Conflict: another poller or a webhook
                logger.warning(
                    "telegram: getUpdates failed (%s: %s), retrying in %.0f s", type(error).__name__, error, delay
                )
                await asyncio.sleep(delay)
                delay = min(delay * 2, 60.0)
                continue
            delay = 1.0
            for update in updates:
                self._offset = update.update_id + 1
                self._spawn(self.handle_update(update, on_new_message))

    def _spawn(self, work: Awaitable[None]) -> None:
        task = asyncio.ensure_future(work)
        self._handling.add(task)
        task.add_done_callback(self._handling.discard)

    # Handling ---------------------------------------------------------------------------------

    async def handle_update(self, update: Update, on_new_message: OnNewMessage) -> None:
        """Pass one update to Rasa, after the chat's earlier updates. Never raises: a failure is
        logged (without the message's text) and the next update is handled."""
        chat = self._chat_of(update)
        if chat is None:
            logger.debug("telegram: update %s ignored (not a private message or a press)", update.update_id)
            return
        turns = self._chats.setdefault(chat, _ChatTurns())
        turns.waiting += 1
        try:
            async with turns.lock:  # asyncio.Lock is first come, first served
                await self._handle(update, chat, on_new_message)
        except Exception:
            logger.exception("telegram: update %s could not be handled", update.update_id)
        finally:
            turns.waiting -= 1
            if turns.waiting == 0:
                del self._chats[chat]

    @staticmethod
    def _chat_of(update: Update) -> Optional[str]:
        """The private chat an update belongs to; None for updates the assistant ignores."""
        if update.message is not None:
            return str(update.message.chat.id) if update.message.chat.type == ChatType.PRIVATE else None
        query = update.callback_query
        if query is not None:
            message = query.message
            if message is not None:
                return str(message.chat.id) if message.chat.type == ChatType.PRIVATE else None
            return str(query.from_user.id)  # in a private chat, the chat id is the user's id
        return None

    async def _handle(self, update: Update, chat: str, on_new_message: OnNewMessage) -> None:
        output = self.get_output_channel()
        # ``input_channel`` names the channel at a session's start, before the tracker knows it.
        metadata: Dict[str, Any] = {"input_channel": self.name(), "telegram": {"update_id": update.update_id, "chat_id": chat}}
        if update.callback_query is not None:
            query = update.callback_query
            text = self.buttons.payload(query.data or "")
            await self._answer(query.id, EXPIRED_BUTTON if text is None else None)
            if text is None:
                return
            metadata["telegram"]["button"] = True
        else:
            message = update.message
            if not message.text:
                await output.send_text_message(chat, TEXT_ONLY)
                return
            metadata["telegram"]["message_id"] = message.message_id
            text = message.text
            if text == "/start" or text.startswith("/start "):
                text = START_MESSAGE
        await on_new_message(
            UserMessage(
                text, output, sender_id=chat, input_channel=self.name(),
                message_id=str(update.update_id), metadata=metadata,
            )  # fmt: skip
        )

    async def _answer(self, query_id: str, text: Optional[str]) -> None:
        """Stop the button's spinner (showing ``text``, if any, in a pop-up); a query too old to
        answer does not stop the press."""
        try:
            await self.bot.answer_callback_query(query_id, text=text, show_alert=text is not None)
        except TelegramError as error:
            logger.info("telegram: callback query not answered (%s)", error)
