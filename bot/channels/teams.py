"""Microsoft Teams: a Rasa custom connector (``teams``) on Microsoft's botframework-connector SDK.

Inbound, ``POST /webhooks/teams/webhook`` receives the Bot Framework's activities. Each carries
``Authorization: Bearer <JWT>``, checked before anything is read (``TokenValidator``): an RS256
signature by a key from the OpenID metadata's ``jwks_uri`` (``BOT_TEAMS_OPENID_URL``; keys cached,
fetched again for an unknown key id), the issuer (``https://api.botframework.com``; for a
single-tenant app also the tenant's own Azure AD issuers), the audience (``BOT_TEAMS_APP_ID``),
expiry and not-before with five minutes' clock skew, the channel in the key's endorsements, and
the token's ``serviceurl`` claim equal to the activity's ``serviceUrl``. Anything else: 401, and
nothing is processed or stored. PyJWT does the checking rather than the SDK's
``JwtTokenValidation``, whose key cache fetches with blocking ``requests`` inside the event loop,
is process-global, refreshes an unknown key at most hourly and does not know tenant issuers.

A message becomes a ``UserMessage`` whose sender id is the person's Azure AD object id (else the
Teams user id); a card button press (``messageBack`` / ``Action.Submit`` with value
``{"payload": ...}``, or ``imBack``) is its payload. Other activity types are acknowledged.

Outbound, ``TeamsOutput`` sends through the SDK's async ``ConnectorClient`` with
``TeamsAppCredentials`` (a ``MicrosoftAppCredentials`` whose token comes from the tenant's token
endpoint for a single-tenant app, ``botframework.com``'s otherwise, or ``BOT_TEAMS_TOKEN_URL``).
Sends keep to Teams' per-conversation limits (7 a second, 8 in 2 s, 60 in 30 s, 1800 an hour),
retry 429 and 5xx honouring ``Retry-After``, and raise ``TeamsDeliveryError`` after the last
attempt, never dropping a message silently (a nudge is then retried by the sweeper).

Proactive messages (nudges) need a conversation reference: one per sender, from their personal
chat with the bot, kept in ``$BOT_VAR_DIR/teams-conversations.json`` (mode 600, replaced
atomically). A team channel's thread is answered in place but never remembered, so a nudge about
a case never lands in a channel. Writing to someone with no reference raises
``UnknownTeamsRecipient``.

Word forms: a bot cannot post a file into a personal chat without the file consent flow, so the
form is a card with a *Download* button opening ``/webhooks/teams/files/<token>``; the token is an
HMAC (keyed from the app password) naming the file under ``var/documents/`` and an expiry
(``FILE_LINK_TTL``), so it is unguessable, cannot reach another file and survives a restart.
The link's host is the one the Bot Framework reached the webhook at (``Host``, or
``X-Forwarded-Host``/``-Proto`` from a reverse proxy).
"""

from __future__ import annotations

import asyncio
import base64
import collections
import contextlib
import dataclasses
import email.utils
import hashlib
import hmac
import json
import logging
import math
import os
import re
import tempfile
import threading
import time
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Awaitable, Callable, Deque, Dict, Iterable, List, Optional, Text

import aiohttp
import jwt
import requests
from botframework.connector.aio import ConnectorClient
from botframework.connector.auth import AuthenticationConstants, MicrosoftAppCredentials
from botframework.connector.models import (
    ActionTypes,
    Activity,
    ActivityTypes,
    Attachment,
    AttachmentLayoutTypes,
    CardAction,
    ChannelAccount,
    ConversationAccount,
    ErrorResponseException,
    HeroCard,
)
from msrest.exceptions import ClientRequestError
from rasa.core.channels.channel import InputChannel, OutputChannel, UserMessage
from sanic import Blueprint, response
from sanic.request import Request
from sanic.response import HTTPResponse

from bot.config import Settings

logger = logging.getLogger(__name__)

