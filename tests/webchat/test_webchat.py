"""The web chat in a real browser (Debian's Chromium, driven by Playwright) at a phone's size: a
disagreement walked with the real assistant; nudges read from the tracker; Rasa down said politely.

The assistant runs as `make serve` runs it (tests/serving.py) on this suite's ports; the web chat
server runs in this process on BOT_WEBCHAT_PORT, the origin Rasa's ``--cors`` allows.
"""

from __future__ import annotations

import contextlib
import json
import re
import shutil
import threading
import urllib.request
from pathlib import Path
from typing import Iterator

import pytest
from playwright.sync_api import expect

from bot.config import PROJECT_ROOT, Settings
from bot.webchat import POLL_SECONDS, create_server
from tests.browser import chromium_page

pytestmark = pytest.mark.server

RASA_PORT, ACTIONS_PORT, WEBCHAT_PORT = 5505, 5555, 8505  # this suite's ports only
RASA_URL = f"http://127.0.0.1:{RASA_PORT}"
WEBCHAT_URL = f"http://127.0.0.1:{WEBCHAT_PORT}/"
PHONE = {"width": 390, "height": 844}
SCREENSHOT = PROJECT_ROOT / "build" / "results" / "webchat.png"
DISAGREEMENT = "the other agency closed the case and I disagree with their decision"


@pytest.fixture
def phone(tmp_path: Path):
    """A fresh Chromium profile at a phone's viewport, with touch; one page open."""
    with chromium_page(
        tmp_path / "chromium-profile", timeout_ms=60_000, viewport=PHONE, has_touch=True, is_mobile=True,
        device_scale_factor=2,
    ) as page:  # fmt: skip
        yield page


@contextlib.contextmanager
def webchat(poll_seconds: float = POLL_SECONDS) -> Iterator[str]:
    """The web chat server on BOT_WEBCHAT_PORT, pointing at BOT_RASA_PORT, until the block ends.
    Where `make serve` already runs one there for this suite's assistant, that one is used."""
    settings = Settings.from_env({"BOT_RASA_PORT": str(RASA_PORT), "BOT_WEBCHAT_PORT": str(WEBCHAT_PORT)})
    try:
        server = create_server(settings, poll_seconds=poll_seconds)
    except OSError:
        if poll_seconds != POLL_SECONDS or not serves_this_webchat():
            raise
        yield WEBCHAT_URL
        return
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield WEBCHAT_URL
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


def serves_this_webchat() -> bool:
    """Whether BOT_WEBCHAT_PORT already serves the web chat for this suite's Rasa server."""
    try:
        with urllib.request.urlopen(f"{WEBCHAT_URL}config.js", timeout=5) as response:
            return RASA_URL.encode() in response.read()
    except OSError:
        return False


@pytest.fixture(scope="module")
def assistant(tmp_path_factory) -> Iterator[str]:
    """The real assistant (Rasa, actions, nudges) on this suite's ports, deployed as a partnership
    that restricts records to registered staff (work e-mail domains, or an invitation code)."""
    from tests.serving import ServerDidNotStart, serving

    restricted = {"BOT_REGISTRATION_DOMAINS": "southtyneside.gov.uk,nhs.net", "BOT_REGISTRATION_CODES": "ST-PILOT-2026"}
    try:
        with serving(tmp_path_factory.mktemp("var"), RASA_PORT, ACTIONS_PORT, env=restricted) as url:
            yield url
    except ServerDidNotStart as error:
        pytest.fail(f"the assistant did not start: {error}")


def sender_of(page) -> str:
    return page.evaluate("() => localStorage.getItem('safeguarding-webchat:sender')")


def tracker_with_nudge(sender: str) -> dict:
    """A tracker as Rasa gives it: an ordinary turn, then a nudge the scheduler triggered."""
    return {
        "sender_id": sender,
        "slots": {},
        "events": [
            {"event": "user", "timestamp": 1.0, "text": "hello", "parse_data": {"intent": {"name": "greet"}}},
            {"event": "bot", "timestamp": 1.5, "text": "Ordinary answer", "data": {}},
            {"event": "user", "timestamp": 2.0, "parse_data": {"intent": {"name": "EXTERNAL_nudge"}}},
            {"event": "bot", "timestamp": 2.5, "text": "⏰ ESC-0001: Stage 1 is due today.\nHas it been resolved?",
             "data": {"buttons": [{"title": "Resolved", "payload": "/resolved"},
                                  {"title": "Not resolved: escalate", "payload": "/not_resolved"}]}},
            {"event": "bot", "timestamp": 2.6, "text": "<b>not bold</b>", "data": {}},
        ],
    }  # fmt: skip


