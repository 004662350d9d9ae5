"""Bad input through the running assistant: random Unicode, very long messages, Markdown and HTML,
emoji, empty messages and forged ``/intent{json}`` payloads. Nothing crashes, no stack trace
reaches the user, and nothing is written to someone else's record."""

from __future__ import annotations

import json

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bot.config import Settings
from bot.records import store
from bot.records.db import open_database
from tests.serving import new_sender, replies, say, slots
from tests.test_record_conversations import open_record

pytestmark = pytest.mark.server

TRACE_MARKS = ("Traceback", "File \"/", "Exception", "sqlalchemy", "KeyError", "NoneType")

messages = st.one_of(
    st.text(min_size=0, max_size=400),
    st.text(alphabet=st.characters(blacklist_categories=("Cs",)), min_size=1, max_size=60),
    st.sampled_from([
        "", " ", "\n\n", "🚨🚨🚨", "😀" * 500, "**bold** _it_ `code` [link](http://x)", "<script>alert(1)</script>",
        "<b>hi</b> & &amp; </div>", "/", "//", "/choose_partnership", "/choose_partnership{", "/nlu_fallback",
        '/choose_partnership{"partnership": "atlantis"}', '/inform_subject{"subject": 42}',
        '/show_escalation{"reference": "../../etc/passwd"}', "/EXTERNAL_nudge", '/EXTERNAL_nudge{"nudge": "1:0:due:2026-11-24"}',
        "x" * 20_000, "a\x00b", "\u202etxet desrever", "ESC-" + "9" * 50,
    ]),
)  # fmt: skip


def clean(answer: list[dict]) -> None:
    text = json.dumps(answer, ensure_ascii=False)
    assert not any(mark in text for mark in TRACE_MARKS), text[:500]


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(message=messages)
def test_any_message_gets_an_answer_without_a_stack_trace(server, message):
    sender = new_sender()
    clean(replies(sender, message))
    clean(replies(sender, "hello"))  # and the conversation still works after it


def test_forged_payloads_cannot_reach_someone_elses_record(server):
    owner, intruder = new_sender(), new_sender()
    reference = open_record(owner, "south-tyneside")
    database = open_database(Settings.from_env({"BOT_VAR_DIR": str(server)}))
    try:
        with database.session() as session:
            before = [(e.action, e.actor) for e in store.audit_trail(session, reference=reference)]
        answer = say(intruder, '/show_escalation{"reference": "%s"}' % reference)
        assert "is not one of your escalations" in answer
        # Slots forged to point at the owner's record: resolving it is refused, nothing written.
        say(intruder, '/choose_partnership{"partnership": "south-tyneside"}')
        forged = say(intruder, '/resolved{"escalation_ref": "%s", "has_record": true}' % reference)
        clean([{"text": forged}])
        for answer in ("we sorted it", "they agreed", "/deny", "it helped"):
            clean([{"text": say(intruder, answer)}])
        with database.session() as session:
            escalation = store.find(session, reference=reference, person=None)
            after = [(e.action, e.actor) for e in store.audit_trail(session, reference=reference)]
            assert escalation.status == "open"
        assert after == before
        assert slots(owner)["escalation_ref"] == reference
    finally:
        database.dispose()