BOT_FRAMEWORK_ISSUER = AuthenticationConstants.TO_BOT_FROM_CHANNEL_TOKEN_ISSUER
MICROSOFT_OPENID_URL = AuthenticationConstants.TO_BOT_FROM_CHANNEL_OPENID_METADATA_URL
MICROSOFT_LOGIN_URL = AuthenticationConstants.TO_CHANNEL_FROM_BOT_LOGIN_URL_PREFIX
TOKEN_PATH = AuthenticationConstants.TO_CHANNEL_FROM_BOT_TOKEN_ENDPOINT_PATH
CLOCK_SKEW_SECONDS = 5 * 60  # what Microsoft's own validators allow
CONVERSATIONS_FILE = "teams-conversations.json"
FILE_LINK_TTL = 24 * 60 * 60
CARD_BUTTONS = 6  # Teams shows at most six buttons on a hero card
# Teams' per-bot, per-conversation limits: (window in seconds, messages allowed in it).
RATE_WINDOWS = ((1.0, 7), (2.0, 8), (30.0, 60), (3600.0, 1800))
RETRYABLE = frozenset({429, 500, 502, 503, 504})


class Unauthorized(Exception):
    """An inbound request's token was refused; the message says why (never the token)."""


class UnknownTeamsRecipient(LookupError):
    """There is no Teams conversation with this sender to write to."""


class TeamsDeliveryError(RuntimeError):
    """The Bot Framework did not take a message after every attempt."""


# ---------------------------------------------------------------------------------------------
# Inbound: who may call the webhook


def tenant_issuers(tenant_id: str) -> tuple[str, str]:
    """The Azure AD issuers (v1 and v2 tokens) of a single-tenant app's own tenant."""
    return (f"https://sts.windows.net/{tenant_id}/", f"https://login.microsoftonline.com/{tenant_id}/v2.0")


class OpenIdKeys:
    """The signing keys published at an OpenID metadata document's ``jwks_uri``.

    Keys are kept for ``max_age`` seconds; a token signed with a key id not among them fetches
    them again, at most once every ``min_refresh`` seconds (so forged key ids cannot make the bot
    hammer the metadata endpoint).
    """

    def __init__(self, metadata_url: str, *, min_refresh: float = 60.0, max_age: float = 24 * 3600.0,
                 timeout: float = 10.0) -> None:  # fmt: skip
        self.metadata_url = metadata_url
        self.min_refresh = min_refresh
        self.max_age = max_age
        self.timeout = timeout
        self._keys: Dict[str, Dict[str, Any]] = {}
        self._fetched_at = -math.inf

    async def key(self, kid: str) -> tuple[Any, list[str]]:
        """The public key with id ``kid`` and its endorsements (the channels it may sign for)."""
        age = time.monotonic() - self._fetched_at
        if age > self.max_age or (kid not in self._keys and age > self.min_refresh):
            await self._refresh()
        jwk = self._keys.get(kid)
        if jwk is None:
            raise Unauthorized("the token is signed with a key the OpenID metadata does not list")
        return jwt.PyJWK.from_dict(jwk, algorithm="RS256").key, list(jwk.get("endorsements") or [])

    async def _refresh(self) -> None:
        try:
            async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=self.timeout)) as session:
                async with session.get(self.metadata_url) as answer:
                    answer.raise_for_status()
                    jwks_uri = (await answer.json(content_type=None))["jwks_uri"]
                async with session.get(jwks_uri) as answer:
                    answer.raise_for_status()
                    keys = (await answer.json(content_type=None))["keys"]
        except (aiohttp.ClientError, asyncio.TimeoutError, KeyError, TypeError, ValueError) as error:
            logger.error("Teams: could not fetch the signing keys from %s (%s)", self.metadata_url, error)
            if not self._keys:
                raise Unauthorized("the signing keys could not be fetched") from None
            return  # keep the keys we have; a key we lack is still refused
        self._keys = {key["kid"]: key for key in keys if key.get("kid")}
        self._fetched_at = time.monotonic()


