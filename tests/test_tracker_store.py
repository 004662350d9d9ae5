"""``CachingSQLTrackerStore`` stores and returns exactly what Rasa's ``SQLTrackerStore`` does, on
SQLite and PostgreSQL, while reusing a conversation's tracker between its messages."""

from __future__ import annotations

import asyncio
import time

import pytest
import yaml
from rasa.core.tracker_store import SQLTrackerStore, create_tracker_store
from rasa.shared.core.domain import Domain
from rasa.shared.core.events import ActionExecuted, BotUttered, SessionStarted, SlotSet, UserUttered
from rasa.utils.endpoints import read_endpoint_config

from bot.config import PROJECT_ROOT, Settings
from bot.serve import write_endpoints
from bot.tracker_store import CachingSQLTrackerStore

DOMAIN = Domain.load(PROJECT_ROOT / "domain.yml")


@pytest.fixture(params=["sqlite", "postgresql"])
def url(request, tmp_path) -> str:
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'conversations.db'}"
    return request.getfixturevalue("postgres_database")


def store(url: str, kind=CachingSQLTrackerStore, **kwargs):
    return kind(domain=DOMAIN, host=url, **kwargs)


def run(coroutine):
    return asyncio.run(coroutine)


def turn(tracker, text: str, reply: str, timestamp: float) -> None:
    """One user message and the bot's answer, as the processor adds them."""
    tracker.update(UserUttered(text, {"name": "greet", "confidence": 1.0}, timestamp=timestamp))
    tracker.update(SlotSet("partnership", "warrington-adults", timestamp=timestamp))
    tracker.update(ActionExecuted("utter_greet", timestamp=timestamp))
    tracker.update(BotUttered(reply, timestamp=timestamp))
    tracker.update(ActionExecuted("action_listen", timestamp=timestamp))


def as_stored(url: str, sender: str) -> list[dict]:
    """The conversation as Rasa's own SQL tracker store reads it back."""
    tracker = run(store(url, SQLTrackerStore).retrieve(sender))
    return [event.as_dict() for event in tracker.events] if tracker else []


def test_a_conversation_is_stored_as_rasa_stores_it_and_kept_between_messages(url):
    caching = store(url)
    tracker = run(caching.get_or_create_tracker("s1"))
    for number in range(3):
        turn(tracker, f"hello {number}", f"hi {number}", 1000.0 + number)
        run(caching.save(tracker))
        again = run(caching.retrieve("s1"))
        assert again is tracker  # the kept tracker, not one rebuilt from the database
        tracker = again

    assert as_stored(url, "s1") == [event.as_dict() for event in tracker.events]
    assert len(tracker.events) == 1 + 3 * 5
    assert run(store(url).retrieve("s1")).current_state() == tracker.current_state()  # a restart reads the same