def test_nudges_in_the_tracker_are_shown_once(phone):
    """Rasa's answers here are faked in the browser (Playwright routes), to control the tracker."""
    page = phone
    polls: list[str] = []
    posts: list[dict] = []
    allow = {"Access-Control-Allow-Origin": "*", "Access-Control-Allow-Headers": "Content-Type"}

    def tracker(route) -> None:
        sender = route.request.url.split("/conversations/")[1].split("/")[0]
        polls.append(sender)
        route.fulfill(status=200, headers=allow, content_type="application/json",
                      body=json.dumps(tracker_with_nudge(sender) if len(polls) >= 2 else {"events": []}))  # fmt: skip

    def webhook(route) -> None:
        if route.request.method == "OPTIONS":
            route.fulfill(status=204, headers={**allow, "Access-Control-Allow-Methods": "POST"})
            return
        posts.append(json.loads(route.request.post_data))
        route.fulfill(status=200, headers=allow, content_type="application/json",
                      body=json.dumps([{"recipient_id": "x", "text": "Good, resolved at Stage 1."},
                                       {"recipient_id": "x", "attachment": {"type": "file", "name": "ESC-0001-form.docx",
                                                                           "path": "/srv/var/documents/ESC-0001-form.docx"}}]))  # fmt: skip

    page.route(f"{RASA_URL}/conversations/**", tracker)
    page.route(f"{RASA_URL}/webhooks/rest/webhook", webhook)
    with webchat(poll_seconds=1):
        page.goto(WEBCHAT_URL)
        nudge = page.locator(".message.nudge", has_text="ESC-0001: Stage 1 is due today").first
        nudge.wait_for()  # arrived at a later poll, not with the page
        sender = sender_of(page)
        assert polls[0] == sender
        assert "Ordinary answer" not in page.locator("#conversation").inner_text()
        assert nudge.locator(".text").inner_text() == "⏰ ESC-0001: Stage 1 is due today.\nHas it been resolved?"
        assert nudge.locator(".label").inner_text() == "Reminder"
        # Bot text is text: markup in it is shown, never interpreted.
        assert page.locator(".message.bot .text", has_text="<b>not bold</b>").count() == 1
        assert page.locator("#conversation b").count() == 0

        page.wait_for_timeout(2500)  # more polls: the same events are not shown again
        assert page.locator(".message.nudge", has_text="ESC-0001").count() == 1

        nudge.get_by_role("button", name="Resolved", exact=True).tap()
        page.locator(".message.user .text", has_text="Resolved").wait_for()
        page.locator(".message.bot", has_text="Good, resolved at Stage 1.").wait_for()
        assert posts == [{"sender": sender, "message": "/resolved"}]
        file = page.locator(".attachment")
        file.wait_for()
        assert "ESC-0001-form.docx" in file.inner_text()

        page.reload()  # the same browser: the same conversation, the nudge not shown twice
        count = len(polls)
        page.wait_for_timeout(2500)
        assert len(polls) > count and polls[-1] == sender
        assert page.locator(".message.nudge").count() == 0


def test_the_assistant_being_down_is_said_politely(phone):
    page = phone
    page.route(f"{RASA_URL}/**", lambda route: route.abort("connectionrefused"))
    with webchat():
        page.goto(WEBCHAT_URL)
        box = page.get_by_label("Your message")
        box.fill("I disagree with children's social care")
        page.get_by_role("button", name="Send message").tap()
        error = page.get_by_role("alert")
        error.wait_for()
        assert "isn't answering just now" in error.inner_text()
        assert "call 999" in error.inner_text()
        assert box.input_value() == "I disagree with children's social care"  # kept, to send again
        assert page.get_by_role("button", name="Send message").is_enabled()