class TokenValidator:
    """Checks the ``Authorization`` header of a request from the Bot Framework."""

    def __init__(self, app_id: str, *, openid_url: str = MICROSOFT_OPENID_URL, tenant_id: str = "",
                 tenant_openid_url: str = "", clock_skew: int = CLOCK_SKEW_SECONDS,
                 min_key_refresh: float = 60.0) -> None:  # fmt: skip
        self.app_id = app_id
        self.clock_skew = clock_skew
        channel_keys = OpenIdKeys(openid_url, min_refresh=min_key_refresh)
        self._keys_by_issuer: Dict[str, OpenIdKeys] = {BOT_FRAMEWORK_ISSUER: channel_keys}
        if tenant_id:
            # Tokens from the tenant's Azure AD are signed with the tenant's keys; a configured
            # (non-Microsoft) metadata URL serves every issuer, as a sovereign cloud or a test fake does.
            if not tenant_openid_url:
                tenant_openid_url = (
                    f"https://login.microsoftonline.com/{tenant_id}/v2.0/.well-known/openid-configuration"
                    if openid_url == MICROSOFT_OPENID_URL else openid_url
                )  # fmt: skip
            tenant_keys = channel_keys if tenant_openid_url == openid_url else OpenIdKeys(tenant_openid_url, min_refresh=min_key_refresh)
            for issuer in tenant_issuers(tenant_id):
                self._keys_by_issuer[issuer] = tenant_keys

    @classmethod
    def from_settings(cls, settings: Settings) -> "TokenValidator":
        return cls(settings.teams_app_id, openid_url=settings.teams_openid_url, tenant_id=settings.teams_tenant_id)

    async def validate(self, authorization: Optional[str], *, service_url: str, channel_id: str) -> Dict[str, Any]:
        """The token's claims, if it may deliver this activity; else ``Unauthorized``."""
        scheme, _, token = (authorization or "").partition(" ")
        if scheme != "Bearer" or not token.strip():
            raise Unauthorized("no bearer token")
        token = token.strip()
        try:
            header = jwt.get_unverified_header(token)
            issuer = jwt.decode(token, options={"verify_signature": False}).get("iss")
        except jwt.PyJWTError:
            raise Unauthorized("the token is not a JWT") from None
        if header.get("alg") != "RS256" or not header.get("kid"):
            raise Unauthorized("the token is not RS256-signed with a key id")
        keys = self._keys_by_issuer.get(issuer) if isinstance(issuer, str) else None
        if keys is None:
            raise Unauthorized("the token's issuer is not accepted")
        public_key, endorsements = await keys.key(header["kid"])
        if endorsements and channel_id not in endorsements:
            raise Unauthorized("the signing key is not endorsed for this channel")
        try:
            claims = jwt.decode(
                token, public_key, algorithms=["RS256"], audience=self.app_id, issuer=issuer,
                leeway=self.clock_skew, options={"require": ["exp", "iss", "aud"]},
            )  # fmt: skip
        except jwt.PyJWTError as error:
            raise Unauthorized(f"the token was refused ({type(error).__name__})") from None
        claimed_url = claims.get("serviceurl")
        # Bot Framework tokens always name the service URL they were issued for; tenant tokens may not.
        if (issuer == BOT_FRAMEWORK_ISSUER or claimed_url is not None) and (
            not isinstance(claimed_url, str) or claimed_url.rstrip("/") != service_url.rstrip("/")
        ):
            raise Unauthorized("the token's serviceurl does not match the activity's")
        return claims


# ---------------------------------------------------------------------------------------------
# Conversation references


@dataclasses.dataclass(frozen=True)
class ConversationReference:
    """Enough to write into someone's Teams conversation without a message to answer."""

    sender_id: str
    service_url: str
    conversation_id: str
    bot_id: str
    user_id: str
    tenant_id: str = ""
    channel_id: str = "msteams"
    bot_url: str = ""  # the public base of this connector's routes (for file links)

    @classmethod
    def from_activity(cls, activity: Activity, sender_id: str, bot_url: str = "") -> "ConversationReference":
        conversation = activity.conversation or ConversationAccount()
        channel_data = activity.channel_data if isinstance(activity.channel_data, dict) else {}
        tenant = conversation.tenant_id or ((channel_data.get("tenant") or {}).get("id")) or ""
        return cls(
            sender_id=sender_id,
            service_url=activity.service_url or "",
            conversation_id=conversation.id or "",
            bot_id=(activity.recipient.id if activity.recipient else "") or "",
            user_id=(activity.from_property.id if activity.from_property else "") or "",
            tenant_id=tenant,
            channel_id=activity.channel_id or "msteams",
            bot_url=bot_url,
        )


