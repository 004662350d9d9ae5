"""The Teams connector (``bot/channels/teams.py``) against a fake Bot Framework on loopback
(``tests/channels/fake_botframework.py``): the SDK's real ``ConnectorClient`` talks HTTP to it,
nothing is monkeypatched. Unit tests first, then the whole assistant serving with Teams on."""

from __future__ import annotations

import asyncio
import io
import json
import os
import stat
import subprocess
import sys
import time
import urllib.error
import urllib.request
import uuid
from pathlib import Path
from typing import Any, Iterator

import docx
import pytest
from PIL import Image

from bot.channels.teams import (
    BOT_FRAMEWORK_ISSUER,
    ConversationRateLimiter,
    ConversationReference,
    ConversationStore,
    FileLinks,
    TeamsAppCredentials,
    TeamsConnector,
    TeamsDeliveryError,
    TeamsOutput,
    TokenValidator,
    Unauthorized,
    UnknownTeamsRecipient,
    default_token_url,
    tenant_issuers,
)
from bot.config import PROJECT_ROOT
from tests.channels.fake_botframework import FakeBotFramework

APP_ID = "8d6f0c4e-3b1a-4f7e-9a52-0c2d1e6b7f10"
PASSWORD = "fake-client-secret-for-tests"
TENANT = "5a1e9c3d-7b2f-4e60-8d14-93c0b6a2f7e8"


@pytest.fixture(scope="module")
def fake() -> Iterator[FakeBotFramework]:
    with FakeBotFramework() as running:
        yield running


@pytest.fixture(autouse=True)
def fresh(fake: FakeBotFramework) -> None:
    fake.activities.clear()
    fake.token_requests.clear()
    fake._failures.clear()


def validate(validator: TokenValidator, token: str | None, service_url: str, channel: str = "msteams") -> dict:
    header = f"Bearer {token}" if token else None
    return asyncio.run(validator.validate(header, service_url=service_url, channel_id=channel))


# -- inbound tokens ---------------------------------------------------------------------------


def test_a_bot_framework_token_for_this_app_is_accepted(fake):
    validator = TokenValidator(APP_ID, openid_url=f"{fake.url}/openid")
    claims = validate(validator, fake.token(audience=APP_ID, service_url=fake.url), fake.url)
    assert (claims["iss"], claims["aud"]) == (BOT_FRAMEWORK_ISSUER, APP_ID)


REFUSED = {
    "missing": lambda fake: None,
    "forged (signed with another key)": lambda fake: fake.token(audience=APP_ID, service_url=fake.url, forged=True),
    "expired (beyond the clock skew)": lambda fake: fake.token(audience=APP_ID, service_url=fake.url, expires_in=-600),
    "for another app": lambda fake: fake.token(audience="another-app", service_url=fake.url),
    "from another issuer": lambda fake: fake.token(audience=APP_ID, service_url=fake.url, issuer="https://evil.example"),
    "for another service URL": lambda fake: fake.token(audience=APP_ID, service_url="https://evil.example/"),
    "without a service URL": lambda fake: fake.token(audience=APP_ID, service_url=fake.url, serviceurl=None),
    "not a JWT": lambda fake: "not-a-jwt",
}


@pytest.mark.parametrize("case", REFUSED)
def test_a_token_that_is_not_right_is_refused(fake, case):
    validator = TokenValidator(APP_ID, openid_url=f"{fake.url}/openid")
    with pytest.raises(Unauthorized):
        validate(validator, REFUSED[case](fake), fake.url)


def test_a_key_not_endorsed_for_the_channel_is_refused(fake):
    validator = TokenValidator(APP_ID, openid_url=f"{fake.url}/openid")
    with pytest.raises(Unauthorized, match="endorsed"):
        validate(validator, fake.token(audience=APP_ID, service_url=fake.url), fake.url, channel="slack")


def test_a_slightly_early_clock_is_tolerated_but_not_a_late_one(fake):
    validator = TokenValidator(APP_ID, openid_url=f"{fake.url}/openid")
    assert validate(validator, fake.token(audience=APP_ID, service_url=fake.url, expires_in=-60), fake.url)
    with pytest.raises(Unauthorized):
        validate(validator, fake.token(audience=APP_ID, service_url=fake.url, expires_in=-301), fake.url)


