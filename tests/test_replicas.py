"""Several replicas: two Rasa servers sharing a PostgreSQL tracker store and a Redis lock store,
one action server, the records in the same PostgreSQL database. One conversation's messages
alternate between the two servers through a whole escalation and stay one conversation, answered
exactly as a single server answers it; two messages sent at the same moment to the two servers
are handled one after the other."""

from __future__ import annotations

import json
import re
import threading
import urllib.request

import pytest
from cryptography.fernet import Fernet
from sqlalchemy import select

from bot.config import Settings
from bot.records import store
from bot.records.db import open_database
from bot.records.models import Escalation, Person
from bot.serve import MODEL, commands, process_environment, write_credentials, write_endpoints
from tests.serving import FROZEN_NOW, ServerDidNotStart, new_sender, processes, replies, slots

pytestmark = pytest.mark.server

REPLICA_PORTS, ACTIONS_PORT = (5710, 5711), 5755
REFERENCE = re.compile(r"ESC-[0-9A-Z]{6}")


@pytest.fixture(scope="module")
def replicas(tmp_path_factory, postgres_server):
    """The URLs of the two Rasa servers, and the shared records database."""
    from tests.postgres import fresh_database
    from tests.redis_server import redis_server

    if not MODEL.is_file():
        pytest.fail(f"no trained model at {MODEL}: run `make train` first")
    var = tmp_path_factory.mktemp("replicas")
    with redis_server(tmp_path_factory.mktemp("redis")) as redis_url, fresh_database(postgres_server) as database_url:
        environ = {
            "BOT_VAR_DIR": str(var), "BOT_NOW": FROZEN_NOW, "BOT_ACTIONS_PORT": str(ACTIONS_PORT),
            "BOT_DATABASE_URL": database_url, "BOT_TRACKER_STORE_URL": database_url,
            "BOT_LOCK_STORE_URL": redis_url, "BOT_RECORDS_KEY": Fernet.generate_key().decode(),
        }  # fmt: skip
        each = [Settings.from_env({**environ, "BOT_RASA_PORT": str(port)}) for port in REPLICA_PORTS]
        endpoints, _ = write_endpoints(each[0]), write_credentials(each[0])
        run = {"actions": commands(each[0], endpoints)["actions"]}
        run.update({f"rasa-{s.rasa_port}": commands(s, endpoints)["rasa"] for s in each})
        ready = {f"rasa-{s.rasa_port}": f"{s.rasa_url}/status" for s in each}
        ready["actions"] = f"http://127.0.0.1:{ACTIONS_PORT}/health"
        env = {**process_environment(each[0]), **environ}
        database = open_database(each[0])
        try:
            with processes(run, env, var / "logs", ready):
                yield [s.rasa_url for s in each], database
        except ServerDidNotStart as error:
            pytest.fail(str(error))
        finally:
            database.dispose()


def escalation(send) -> list[list[dict]]:
    """A whole escalation through ``send`` (message -> replies): the worry, the partnership, the
    record's form, Level 1 not resolved, Level 2 resolved. Every turn's replies, in order."""
    transcript = []

    def say(message: str) -> str:
        transcript.append(send(message))
        return "\n".join(reply.get("text") or "" for reply in transcript[-1])

    say("the other agency has closed the case and I disagree with their decision")
    say('/choose_partnership{"partnership": "bury-children"}')
    asked = say("/open_record")
    if "child (under 18) or an adult" in asked:
        asked = say('/inform_subject{"subject": "children"}')
    assert "case reference" in asked
    assert "Which agency or team" in say("CSC-204518")
    assert "Which is it mostly about?" in say("children's social care assessment team")
    assert "what is the disagreement" in say('/inform_category{"category": "step-up-step-down"}')
    assert "What outcome do you want" in say("the case was closed although the home conditions have not changed")
    assert "What evidence supports" in say("the case to stay open with a plan")
    asked = say("two home visits in November found the same conditions")
    if "Which agency and team" in asked:
        say("health visiting")
        asked = say("health visitor")
    assert asked.startswith("Opened ESC-")
    assert "What happened at Level 1" in say("not resolved")
    assert "other agency's position" in say("we talked, they will not reopen it")
    assert "confirmed in writing" in say("they say the threshold for reopening is not met")
    assert "moved to Level 2" in say("/affirm")
    assert "What happened at" in say("resolved")
    say("the managers agreed to reopen the case")
    say("they accept the home conditions need a plan")
    assert "How has the resolution helped" in say("/deny")
    assert "closed as resolved at Level 2" in say("there is now a plan and a named worker")
    return transcript