class ConversationStore:
    """Conversation references by sender id, in one JSON file (mode 600, replaced atomically)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._lock = threading.Lock()

    def _read(self) -> Dict[str, Dict[str, str]]:
        try:
            return json.loads(self.path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            return {}

    def get(self, sender_id: str) -> Optional[ConversationReference]:
        with self._lock:
            stored = self._read().get(sender_id)
        if stored is None:
            return None
        fields = {f.name for f in dataclasses.fields(ConversationReference)}
        return ConversationReference(**{k: v for k, v in stored.items() if k in fields})

    def save(self, reference: ConversationReference) -> None:
        """Remember ``reference`` for its sender (a no-op when nothing changed)."""
        with self._lock:
            references = self._read()
            entry = dataclasses.asdict(reference)
            if references.get(reference.sender_id) == entry:
                return
            references[reference.sender_id] = entry
            self.path.parent.mkdir(parents=True, exist_ok=True)
            descriptor, temporary = tempfile.mkstemp(prefix=".teams-", dir=self.path.parent)
            try:
                os.fchmod(descriptor, 0o600)
                with os.fdopen(descriptor, "w", encoding="utf-8") as file:
                    json.dump(references, file, indent=1, sort_keys=True)
                    file.flush()
                    os.fsync(file.fileno())
                os.replace(temporary, self.path)
            except BaseException:
                with contextlib.suppress(FileNotFoundError):
                    os.unlink(temporary)
                raise


# ---------------------------------------------------------------------------------------------
# Outbound: credentials, rate limits, retries


def default_token_url(tenant_id: str, login_url_prefix: str = MICROSOFT_LOGIN_URL) -> str:
    """Microsoft's token endpoint: the app's tenant (single-tenant) or ``botframework.com``."""
    return f"{login_url_prefix}{tenant_id or AuthenticationConstants.DEFAULT_CHANNEL_AUTH_TENANT}{TOKEN_PATH}"


class TeamsAppCredentials(MicrosoftAppCredentials):
    """The SDK's app credentials with the client-credentials grant made directly to one token URL.

    The SDK's own ``get_access_token`` goes through MSAL, which discovers an authority's
    endpoints from the authority's host and so cannot be pointed at a single token URL
    (``BOT_TEAMS_TOKEN_URL``, a sovereign cloud, a test fake). The tenant logic is the SDK's:
    ``channel_auth_tenant`` (single-tenant) or ``botframework.com``. Tokens are cached until
    five minutes before they expire.
    """

    def __init__(self, app_id: str, password: str, *, tenant_id: str = "", token_url: str = "",
                 login_url_prefix: str = MICROSOFT_LOGIN_URL, timeout: float = 30.0) -> None:  # fmt: skip
        self._login_url_prefix = login_url_prefix  # read by the SDK's constructor below
        super().__init__(app_id, password, channel_auth_tenant=tenant_id or None)
        self.token_url = token_url or f"{self.oauth_endpoint}{TOKEN_PATH}"
        self.timeout = timeout
        self._token = ""
        self._expires_at = 0.0
        self._token_lock = threading.Lock()

    def _get_to_channel_from_bot_loginurl_prefix(self) -> str:
        return self._login_url_prefix

    def get_access_token(self, force_refresh: bool = False) -> str:
        """A bearer token for the Bot Connector service (blocking; cached)."""
        with self._token_lock:
            if self._token and not force_refresh and time.monotonic() < self._expires_at:
                return self._token
            scope = self.oauth_scope if self.oauth_scope.endswith("/.default") else f"{self.oauth_scope}/.default"
            form = {"grant_type": "client_credentials", "client_id": self.microsoft_app_id,
                    "client_secret": self.microsoft_app_password, "scope": scope}  # fmt: skip
            try:
                answer = requests.post(self.token_url, data=form, timeout=self.timeout)
            except requests.RequestException as error:
                raise TeamsDeliveryError(f"The token endpoint {self.token_url} could not be reached ({type(error).__name__}).") from None
            if answer.status_code != 200:
                raise PermissionError(
                    f"The token endpoint {self.token_url} refused the app's credentials (HTTP {answer.status_code}): "
                    "check BOT_TEAMS_APP_ID, BOT_TEAMS_APP_PASSWORD and BOT_TEAMS_TENANT_ID."
                )
            body = answer.json()
            self._token = body["access_token"]
            self._expires_at = time.monotonic() + max(60, int(body.get("expires_in", 3600)) - 300)
            return self._token


class ConversationRateLimiter:
    """Waits before a send that would break Teams' per-conversation limits."""

    def __init__(self, windows: Iterable[tuple[float, int]] = RATE_WINDOWS,
                 clock: Callable[[], float] = time.monotonic,
                 sleep: Callable[[float], Awaitable[None]] = asyncio.sleep) -> None:  # fmt: skip
        self.windows = tuple(windows)
        self.clock = clock
        self.sleep = sleep
        self._sent: Dict[str, Deque[float]] = collections.defaultdict(collections.deque)

    async def wait_turn(self, conversation_id: str) -> None:
        """Return when one more message may go to ``conversation_id`` (and count it as sent)."""
        longest = max(window for window, _ in self.windows)
        while True:
            now = self.clock()
            sent = self._sent[conversation_id]
            while sent and sent[0] <= now - longest:
                sent.popleft()
            wait = max((sent[-limit] + window - now for window, limit in self.windows if len(sent) >= limit), default=0.0)
            if wait <= 0:
                sent.append(now)
                return
            await self.sleep(wait)