def test_single_tenant_accepts_its_own_tenant_issuers_only(fake):
    single = TokenValidator(APP_ID, openid_url=f"{fake.url}/openid", tenant_id=TENANT)
    for issuer in tenant_issuers(TENANT):
        assert validate(single, fake.token(audience=APP_ID, service_url=fake.url, issuer=issuer), fake.url)
    assert validate(single, fake.token(audience=APP_ID, service_url=fake.url), fake.url)  # the channel's own
    other_tenant = tenant_issuers("00000000-0000-0000-0000-000000000000")[0]
    with pytest.raises(Unauthorized, match="issuer"):
        validate(single, fake.token(audience=APP_ID, service_url=fake.url, issuer=other_tenant), fake.url)
    multi = TokenValidator(APP_ID, openid_url=f"{fake.url}/openid")
    with pytest.raises(Unauthorized, match="issuer"):
        validate(multi, fake.token(audience=APP_ID, service_url=fake.url, issuer=tenant_issuers(TENANT)[0]), fake.url)


def test_signing_keys_are_cached_and_fetched_again_for_an_unknown_key_id(fake):
    validator = TokenValidator(APP_ID, openid_url=f"{fake.url}/openid", min_key_refresh=0)
    before = fake.key_fetches
    for _ in range(3):
        validate(validator, fake.token(audience=APP_ID, service_url=fake.url), fake.url)
    assert fake.key_fetches == before + 1
    fake.rotate_key()
    assert validate(validator, fake.token(audience=APP_ID, service_url=fake.url), fake.url)
    assert fake.key_fetches == before + 2


# -- outbound ---------------------------------------------------------------------------------


def reference(fake: FakeBotFramework, sender: str = "aad-practitioner") -> ConversationReference:
    return ConversationReference(sender_id=sender, service_url=fake.url, conversation_id=f"a:conv-{sender}",
                                 bot_id=f"28:{APP_ID}", user_id=f"29:{sender}", tenant_id=TENANT)  # fmt: skip


def output(fake: FakeBotFramework, tmp_path: Path, **connector: Any) -> TeamsOutput:
    store = ConversationStore(tmp_path / "teams-conversations.json")
    store.save(reference(fake))
    credentials = TeamsAppCredentials(APP_ID, PASSWORD, token_url=f"{fake.url}/token")
    return TeamsOutput(TeamsConnector(credentials, **connector), store)


def test_buttons_go_out_as_a_hero_card_whose_presses_carry_the_payload(fake, tmp_path):
    buttons = [{"title": "Resolved", "payload": "/resolved"}, {"title": "Not resolved: escalate", "payload": "/not_resolved"}]
    asyncio.run(output(fake, tmp_path).send_text_with_buttons("aad-practitioner", "Has it been resolved?\nSay which.", buttons))
    [received] = fake.activities
    assert received.conversation_id == "a:conv-aad-practitioner" and received.reply_to_id is None
    activity = received.activity
    assert activity["type"] == "message" and activity["text"] == "Has it been resolved?  \nSay which."
    assert activity["recipient"]["id"] == "29:aad-practitioner" and activity["channelData"]["tenant"]["id"] == TENANT
    [card] = activity["attachments"]
    assert card["contentType"] == "application/vnd.microsoft.card.hero"
    assert [(b["type"], b["title"], b["value"]) for b in card["content"]["buttons"]] == [
        ("messageBack", "Resolved", {"payload": "/resolved"}),
        ("messageBack", "Not resolved: escalate", {"payload": "/not_resolved"}),
    ]
    assert received.authorization.startswith("Bearer fake-access-")


def test_a_429_is_retried_after_the_wait_it_asks_for(fake, tmp_path):
    fake.fail_next(1, status=429, retry_after="2")
    started = time.monotonic()
    asyncio.run(output(fake, tmp_path).send_text_message("aad-practitioner", "hello"))
    assert time.monotonic() - started >= 1.9  # Retry-After: 2, not the 1 s backoff of a first retry
    assert [a.activity["text"] for a in fake.activities] == ["hello"]