def test_a_disagreement_walked_on_a_phone(phone, assistant, tmp_path, library):
    page = phone
    with webchat():
        page.goto(WEBCHAT_URL)
        assert "names, dates of birth, addresses" in page.locator("#privacy-note").inner_text()
        log = page.get_by_role("log", name="Conversation with the assistant")
        assert log.get_attribute("aria-live") == "polite"
        sender = sender_of(page)
        assert re.fullmatch(r"webchat-[0-9a-f]{24}", sender)

        box = page.get_by_label("Your message")
        box.fill(DISAGREEMENT)
        box.press("Enter")
        page.locator(".message.user .text", has_text=DISAGREEMENT).wait_for()
        question = page.locator(".message.bot", has_text="Which safeguarding partnership").last
        question.wait_for()
        choices = question.get_by_role("button")
        titles = choices.all_inner_texts()
        assert len(titles) >= 5, titles
        for choice in choices.all():
            assert choice.bounding_box()["height"] >= 44  # a finger's tap target

        tyneside = question.get_by_role("button", name=re.compile("South Tyneside"))
        title = tyneside.inner_text()
        tyneside.tap()
        page.locator(".message.user .text", has_text=title).wait_for()
        stage = page.locator(".message.bot", has_text="Source: South Tyneside procedure").last
        stage.wait_for()
        walk = stage.locator(".text").inner_text()
        # A long answer opens at its start, under the choice that was pressed.
        expect(page.locator(".message.user", has_text=title)).to_be_in_viewport()
        expect(stage.locator(".text")).to_be_in_viewport()
        assert walk.startswith(library["south-tyneside"].stages[0].title), walk  # the first stage's walk
        assert "Timescale: within one working day: by Tue 24 Nov 2026." in walk
        assert "\n" in walk  # the reply's line breaks are kept
        assert tyneside.is_disabled()  # an answered question can't be pressed again
        assert page.locator(".message.error").count() == 0

        # No sideways scrolling at a phone's width; the reply is in view.
        assert page.evaluate("() => document.documentElement.scrollWidth") <= PHONE["width"]
        shot = tmp_path / "webchat.png"
        page.screenshot(path=str(shot))
        SCREENSHOT.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(shot, SCREENSHOT)
        print(f"web chat screenshot: {shot} (copied to {SCREENSHOT})")

        # The browser's sender id is the conversation the assistant kept: the choice was the payload.
        with urllib.request.urlopen(f"{assistant}/conversations/{sender}/tracker", timeout=10) as response:
            tracker = json.loads(response.read())
        assert tracker["slots"]["partnership"] == "south-tyneside"
        assert tracker["slots"]["route"] == "disagreement"
        texts = [e.get("text") for e in tracker["events"] if e.get("event") == "user"]
        assert texts[0] == DISAGREEMENT
        assert texts[1].startswith("/choose_partnership")

        page.reload()
        assert sender_of(page) == sender  # the same conversation per browser


def test_an_unregistered_user_gets_guidance_but_registers_before_any_record(assistant):
    """Over the REST channel the web chat uses, on a partnership that restricts records."""
    from tests.serving import new_sender, say

    sender = new_sender()
    assert "Only registered people can see escalation records" in say(sender, "show my escalations", url=assistant)
    risk = say(sender, "a child has just told me her stepdad hit her and she is scared to go home tonight", url=assistant)
    assert risk.startswith("🚨 • If anyone is in immediate danger, call the police on 999 now.")
    say(sender, '/choose_partnership{"partnership": "south-tyneside"}', url=assistant)
    asked = say(sender, "/open_record", url=assistant)
    if "child (under 18) or an adult" in asked:
        asked = say(sender, '/inform_subject{"subject": "children"}', url=assistant)
    assert "work e-mail" in asked
    refused = say(sender, "someone@gmail.com", url=assistant)
    assert "invitation code" in refused  # outside the domains: a code is asked for instead
    assert "isn't one the partnership has issued" in say(sender, "GUESS-1234", url=assistant)
    assert "line manager's work e-mail" in say(sender, "ST-PILOT-2026", url=assistant)
    assert "case reference" in say(sender, "none", url=assistant)