def retry_after_seconds(headers: Any) -> Optional[float]:
    """The wait a ``Retry-After`` header asks for (seconds or an HTTP date), if any."""
    raw = (headers or {}).get("Retry-After")
    if not raw:
        return None
    try:
        return max(0.0, float(raw))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(raw)
    except (TypeError, ValueError):
        return None
    return max(0.0, (when - datetime.now(timezone.utc)).total_seconds())


class TeamsConnector:
    """Sends activities into conversations, within the rate limits, retrying what can be retried."""

    def __init__(self, credentials: TeamsAppCredentials, *, limiter: Optional[ConversationRateLimiter] = None,
                 attempts: int = 5, backoff: float = 1.0, max_wait: float = 60.0,
                 sleep: Callable[[float], Awaitable[None]] = asyncio.sleep) -> None:  # fmt: skip
        self.credentials = credentials
        self.limiter = limiter or ConversationRateLimiter()
        self.attempts = attempts
        self.backoff = backoff
        self.max_wait = max_wait
        self.sleep = sleep
        self._clients: Dict[str, ConnectorClient] = {}

    def client(self, service_url: str) -> ConnectorClient:
        if service_url not in self._clients:
            client = ConnectorClient(self.credentials, base_url=service_url)
            client.config.retry_policy.retries = 0  # retries are ours: rate limits and Retry-After
            client.config.connection.timeout = 30
            self._clients[service_url] = client
        return self._clients[service_url]

    async def send(self, reference: ConversationReference, activity: Activity, *, reply_to_id: str = "") -> str:
        """Post ``activity`` into the reference's conversation; the id the service gave it."""
        loop = asyncio.get_running_loop()
        client = self.client(reference.service_url)
        status: object = None
        for attempt in range(1, self.attempts + 1):
            # The SDK fetches the token synchronously while signing; warm its cache off the loop.
            await loop.run_in_executor(None, self.credentials.get_access_token)
            await self.limiter.wait_turn(reference.conversation_id)
            wait: Optional[float] = None
            try:
                if reply_to_id:
                    sent = await client.conversations.reply_to_activity(reference.conversation_id, reply_to_id, activity)
                else:
                    sent = await client.conversations.send_to_conversation(reference.conversation_id, activity)
                return getattr(sent, "id", "") or ""
            except ErrorResponseException as error:
                status = error.response.status_code if error.response is not None else None
                if status == 401 and attempt == 1:
                    await loop.run_in_executor(None, lambda: self.credentials.get_access_token(force_refresh=True))
                    wait = 0.0
                elif status not in RETRYABLE:
                    raise TeamsDeliveryError(f"The Bot Framework refused the message (HTTP {status}).") from None
                else:
                    wait = retry_after_seconds(error.response.headers if error.response is not None else None)
            except ClientRequestError as error:
                status = type(error).__name__
            if attempt < self.attempts:
                wait = self.backoff * 2 ** (attempt - 1) if wait is None else wait
                logger.warning("Teams: send to a conversation failed (%s); retrying in %.1f s", status, wait)
                await self.sleep(min(wait, self.max_wait))
        raise TeamsDeliveryError(f"The Bot Framework did not take the message after {self.attempts} attempts (last: {status}).")