def test_a_message_the_service_never_takes_raises_rather_than_vanishing(fake, tmp_path):
    fake.fail_next(3, status=503, retry_after="0")
    with pytest.raises(TeamsDeliveryError, match="after 3 attempts"):
        asyncio.run(output(fake, tmp_path, attempts=3).send_text_message("aad-practitioner", "hello"))
    assert fake.activities == []


def test_writing_to_someone_without_a_teams_conversation_is_a_clear_error(fake, tmp_path):
    with pytest.raises(UnknownTeamsRecipient, match="need to message the assistant in Teams"):
        asyncio.run(output(fake, tmp_path).send_text_message("aad-stranger", "hello"))


@pytest.mark.parametrize("tenant, path", [(TENANT, f"/{TENANT}/oauth2/v2.0/token"), ("", "/botframework.com/oauth2/v2.0/token")])
def test_the_token_comes_from_the_tenant_endpoint_for_a_single_tenant_app(fake, tmp_path, tenant, path):
    credentials = TeamsAppCredentials(APP_ID, PASSWORD, tenant_id=tenant, login_url_prefix=f"{fake.url}/")
    asyncio.run(TeamsConnector(credentials).send(reference(fake), _activity("hi")))
    [request] = fake.token_requests
    assert request.path == path
    assert request.form == {"grant_type": "client_credentials", "client_id": APP_ID, "client_secret": PASSWORD,
                            "scope": "https://api.botframework.com/.default"}  # fmt: skip
    assert default_token_url(TENANT) == f"https://login.microsoftonline.com/{TENANT}/oauth2/v2.0/token"
    assert default_token_url("") == "https://login.microsoftonline.com/botframework.com/oauth2/v2.0/token"


def _activity(text: str):
    from botframework.connector.models import Activity

    return Activity(type="message", text=text)


def test_the_rate_limiter_keeps_to_teams_limits_per_conversation():
    now = [0.0]

    async def sleep(seconds: float) -> None:
        now[0] += seconds

    limiter = ConversationRateLimiter(clock=lambda: now[0], sleep=sleep)

    async def send(conversation: str, count: int) -> list[float]:
        times = []
        for _ in range(count):
            await limiter.wait_turn(conversation)
            times.append(now[0])
        return times

    times = asyncio.run(send("a", 20))
    assert times[:7] == [0.0] * 7 and times[7] == 1.0  # 7 a second, then 8 in 2 s
    assert all(sum(1 for t in times if start <= t < start + 2) <= 8 for start in times)
    assert asyncio.run(send("b", 1)) == [now[0]]  # another conversation does not wait


def test_the_file_form_is_a_card_with_an_expiring_signed_download_link(fake, tmp_path):
    documents = tmp_path / "documents"
    documents.mkdir()
    form = documents / "ESC-0001-appendix-a.docx"
    form.write_bytes(b"docx")
    links = FileLinks(PASSWORD.encode(), documents)
    store = ConversationStore(tmp_path / "teams-conversations.json")
    store.save(dataclasses_replace(reference(fake), bot_url="https://bot.example/webhooks/teams"))
    teams = TeamsOutput(TeamsConnector(TeamsAppCredentials(APP_ID, PASSWORD, token_url=f"{fake.url}/token")), store,
                        file_links=links)  # fmt: skip
    attachment = {"type": "file", "name": form.name, "path": str(form), "mime": "application/vnd.openxmlformats-officedocument.wordprocessingml.document"}
    asyncio.run(teams.send_attachment("aad-practitioner", attachment))
    [card] = fake.activities[0].activity["attachments"]
    [button] = card["content"]["buttons"]
    assert button["type"] == "openUrl" and button["value"].startswith("https://bot.example/webhooks/teams/files/")
    token = button["value"].rsplit("/", 1)[1]
    assert links.resolve(token) == form.resolve()
    assert links.resolve(token[:-2] + "xx") is None  # tampered
    assert FileLinks(b"another secret", documents).resolve(token) is None
    assert FileLinks(PASSWORD.encode(), documents, clock=lambda: time.time() + 2 * 86400).resolve(token) is None
    with pytest.raises(ValueError):
        links.token(tmp_path / "teams-conversations.json")  # outside the documents folder