def tracker(url: str, sender: str) -> list[dict]:
    with urllib.request.urlopen(f"{url}/conversations/{sender}/tracker", timeout=30) as response:
        return json.loads(response.read())["events"]


def alike(value, sender: str):
    """``value`` with the sender's id and escalation references (random per record) replaced by
    placeholders, to compare two conversations."""
    return json.loads(REFERENCE.sub("ESC-XXXXXX", json.dumps(value, sort_keys=True).replace(sender, "SENDER")))


def shape(events: list[dict], sender: str) -> list[list]:
    """What happened, without timestamps: each event's kind, name and text."""
    return alike([[e["event"], e.get("name"), e.get("text")] for e in events], sender)


def test_one_conversation_alternating_between_two_replicas_is_the_one_a_single_server_has(replicas, server, library):
    from tests.serving import URL as SINGLE

    urls, database = replicas
    sender, alone = new_sender(), new_sender()
    turn = iter(range(1000))
    alternating = escalation(lambda message: replies(sender, message, url=urls[next(turn) % 2]))
    single = escalation(lambda message: replies(alone, message, url=SINGLE))

    assert alike(alternating, sender) == alike(single, alone)
    assert alike(slots(sender, url=urls[0]), sender) == alike(slots(alone, url=SINGLE), alone)
    events = tracker(urls[0], sender)
    assert tracker(urls[1], sender) == events  # one conversation, whichever replica is asked
    assert shape(events, sender) == shape(tracker(SINGLE, alone), alone)
    sent = [e["text"] for e in events if e["event"] == "user"]
    assert len(sent) == len(alternating) and len({json.dumps(e, sort_keys=True) for e in events}) == len(events)
    assert [e["timestamp"] for e in events] == sorted(e["timestamp"] for e in events)

    with database.session() as session:
        opened = session.scalars(
            select(Escalation).join(Person, Person.id == Escalation.raised_by_id).where(Person.channel_id == sender)
        ).all()
        assert len(opened) == 1  # the record opened once
        assert [s.key for s in opened[0].stages] == [stage.key for stage in library["bury-children"].stages[:2]]
        assert opened[0].status == "resolved"
        actions = [e.action for e in store.audit_trail(session, reference=opened[0].reference)]
    assert actions == ["escalation.opened", "stage.recorded", "stage.escalated", "stage.recorded", "escalation.resolved"]


def test_two_messages_at_the_same_moment_to_two_replicas_are_handled_one_after_the_other(replicas):
    urls, _ = replicas
    messages = ["the other agency has closed the case and I disagree with their decision",
                '/choose_partnership{"partnership": "south-tyneside"}']  # fmt: skip
    for _ in range(3):  # Rasa's own Redis lock store lets about half such pairs through at once
        sender, start, answered = new_sender(), threading.Barrier(2), {}

        def post(index: int, sender: str = sender, start: threading.Barrier = start, answered: dict = answered) -> None:
            start.wait()
            answered[index] = replies(sender, messages[index], url=urls[index])

        threads = [threading.Thread(target=post, args=(index,)) for index in (0, 1)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=120)
        assert all(answered.get(index) for index in (0, 1))  # each message answered

        events = tracker(urls[0], sender)
        users = [index for index, event in enumerate(events) if event["event"] == "user"]
        assert sorted(events[index]["text"] for index in users) == sorted(messages)  # each once
        assert len({json.dumps(e, sort_keys=True) for e in events}) == len(events)  # nothing twice
        # Handled in turn: each message's turn runs to its end (the assistant listening again)
        # before the other's starts, and holds exactly the replies its sender was given.
        for start_at, end_at in zip(users, users[1:] + [len(events)]):
            turn = events[start_at:end_at]
            assert (turn[-1]["event"], turn[-1].get("name")) == ("action", "action_listen")
            said = [e["text"] for e in turn if e["event"] == "bot"]
            assert said == [r.get("text") for r in answered[messages.index(turn[0]["text"])]]
        state = slots(sender, url=urls[1])
        assert (state["route"], state["partnership"]) == ("disagreement", "south-tyneside")