# ---------------------------------------------------------------------------------------------
# Files: unguessable, expiring links to the partnership's forms


class FileLinks:
    """Signed tokens naming a file under ``root`` until an expiry time."""

    def __init__(self, secret: bytes, root: Path, *, ttl: int = FILE_LINK_TTL,
                 clock: Callable[[], float] = time.time) -> None:  # fmt: skip
        self._key = hmac.new(secret, b"teams-file-links", hashlib.sha256).digest()
        self.root = root
        self.ttl = ttl
        self.clock = clock

    def _sign(self, body: bytes) -> str:
        return base64.urlsafe_b64encode(hmac.new(self._key, body, hashlib.sha256).digest()).decode().rstrip("=")

    def token(self, path: Path) -> str:
        """A token for ``path``; ``ValueError`` if it is not a file under ``root``."""
        relative = path.resolve().relative_to(self.root.resolve())
        body = json.dumps({"p": relative.as_posix(), "e": int(self.clock()) + self.ttl}, separators=(",", ":")).encode()
        return base64.urlsafe_b64encode(body).decode().rstrip("=") + "." + self._sign(body)

    def resolve(self, token: str) -> Optional[Path]:
        """The file a valid, unexpired token names; ``None`` otherwise."""
        encoded, _, signature = token.partition(".")
        try:
            body = base64.urlsafe_b64decode(encoded + "=" * (-len(encoded) % 4))
            if not hmac.compare_digest(signature, self._sign(body)):
                return None
            claims = json.loads(body)
            path = (self.root / claims["p"]).resolve()
            path.relative_to(self.root.resolve())
        except (ValueError, KeyError, TypeError):
            return None
        if int(claims.get("e", 0)) < self.clock() or not path.is_file():
            return None
        return path


# ---------------------------------------------------------------------------------------------
# Rasa's side: output and input channels


def _markdown(text: str) -> str:
    # Teams renders markdown; a lone newline would run lines together, so make it a hard break.
    return re.sub(r"(?<!\n)\n(?!\n)", "  \n", text)


def button_cards(buttons: List[Dict[str, Any]]) -> List[Attachment]:
    """Rasa buttons as hero cards of up to six buttons; a press posts back ``{"payload": ...}``."""
    actions = []
    for button in buttons:
        title = str(button.get("title") or button.get("payload") or "")
        if button.get("url"):
            actions.append(CardAction(type=ActionTypes.open_url, title=title, value=button["url"]))
        else:
            payload = str(button.get("payload") or title)
            actions.append(CardAction(type=ActionTypes.message_back, title=title, text=title,
                                      display_text=title, value={"payload": payload}))  # fmt: skip
    return [
        Attachment(content_type="application/vnd.microsoft.card.hero",
                   content=HeroCard(buttons=actions[start:start + CARD_BUTTONS]).serialize())  # fmt: skip
        for start in range(0, len(actions), CARD_BUTTONS)
    ]