def dataclasses_replace(reference: ConversationReference, **changes: Any) -> ConversationReference:
    import dataclasses

    return dataclasses.replace(reference, **changes)


def test_conversation_references_are_kept_privately_and_survive_a_new_store(fake, tmp_path):
    path = tmp_path / "var" / "teams-conversations.json"
    ConversationStore(path).save(reference(fake))
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert ConversationStore(path).get("aad-practitioner") == reference(fake)
    assert ConversationStore(path).get("aad-nobody") is None
    assert [p.name for p in path.parent.iterdir()] == ["teams-conversations.json"]  # no temporary left


# -- the app package --------------------------------------------------------------------------


def test_the_manifest_parses_and_its_icons_have_the_sizes_teams_requires():
    folder = PROJECT_ROOT / "teams"
    manifest = json.loads((folder / "manifest.json").read_text(encoding="utf-8"))
    assert tuple(int(p) for p in manifest["manifestVersion"].split(".")) >= (1, 16)
    assert manifest["id"] == "${BOT_TEAMS_APP_ID}"
    [bot] = manifest["bots"]
    assert bot["botId"] == "${BOT_TEAMS_APP_ID}" and set(bot["scopes"]) == {"personal", "team"}
    color = Image.open(folder / manifest["icons"]["color"])
    assert color.size == (192, 192)
    outline = Image.open(folder / manifest["icons"]["outline"]).convert("RGBA")
    assert outline.size == (32, 32)
    pixels = list(outline.getdata())
    assert pixels[0][3] == 0  # transparent background
    assert {p[:3] for p in pixels if p[3] > 0} == {(255, 255, 255)}  # white only


# -- through the running assistant ------------------------------------------------------------

RASA_PORT, ACTIONS_PORT = 5405, 5455
RASA = f"http://127.0.0.1:{RASA_PORT}"
WEBHOOK = f"{RASA}/webhooks/teams/webhook"


@pytest.fixture(scope="module")
def teams_server(fake, tmp_path_factory) -> Iterator[Path]:
    from tests.serving import ServerDidNotStart, serving

    var = tmp_path_factory.mktemp("teams-var")
    env = {"BOT_TEAMS_APP_ID": APP_ID, "BOT_TEAMS_APP_PASSWORD": PASSWORD,
           "BOT_TEAMS_OPENID_URL": f"{fake.url}/openid", "BOT_TEAMS_TOKEN_URL": f"{fake.url}/token"}  # fmt: skip
    try:
        with serving(var, RASA_PORT, ACTIONS_PORT, env=env):
            yield var
    except ServerDidNotStart as error:
        pytest.fail(str(error))


class TeamsUser:
    """Someone writing to the bot in a personal chat, as the Bot Framework delivers it."""

    def __init__(self, fake: FakeBotFramework) -> None:
        self.fake = fake
        self.aad_id = str(uuid.uuid4())
        self.conversation_id = f"a:1{uuid.uuid4().hex}"

    def activity(self, text: str = "", value: Any = None, kind: str = "message") -> dict:
        body = {
            "type": kind, "id": f"f:{uuid.uuid4().hex[:12]}", "channelId": "msteams", "serviceUrl": self.fake.url,
            "from": {"id": f"29:{self.aad_id[:8]}", "aadObjectId": self.aad_id},
            "recipient": {"id": f"28:{APP_ID}", "name": "Safeguarding escalation"},
            "conversation": {"id": self.conversation_id, "conversationType": "personal", "tenantId": TENANT},
            "channelData": {"tenant": {"id": TENANT}},
        }  # fmt: skip
        if text:
            body["text"] = text
        if value is not None:
            body["value"] = value
        return body

    def post(self, body: dict, token: str | None = None) -> int:
        token = token or self.fake.token(audience=APP_ID, service_url=self.fake.url)
        request = urllib.request.Request(WEBHOOK, data=json.dumps(body).encode(), method="POST",
                                         headers={"Content-Type": "application/json", "Authorization": f"Bearer {token}"})  # fmt: skip
        try:
            with urllib.request.urlopen(request, timeout=120) as answer:
                return answer.status
        except urllib.error.HTTPError as error:
            return error.code

    def say(self, text: str = "", value: Any = None) -> list[dict]:
        """Send a message; the activities the bot sent back into this conversation."""
        before = len(self.fake.in_conversation(self.conversation_id))
        body = self.activity(text, value)
        assert self.post(body) == 200
        replies = self.fake.in_conversation(self.conversation_id)[before:]
        assert replies, "the bot did not answer"
        assert {r.reply_to_id for r in replies} == {body["id"]}
        return [r.activity for r in replies]