def test_many_new_events_are_stored_in_order_in_several_inserts(url):
    """More new events than one INSERT takes (a conversation imported or replayed at once)."""
    from bot.tracker_store import ROWS_PER_INSERT

    caching = store(url)
    tracker = run(caching.get_or_create_tracker("many"))
    for number in range(ROWS_PER_INSERT // 2):  # five events a turn: two and a half INSERTs
        turn(tracker, f"hello {number}", f"hi {number}", 2000.0 + number)
    assert len(tracker.events) > 2 * ROWS_PER_INSERT
    run(caching.save(tracker))
    assert as_stored(url, "many") == [event.as_dict() for event in tracker.events]
    assert run(caching.retrieve("many")) is tracker


def test_what_another_replica_added_is_read_not_the_kept_tracker(url):
    first, second = store(url), store(url)
    tracker = run(first.get_or_create_tracker("s2"))
    turn(tracker, "hello", "hi", 1000.0)
    run(first.save(tracker))

    elsewhere = run(second.retrieve("s2"))
    turn(elsewhere, "on the other server", "answered there", 1001.0)
    run(second.save(elsewhere))

    back = run(first.retrieve("s2"))
    assert back is not tracker
    assert [event.as_dict() for event in back.events] == [event.as_dict() for event in elsewhere.events]
    assert back.latest_message.text == "on the other server"


def test_a_tracker_changed_but_not_saved_is_read_again_from_the_database(url):
    caching = store(url)
    tracker = run(caching.get_or_create_tracker("s3"))
    turn(tracker, "hello", "hi", 1000.0)
    run(caching.save(tracker))
    saved = [event.as_dict() for event in tracker.events]

    turn(tracker, "lost when the server failed mid-message", "never sent", 1001.0)  # no save

    back = run(caching.retrieve("s3"))
    assert [event.as_dict() for event in back.events] == saved
    assert back.latest_message.text == "hello"


def test_after_a_new_session_only_that_session_is_returned_as_rasa_does(url):
    caching = store(url)
    tracker = run(caching.get_or_create_tracker("s4"))
    now = time.time()
    turn(tracker, "first session", "hi", now + 1)
    run(caching.save(tracker))
    tracker.update(ActionExecuted("action_session_start", timestamp=now + 3600))
    tracker.update(SessionStarted(timestamp=now + 3600))
    tracker.update(ActionExecuted("action_listen", timestamp=now + 3600))
    run(caching.save(tracker))

    back = run(caching.retrieve("s4"))
    assert [event.as_dict() for event in back.events] == as_stored(url, "s4")
    assert any(isinstance(event, SessionStarted) for event in back.events)
    assert not any(isinstance(event, UserUttered) for event in back.events)  # the first session's
    assert run(caching.retrieve("s4")) is back  # kept again from then on


def test_a_tracker_it_did_not_hand_out_adds_only_its_new_events(url):
    rasa_store, caching = store(url, SQLTrackerStore), store(url)
    tracker = run(rasa_store.get_or_create_tracker("s5"))
    turn(tracker, "hello", "hi", 1000.0)
    run(rasa_store.save(tracker))
    turn(tracker, "again", "hi again", 1001.0)

    run(caching.save(tracker))

    assert as_stored(url, "s5") == [event.as_dict() for event in tracker.events]


def test_only_the_most_recently_used_conversations_are_kept(tmp_path):
    caching = store(f"sqlite:///{tmp_path / 'c.db'}", cache_size=2)
    trackers = {}
    for sender in ("a", "b", "c"):
        trackers[sender] = run(caching.get_or_create_tracker(sender))
        turn(trackers[sender], "hello", "hi", 1000.0)
        run(caching.save(trackers[sender]))
    assert run(caching.retrieve("c")) is trackers["c"]
    again = run(caching.retrieve("a"))
    assert again is not trackers["a"] and again.latest_message.text == "hello"


def test_the_generated_endpoints_give_rasa_this_store(tmp_path):
    settings = Settings.from_env({"BOT_VAR_DIR": str(tmp_path / "var")})
    endpoints = write_endpoints(settings)
    assert yaml.safe_load(endpoints.read_text())["tracker_store"]["type"] == "bot.tracker_store.CachingSQLTrackerStore"

    created = create_tracker_store(read_endpoint_config(str(endpoints), "tracker_store"), DOMAIN)

    inner = getattr(created, "_tracker_store", created)
    inner = getattr(inner, "_tracker_store", inner)  # Rasa wraps it (fail-safe, awaitable)
    assert isinstance(inner, CachingSQLTrackerStore)
    assert str(inner.engine.url) == f"sqlite:///{settings.var_dir / 'conversations.db'}"


def test_a_fault_while_starting_is_not_taken_for_a_missing_class(tmp_path, monkeypatch):
    def broken(self, *args, **kwargs):
        raise AttributeError("something went wrong while connecting")

    monkeypatch.setattr(SQLTrackerStore, "__init__", broken)
    with pytest.raises(RuntimeError, match="could not start"):
        store(f"sqlite:///{tmp_path / 'c.db'}")