class TeamsOutput(OutputChannel):
    """Writes to Teams senders: in reply to their message, or first (nudges)."""

    @classmethod
    def name(cls) -> Text:
        return "teams"

    def __init__(self, connector: TeamsConnector, conversations: ConversationStore, *,
                 current: Optional[ConversationReference] = None, reply_to_id: str = "",
                 file_links: Optional[FileLinks] = None) -> None:  # fmt: skip
        self.connector = connector
        self.conversations = conversations
        self.current = current
        self.reply_to_id = reply_to_id
        self.file_links = file_links

    def _reference(self, recipient_id: str) -> ConversationReference:
        if self.current is not None and self.current.sender_id == recipient_id:
            return self.current
        reference = self.conversations.get(recipient_id)
        if reference is None:
            raise UnknownTeamsRecipient(
                f"There is no Teams conversation with {recipient_id}: they need to message the assistant "
                "in Teams (or install its app) before it can write to them first."
            )
        return reference

    async def _send(self, recipient_id: str, *, text: str = "", attachments: Optional[List[Attachment]] = None) -> None:
        reference = self._reference(recipient_id)
        activity = Activity(
            type=ActivityTypes.message,
            text=_markdown(text) if text else None,
            text_format="markdown",
            from_property=ChannelAccount(id=reference.bot_id),
            recipient=ChannelAccount(id=reference.user_id),
            conversation=ConversationAccount(id=reference.conversation_id, tenant_id=reference.tenant_id or None),
            channel_data={"tenant": {"id": reference.tenant_id}} if reference.tenant_id else None,
            attachments=attachments or None,
            attachment_layout=AttachmentLayoutTypes.list if attachments else None,
        )
        reply_to = self.reply_to_id if reference is self.current else ""
        await self.connector.send(reference, activity, reply_to_id=reply_to)

    async def send_text_message(self, recipient_id: Text, text: Text, **kwargs: Any) -> None:
        await self._send(recipient_id, text=text)

    async def send_text_with_buttons(self, recipient_id: Text, text: Text, buttons: List[Dict[Text, Any]],
                                     **kwargs: Any) -> None:  # fmt: skip
        await self._send(recipient_id, text=text, attachments=button_cards(buttons))

    async def send_image_url(self, recipient_id: Text, image: Text, **kwargs: Any) -> None:
        await self._send(recipient_id, attachments=[Attachment(content_type="image/png", content_url=image)])

    async def send_attachment(self, recipient_id: Text, attachment: Any, **kwargs: Any) -> None:
        """A file (``{"type": "file", "name", "path", "mime"}``) as a card with a download link."""
        if not isinstance(attachment, dict) or attachment.get("type") != "file":
            await self._send(recipient_id, text=str(attachment))
            return
        reference = self._reference(recipient_id)
        name = str(attachment.get("name") or Path(str(attachment["path"])).name)
        if self.file_links is None or not reference.bot_url:
            raise TeamsDeliveryError(f"{name} cannot be linked: the connector's public address is not known yet.")
        link = f"{reference.bot_url}/files/{self.file_links.token(Path(str(attachment['path'])))}"
        card = HeroCard(title=name, text="The form is ready. The link works for 24 hours.",
                        buttons=[CardAction(type=ActionTypes.open_url, title=f"Download {name}", value=link)])  # fmt: skip
        await self._send(recipient_id, attachments=[
            Attachment(content_type="application/vnd.microsoft.card.hero", content=card.serialize())
        ])  # fmt: skip


def message_payload(activity: Activity) -> str:
    """What the person said: a card button's payload, else the text without @mentions."""
    value = activity.value
    if isinstance(value, dict) and value.get("payload"):
        return str(value["payload"])
    return re.sub(r"<at>.*?</at>", "", activity.text or "").strip()


def public_base(request: Request) -> str:
    """This connector's base URL as the Bot Framework reached it (behind a proxy too)."""
    scheme = request.headers.get("x-forwarded-proto", "").split(",")[0].strip() or request.scheme
    host = request.headers.get("x-forwarded-host", "").split(",")[0].strip() or request.host
    return f"{scheme}://{host}{request.path.rsplit('/', 1)[0]}"