def tracker(sender: str) -> dict:
    with urllib.request.urlopen(f"{RASA}/conversations/{sender}/tracker") as answer:
        return json.loads(answer.read())


def texts(activities: list[dict]) -> str:
    return "\n".join(a.get("text") or "" for a in activities)


def payloads(activity: dict) -> list[str]:
    return [b["value"]["payload"] for card in activity.get("attachments") or [] for b in card["content"]["buttons"]
            if b["type"] == "messageBack"]  # fmt: skip


@pytest.mark.server
def test_a_message_with_a_valid_token_gets_the_assistants_reply(fake, teams_server):
    user = TeamsUser(fake)
    replies = user.say("the other agency has closed the case and I disagree with their decision")
    assert texts(replies).strip()
    assert tracker(user.aad_id)["latest_input_channel"] == "teams"
    stored = json.loads((teams_server / "teams-conversations.json").read_text())[user.aad_id]
    assert (stored["conversation_id"], stored["service_url"], stored["tenant_id"]) == (user.conversation_id, fake.url, TENANT)
    assert stat.S_IMODE((teams_server / "teams-conversations.json").stat().st_mode) == 0o600


@pytest.mark.server
@pytest.mark.parametrize("token", ["forged", "expired", "wrong audience"])
def test_a_bad_token_gets_401_and_nothing_is_processed(fake, teams_server, token):
    user = TeamsUser(fake)
    minted = {
        "forged": fake.token(audience=APP_ID, service_url=fake.url, forged=True),
        "expired": fake.token(audience=APP_ID, service_url=fake.url, expires_in=-3600),
        "wrong audience": fake.token(audience="another-app", service_url=fake.url),
    }[token]
    assert user.post(user.activity("hello"), token=minted) == 401
    time.sleep(1)
    assert fake.in_conversation(user.conversation_id) == []
    assert not any(e["event"] == "user" for e in tracker(user.aad_id)["events"])
    stored = teams_server / "teams-conversations.json"
    assert not stored.exists() or user.aad_id not in json.loads(stored.read_text())


@pytest.mark.server
def test_other_activities_are_acknowledged(fake, teams_server):
    user = TeamsUser(fake)
    added = {**user.activity(kind="conversationUpdate"), "membersAdded": [{"id": f"28:{APP_ID}"}]}
    assert user.post(added) == 200
    assert user.post(user.activity(kind="typing")) == 200


@pytest.mark.server
def test_a_button_press_continues_the_conversation(fake, teams_server):
    user = TeamsUser(fake)
    user.say("the other agency has closed the case and I disagree with their decision")
    chosen = user.say(value={"payload": '/choose_partnership{"partnership": "south-tyneside"}'})
    assert "South Tyneside" in texts(chosen)
    assert tracker(user.aad_id)["slots"]["partnership"] == "south-tyneside"


def operator(var: Path, *args: str, now: str | None = None) -> str:
    env = {**os.environ, "BOT_VAR_DIR": str(var), "BOT_RASA_PORT": str(RASA_PORT), "BOT_ACTIONS_PORT": str(ACTIONS_PORT)}
    if now:
        env["BOT_NOW"] = now
    done = subprocess.run([sys.executable, "-m", "bot", *args], cwd=PROJECT_ROOT, env=env,
                          capture_output=True, text=True, timeout=120)  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr
    return done.stdout