class TeamsInput(InputChannel):
    """Receives the Bot Framework's activities at ``/webhooks/teams/webhook``."""

    @classmethod
    def name(cls) -> Text:
        return "teams"

    @classmethod
    def from_credentials(cls, credentials: Optional[Dict[Text, Any]]) -> InputChannel:
        # Nothing is read from credentials.yml: settings (and secrets) come from the environment.
        return cls(Settings.from_env())

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.validator = TokenValidator.from_settings(settings)
        self.conversations = ConversationStore(settings.var_dir / CONVERSATIONS_FILE)
        self.file_links = FileLinks(settings.teams_app_password.encode(), settings.documents_dir)
        self._connector: Optional[TeamsConnector] = None

    @property
    def connector(self) -> TeamsConnector:
        if self._connector is None:
            self._connector = TeamsConnector(TeamsAppCredentials(
                self.settings.teams_app_id, self.settings.teams_app_password,
                tenant_id=self.settings.teams_tenant_id, token_url=self.settings.teams_token_url,
            ))  # fmt: skip
        return self._connector

    def get_output_channel(self) -> Optional[OutputChannel]:
        """An output that can write first to anyone who has a Teams conversation with the bot."""
        return TeamsOutput(self.connector, self.conversations, file_links=self.file_links)

    def blueprint(self, on_new_message: Callable[[UserMessage], Awaitable[Any]]) -> Blueprint:
        teams = Blueprint("teams_webhook", __name__)

        @teams.route("/", methods=["GET"])
        async def health(_: Request) -> HTTPResponse:
            return response.json({"status": "ok"})

        @teams.route("/files/<token>", methods=["GET"])
        async def download(_: Request, token: str) -> HTTPResponse:
            path = self.file_links.resolve(token)
            if path is None:
                return response.json({"error": "This link has expired or is not valid: ask for the form again."}, status=404)
            return await response.file(str(path), filename=path.name, headers={"Cache-Control": "no-store"})

        @teams.route("/webhook", methods=["POST"])
        async def receive(request: Request) -> HTTPResponse:
            try:
                body = json.loads(request.body or b"")
                activity = Activity.deserialize(body)
            except Exception:  # msrest raises several kinds for a body that is not an Activity
                return response.json({"error": "The body is not a Bot Framework activity."}, status=400)
            try:
                await self.validator.validate(request.headers.get("Authorization"),
                                              service_url=activity.service_url or "",
                                              channel_id=activity.channel_id or "")  # fmt: skip
            except Unauthorized as error:
                logger.warning("Teams: refused a request: %s", error)
                return response.json({"error": "Unauthorized"}, status=401)
            await self.handle(activity, on_new_message, public_base(request))
            return response.json({}, status=200)

        return teams

    async def handle(self, activity: Activity, on_new_message: Callable[[UserMessage], Awaitable[Any]],
                     bot_url: str) -> None:  # fmt: skip
        """Act on an authenticated activity: remember the conversation, pass messages to Rasa."""
        sender = activity.from_property
        if sender is None or not (sender.aad_object_id or sender.id):
            return
        sender_id = sender.aad_object_id or sender.id
        conversation_type = (activity.conversation.conversation_type if activity.conversation else None) or "personal"
        reference = ConversationReference.from_activity(activity, sender_id, bot_url)
        if conversation_type == "personal":
            self.conversations.save(reference)  # installs and messages alike make nudges possible
        if activity.type != ActivityTypes.message:
            return
        text = message_payload(activity)
        if not text:
            return
        output = TeamsOutput(self.connector, self.conversations, current=reference,
                             reply_to_id=activity.id or "", file_links=self.file_links)  # fmt: skip
        # Rasa hands this to action_session_start (slot session_started_metadata) before the
        # message's own input channel is on the tracker: "input_channel" says who is starting.
        metadata = {"input_channel": self.name(),
                    "teams": {"conversation_type": conversation_type, "tenant_id": reference.tenant_id}}  # fmt: skip
        try:
            await on_new_message(UserMessage(text, output, sender_id, input_channel=self.name(), metadata=metadata))
        except Exception:  # the webhook still answers 200, or the Bot Framework would resend it
            logger.exception("Teams: the reply to a message could not be sent")