@pytest.mark.server
def test_a_due_stage_nudges_the_teams_manager_proactively_with_buttons(fake, teams_server):
    from tests.serving import new_sender, say
    from tests.test_record_conversations import open_record

    manager = TeamsUser(fake)
    manager.say("hello")  # their conversation remembered
    practitioner = new_sender()
    reference = open_record(practitioner, "south-tyneside", url=RASA)
    say(practitioner, "not resolved", url=RASA)
    say(practitioner, "we spoke on the phone, they will not reopen it", url=RASA)
    say(practitioner, "they say the threshold is not met", url=RASA)
    assert say(practitioner, "/affirm", url=RASA).startswith(f"{reference} moved to Stage 1")
    operator(teams_server, "people", "manager", f"rest:{practitioner}", f"teams:{manager.aad_id}")

    before = len(fake.in_conversation(manager.conversation_id))
    assert "sent 2" in operator(teams_server, "nudges", "sweep", now="2026-11-24T10:00:00+00:00")
    nudges = fake.in_conversation(manager.conversation_id)[before:]
    assert nudges and all(n.reply_to_id is None for n in nudges)  # written first, not a reply
    nudge = nudges[-1].activity
    assert nudge["text"].startswith(f"⏰ {reference} (South Tyneside): Stage 1")
    assert payloads(nudge) == ["/resolved", "/not_resolved", "/more_time"]

    asked = manager.say(value={"payload": "/not_resolved"})  # pressing the nudge's button
    assert "What happened at Stage 1" in texts(asked)


@pytest.mark.server
def test_a_first_message_registers_the_person_under_teams(fake, teams_server):
    from sqlalchemy import select

    from bot.config import Settings
    from bot.records.db import open_database
    from bot.records.models import Person

    user = TeamsUser(fake)
    user.say("hello")
    database = open_database(Settings.from_env({"BOT_VAR_DIR": str(teams_server)}))
    try:
        with database.session() as session:
            people = session.scalars(select(Person).where(Person.channel_id == user.aad_id)).all()
            assert [p.channel for p in people] == ["teams"]
    finally:
        database.dispose()


@pytest.mark.server
def test_a_whole_escalation_over_teams_to_the_form_download(fake, teams_server):
    """Triage, the partnership's button, the record's form, two stages not resolved, and South
    Tyneside's Appendix A at Stage 2 as a download link that serves the Word file."""
    user = TeamsUser(fake)
    asked = user.say("the other agency has closed the case and I disagree with their decision")
    assert "Which safeguarding partnership" in texts(asked)
    choose = next(p for a in asked for p in payloads(a) if "south-tyneside" in p)
    user.say(value={"payload": choose})
    asked = texts(user.say(value={"payload": "/open_record"}))
    if "child (under 18) or an adult" in asked:
        asked = texts(user.say(value={"payload": '/inform_subject{"subject": "children"}'}))
    assert "case reference" in asked
    assert "Which agency or team" in texts(user.say("CSC-204518"))
    assert "Which is it mostly about?" in texts(user.say("children's social care assessment team"))
    user.say(value={"payload": '/inform_category{"category": "step-up-step-down"}'})
    user.say("the case was closed although the home conditions have not changed")
    asked = texts(user.say("the case to stay open with a plan"))
    asked = texts(user.say("two home visits in November found the same conditions")) if "evidence" in asked else asked
    if "Which agency and team" in asked:
        user.say("health visiting")
        asked = texts(user.say("health visitor"))
    assert asked.startswith("Opened ESC-")
    reference = asked.split()[1].rstrip(",.:")
    for stage in ("Stage 1", "Stage 2"):
        user.say("not resolved")
        user.say("we spoke, they will not reopen it")
        user.say("they say the threshold is not met")
        moved = user.say(value={"payload": "/affirm"})
        assert texts(moved).startswith(f"{reference} moved to {stage}")
    links = [b["value"] for a in moved for card in a.get("attachments") or [] for b in card["content"].get("buttons") or []
             if b["type"] == "openUrl"]  # fmt: skip
    assert links, "Stage 2's Appendix A was not offered"
    local = links[0].replace(links[0].split("/webhooks/")[0], RASA)
    with urllib.request.urlopen(local, timeout=30) as answer:
        document = docx.Document(io.BytesIO(answer.read()))
    assert "Escalation Notification" in "\n".join(p.text for p in document.paragraphs)
