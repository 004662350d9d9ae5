"""bot/rasa_server.py's fixes to Rasa 3.6: each must decide exactly as Rasa's own code does."""

from __future__ import annotations

import json

import pytest
import pytest_asyncio
from hypothesis import given, settings
from hypothesis import strategies as st
from jsonschema import ValidationError, validate
from rasa.core.actions.action import RemoteAction
from rasa.shared.core.events import Event
from sqlalchemy import event, text
from sqlalchemy.engine import Engine

from bot import rasa_server

VALID_EVENTS = [
    {"event": "slot", "name": "partnership", "value": "bury-adults", "timestamp": None},
    {"event": "slot", "name": "stage", "value": None},
    {"event": "active_loop", "name": "escalation_form"},
    {"event": "action", "name": "action_listen", "policy": None, "confidence": None},
    {"event": "bot", "text": "Opened ESC-1", "data": {"buttons": []}, "metadata": {}},
    {"event": "followup", "name": "action_stage"},
    {"event": "reset_slots"},
    {"event": "session_started", "timestamp": 1.5},
    {"event": "user", "text": "hi", "parse_data": {"intent": {"name": "greet", "confidence": 1.0}, "entities": []}},
    {"event": "entities", "entities": [{"entity": "partnership", "value": "south-tyneside"}]},
]
RESPONSES = [
    {"events": VALID_EVENTS, "responses": [{"response": "utter_stage", "stage_title": "Stage 1"}]},
    {"events": [], "responses": []},
    {},
    # Each refused by Rasa's schema:
    {"events": [{"event": "slot", "value": "no name"}]},
    {"events": [{"event": "not_an_event"}]},
    {"events": [{"name": "no kind"}]},
    {"events": [{"event": 7}]},
    {"events": [{"event": "slot", "name": 3, "value": 1}]},
    {"events": [{"event": "action", "name": "x", "hide_rule_turn": "yes"}]},
    {"events": [{"event": "session_started", "timestamp": "yesterday"}]},
    {"events": [{"event": "entities", "entities": [{"entity": "x"}]}]},
    {"events": ["slot"]},
    {"events": {"event": "slot"}},
    {"responses": ["utter_stage"]},
    [],
]


def rasa_verdict(result) -> bool:
    try:
        validate(result, RemoteAction.action_response_format_spec())
    except ValidationError:
        return False
    return True


@pytest.fixture
def installed(monkeypatch):
    """The fixes installed for one test, Rasa as it was afterwards."""
    monkeypatch.setattr(RemoteAction, "_validate_action_result", RemoteAction.__dict__["_validate_action_result"])
    monkeypatch.setattr(Event, "resolve_by_type", Event.__dict__["resolve_by_type"])
    monkeypatch.setattr(rasa_server, "_ORIGINAL_RESOLVE", None)
    for (kind, name), original in rasa_server.ORIGINALS.items():  # installed before: Rasa's own first
        monkeypatch.setattr(kind, name, original)
    monkeypatch.setattr(rasa_server, "ORIGINALS", {})
    rasa_server._resolve_by_type_cached.cache_clear()
    rasa_server.install()
    yield
    for (kind, name), original in rasa_server.ORIGINALS.items():
        setattr(kind, name, original)
    event.remove(Engine, "connect", rasa_server._on_connect)
    rasa_server._resolve_by_type_cached.cache_clear()


@pytest.mark.parametrize("result", RESPONSES, ids=range(len(RESPONSES)))
def test_an_answer_is_accepted_exactly_when_rasas_schema_accepts_it(result):
    assert (rasa_server.response_error(result) is None) == rasa_verdict(result)


def test_the_installed_check_raises_rasas_error_with_rasas_explanation(installed):
    action = RemoteAction("action_open_escalation", None)
    assert action._validate_action_result(RESPONSES[0]) is True
    with pytest.raises(ValidationError, match="Failed to validate Action server response"):
        action._validate_action_result({"events": [{"event": "slot", "value": "no name"}]})


def test_event_classes_are_found_as_before(installed):
    original = rasa_server._ORIGINAL_RESOLVE
    for name in ["user", "bot", "slot", "action", "active_loop", "session_started", "reset_slots", "followup"]:
        assert Event.resolve_by_type(name) is original(name)
        assert Event.resolve_by_type(name) is original(name)  # and again, from what was remembered
    assert Event.resolve_by_type("topic") is None
    assert Event.resolve_by_type("no-such-event", default=Event) is Event
    with pytest.raises(ValueError, match="Unknown event name"):
        Event.resolve_by_type("no-such-event")
    assert Event.from_parameters({"event": "slot", "name": "stage", "value": 1.0}).value == 1.0


def test_the_sqlite_tracker_store_writes_through_a_write_ahead_log(installed, tmp_path):
    from rasa.core.tracker_store import SQLTrackerStore
    from rasa.shared.core.domain import Domain

    store = SQLTrackerStore(Domain.empty(), dialect="sqlite", db=str(tmp_path / "conversations.db"))
    with store.engine.connect() as connection:
        assert connection.execute(text("PRAGMA journal_mode")).scalar() == "wal"
        assert connection.execute(text("PRAGMA synchronous")).scalar() == 1  # NORMAL
    store.engine.dispose()


def _free_port() -> int:
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest_asyncio.fixture
async def kept_sessions(installed):
    """The fixes installed, and the action server sessions they keep closed after the test (as
    the server closes them when it stops)."""
    yield
    await rasa_server.close_sessions()


@pytest.fixture
def unreachable_action_server(installed):
    """A domain, a conversation and an action endpoint where nothing listens."""
    from rasa.core.channels.channel import CollectingOutputChannel
    from rasa.core.nlg import TemplatedNaturalLanguageGenerator
    from rasa.shared.core.domain import Domain
    from rasa.shared.core.trackers import DialogueStateTracker
    from rasa.utils.endpoints import EndpointConfig

    from bot.config import PROJECT_ROOT

    domain = Domain.load(str(PROJECT_ROOT / "domain.yml"))
    tracker = DialogueStateTracker.from_events("unreachable", [], slots=domain.slots)
    endpoint = EndpointConfig(f"http://127.0.0.1:{_free_port()}/webhook")
    return domain, tracker, endpoint, CollectingOutputChannel(), TemplatedNaturalLanguageGenerator(domain.responses)


@pytest.mark.asyncio
async def test_a_custom_action_whose_server_is_down_says_so_instead_of_nothing(unreachable_action_server, kept_sessions):
    from rasa.shared.core.events import BotUttered, SlotSet

    domain, tracker, endpoint, channel, nlg = unreachable_action_server
    events = await RemoteAction("action_triage", endpoint).run(channel, nlg, tracker, domain)
    assert [type(e) for e in events] == [BotUttered]
    assert "send it again in a minute" in events[0].text and "call 999" in events[0].text
    assert not any(isinstance(e, SlotSet) for e in events)


@pytest.mark.asyncio
async def test_a_forms_validation_is_not_answered_for_but_its_form_is(unreachable_action_server, kept_sessions):
    from rasa.core.actions.forms import FormAction
    from rasa.shared.core.events import BotUttered
    from rasa.shared.exceptions import RasaException

    domain, tracker, endpoint, channel, nlg = unreachable_action_server
    with pytest.raises(RasaException):
        await RemoteAction("validate_escalation_form", endpoint).run(channel, nlg, tracker, domain)
    events = await FormAction("escalation_form", endpoint).run(channel, nlg, tracker, domain)
    assert [type(e) for e in events] == [BotUttered]  # no slot, no active loop: nothing unvalidated


@pytest.mark.asyncio
async def test_slot_mappings_are_sent_for_validation_only_when_a_slot_has_a_validator(unreachable_action_server, kept_sessions):
    from rasa.core.actions.action import ActionExtractSlots
    from rasa.shared.core.events import SlotSet

    domain, tracker, endpoint, channel, nlg = unreachable_action_server
    assert rasa_server.slot_mapping_validators() == {"partnership", "subject"}
    extract = ActionExtractSlots(endpoint)
    # Nothing to validate: no call (the action server is down, so a call would fail).
    assert await extract._execute_validation_action([], channel, nlg, tracker, domain) == []
    unvalidated = [SlotSet("case_reference", "ASC-100042"), SlotSet("requested_slot", "agency")]
    assert await extract._execute_validation_action(unvalidated, channel, nlg, tracker, domain) == unvalidated
    # A slot with a validator: the call is made (and, the server being down, the practitioner told).
    answered = await extract._execute_validation_action([SlotSet("partnership", "Bury")], channel, nlg, tracker, domain)
    assert "send it again in a minute" in answered[0].text


@pytest.mark.asyncio
async def test_what_is_not_sent_for_validation_is_what_the_action_would_have_answered(unreachable_action_server, kept_sessions):
    from rasa.core.actions.action import ActionExtractSlots
    from rasa.shared.core.events import SlotSet
    from rasa.shared.core.trackers import EventVerbosity
    from rasa_sdk import Tracker
    from rasa_sdk.executor import CollectingDispatcher

    from actions.validation import ValidateSlotMappings

    domain, tracker, endpoint, channel, nlg = unreachable_action_server
    extracted = [SlotSet("case_reference", "ASC-100042"), SlotSet("requested_slot", "agency")]
    tracker.update_with_events(extracted, domain)
    dispatcher = CollectingDispatcher()
    answered = await ValidateSlotMappings().run(dispatcher, Tracker.from_dict(tracker.current_state(EventVerbosity.ALL)), domain.as_dict())
    assert not dispatcher.messages
    # What Rasa makes of the answer: the slots it returns, and the extracted slots it did not
    # return taken as valid (ActionExtractSlots._execute_validation_action).
    returned = [SlotSet(e["name"], e["value"]) for e in answered]
    rasa_would_keep = returned + [e for e in extracted if e.key not in {r.key for r in returned}]
    kept = await ActionExtractSlots(endpoint)._execute_validation_action(extracted, channel, nlg, tracker, domain)
    assert kept == rasa_would_keep


@pytest.fixture(scope="module")
def agent():
    from rasa.core.agent import Agent

    from bot.serve import MODEL

    if not MODEL.is_file():
        pytest.fail(f"no trained model at {MODEL}: run `make train` first")
    return Agent.load(str(MODEL))


@pytest.mark.asyncio
async def test_a_message_is_understood_on_the_nlu_thread_exactly_as_rasa_does(agent, installed):
    import threading

    from rasa.core.channels.channel import UserMessage

    processor = agent.processor
    original = rasa_server.ORIGINALS[type(processor), "parse_message"]
    graph = processor._parse_message_with_graph
    threads = []

    def recording(*args, **kwargs):
        threads.append(threading.current_thread().name)
        return graph(*args, **kwargs)

    processor._parse_message_with_graph = recording
    try:
        for text in ["the other agency closed the case and I disagree", '/choose_partnership{"partnership": "bury-adults"}', "ASC-100042"]:
            message = UserMessage(text, sender_id="parse-test")
            patched = await processor.parse_message(message)
            assert threads.pop().startswith("nlu")
            assert patched == await original(processor, message)
            assert threads.pop() == threading.current_thread().name
    finally:
        del processor._parse_message_with_graph


def test_only_an_unreachable_server_counts():
    import asyncio

    import aiohttp
    from yarl import URL

    request = aiohttp.RequestInfo(URL("http://127.0.0.1/webhook"), "POST", {}, URL("http://127.0.0.1/webhook"))

    assert rasa_server.action_server_unreachable(aiohttp.ServerDisconnectedError())
    assert rasa_server.action_server_unreachable(asyncio.TimeoutError())
    try:
        try:
            raise aiohttp.ClientResponseError(request, (), status=502)
        except aiohttp.ClientResponseError as error:
            raise RuntimeError("Failed to execute custom action") from error
    except RuntimeError as wrapped:
        assert rasa_server.action_server_unreachable(wrapped)
    assert not rasa_server.action_server_unreachable(aiohttp.ClientResponseError(request, (), status=400))
    assert not rasa_server.action_server_unreachable(ValueError("a bug in an action"))


def _conversation(domain):
    from rasa.shared.core.events import ActionExecuted, ActiveLoop, BotUttered, SlotSet, UserUttered
    from rasa.shared.core.trackers import DialogueStateTracker

    events = [
        ActionExecuted("action_listen"),
        UserUttered("they closed the case", {"name": "professional_disagreement", "confidence": 0.99}),
        SlotSet("partnership", "bury-children"),
        ActionExecuted("action_triage"),
        BotUttered("Which safeguarding partnership?"),
        ActionExecuted("escalation_form"),
        ActiveLoop("escalation_form"),
        SlotSet("requested_slot", "case_reference"),
        ActionExecuted("action_listen"),
        UserUttered("ASC-100042", {"name": "inform", "confidence": 0.9}),
        SlotSet("case_reference", "ASC-100042"),
        SlotSet("partnership", "south-tyneside"),
    ]
    return DialogueStateTracker.from_events("recent-events", events, slots=domain.slots)


def test_the_action_server_is_sent_earlier_slots_and_forms_and_everything_since_the_latest_message(unreachable_action_server):
    from rasa.shared.core.trackers import EventVerbosity

    domain, _, endpoint, _, _ = unreachable_action_server
    tracker = _conversation(domain)
    sent = RemoteAction("action_triage", endpoint)._action_call_format(tracker, domain)["tracker"]
    assert [(e["event"], e.get("name") or e.get("text")) for e in sent["events"]] == [
        ("slot", "partnership"),
        ("active_loop", "escalation_form"),
        ("slot", "requested_slot"),
        ("user", "ASC-100042"),
        ("slot", "case_reference"),
        ("slot", "partnership"),
    ]
    full = tracker.current_state(EventVerbosity.ALL)
    assert {key: value for key, value in sent.items() if key != "events"} == {key: value for key, value in full.items() if key != "events"}


def test_what_the_actions_read_of_the_conversation_is_the_same_in_the_events_sent(unreachable_action_server):
    from rasa.shared.core.events import BotUttered, SlotSet
    from rasa.shared.core.trackers import EventVerbosity
    from rasa_sdk import Tracker

    from actions.records import _answered_since_user_spoke
    from actions.validation import _previous

    domain, _, endpoint, _, _ = unreachable_action_server
    tracker = _conversation(domain)
    full = Tracker.from_dict(tracker.current_state(EventVerbosity.ALL))
    sent = Tracker.from_dict(RemoteAction("action_triage", endpoint)._action_call_format(tracker, domain)["tracker"])
    for slot in ("partnership", "case_reference", "requested_slot", "subject"):
        assert _previous(sent, slot) == _previous(full, slot)
    assert _previous(sent, "partnership") == "bury-children"
    assert _answered_since_user_spoke(sent) == _answered_since_user_spoke(full)
    assert sent.slots_to_validate() == full.slots_to_validate() == {"case_reference": "ASC-100042", "partnership": "south-tyneside"}
    assert sent.latest_message == full.latest_message and sent.get_latest_input_channel() == full.get_latest_input_channel()
    without_a_message = [SlotSet("partnership", "bury-adults"), BotUttered("Which partnership?")]
    assert rasa_server.recent_events(without_a_message) == without_a_message


def test_the_call_is_rasas_with_the_recent_events_and_the_domain_without_its_responses(unreachable_action_server):
    """Everything else of the action server's call is what Rasa sends."""
    domain, _, endpoint, _, _ = unreachable_action_server
    tracker = _conversation(domain)
    action = RemoteAction("validate_escalation_form", endpoint)
    rasas = rasa_server.ORIGINALS[RemoteAction, "_action_call_format"](action, tracker, domain)
    ours = action._action_call_format(tracker, domain)
    everything = rasas["tracker"]["events"]
    latest_user = max(i for i, event in enumerate(everything) if event["event"] == "user")
    earlier = [event for event in everything[:latest_user] if event["event"] in rasa_server.EARLIER_EVENTS_SENT]
    assert ours["tracker"]["events"] == earlier + everything[latest_user:]
    assert {**ours, "tracker": {**ours["tracker"], "events": None}, "domain": None} == {**rasas, "tracker": {**rasas["tracker"], "events": None}, "domain": None}
    assert ours["domain"] == {key: value for key, value in domain.as_dict().items() if key != "responses"}
    assert "responses" in domain.as_dict() and ours["domain"]["slots"] and ours["domain"]["forms"]


@pytest.mark.asyncio
async def test_the_graph_runs_its_nodes_in_order_with_dasks_results(agent, installed):
    from rasa.core.channels.channel import UserMessage
    from rasa.engine.runner.dask import DaskGraphRunner
    from rasa.shared.core.events import ActionExecuted, UserUttered
    from rasa.shared.core.trackers import DialogueStateTracker

    processor = agent.processor
    runner = processor.graph_runner
    with_dask = rasa_server.ORIGINALS[DaskGraphRunner, "run"]
    message = UserMessage("the hospital discharged him and I disagree with that", sender_id="graph-test")
    tracker = DialogueStateTracker.from_events("graph-test", [], slots=agent.domain.slots)
    nlu_inputs = {"__message__": [message], "__tracker__": tracker}
    nlu_target = [processor.model_metadata.nlu_target]
    in_order = runner.run(inputs=nlu_inputs, targets=nlu_target)
    parsed = in_order[nlu_target[0]][0]
    by_dask = with_dask(runner, inputs=nlu_inputs, targets=nlu_target)[nlu_target[0]][0]
    assert parsed.as_dict(only_output_properties=True) == by_dask.as_dict(only_output_properties=True)
    assert parsed.get("intent")["name"] == "professional_disagreement"
    # The policies' prediction for the conversation so far.
    tracker.update(ActionExecuted("action_listen"))
    tracker.update(UserUttered(message.text, parsed.get("intent"), parse_data=parsed.as_dict()))
    core_inputs = {"__tracker__": tracker}
    core_target = [processor.model_metadata.core_target]
    predicted = runner.run(inputs=core_inputs, targets=core_target)[core_target[0]]
    assert predicted.max_confidence_index == with_dask(runner, inputs=core_inputs, targets=core_target)[core_target[0]].max_confidence_index
    assert predicted.policy_name == with_dask(runner, inputs=core_inputs, targets=core_target)[core_target[0]].policy_name
    # Each needed node once, after the nodes it needs.
    order = rasa_server._execution_order(runner, tuple(core_target))
    assert len(order) == len(set(order)) and order[-1] == core_target[0]
    for position, name in enumerate(order):
        assert all(need in order[:position] for need in runner._graph_schema.nodes[name].needs.values() if need in runner._graph_schema.nodes)


def _event_kinds():
    from rasa.shared.core.events import (
        ActionExecuted,
        ActionReverted,
        ActiveLoop,
        DefinePrevUserUtteredFeaturization,
        Restarted,
        SessionStarted,
        SlotSet,
        UserUtteranceReverted,
        UserUttered,
    )

    return [
        lambda: ActionExecuted("action_listen"),
        lambda: ActionExecuted("action_triage"),
        lambda: ActionExecuted("escalation_form"),
        lambda: ActionExecuted("outcome_form"),
        lambda: UserUttered("not resolved", {"name": "not_resolved", "confidence": 0.9}),
        lambda: ActiveLoop("escalation_form"),
        lambda: ActiveLoop("outcome_form"),
        lambda: ActiveLoop(None),
        lambda: SlotSet("stage", 1),
        lambda: DefinePrevUserUtteredFeaturization(False),
        lambda: ActionReverted(),
        lambda: UserUtteranceReverted(),
        lambda: Restarted(),
        lambda: SessionStarted(),
    ]


@settings(max_examples=300, deadline=None)
@given(steps=st.lists(st.lists(st.integers(min_value=0, max_value=13), min_size=1, max_size=6), min_size=1, max_size=12))
def test_applied_events_going_on_from_the_last_result_are_rasas(steps):
    """Random conversations (forms started, run, interrupted, rewound, restarted), grown a few
    events at a time, with the applied events asked after each growth: always Rasa's."""
    from rasa.shared.core.trackers import DialogueStateTracker

    rasas = DialogueStateTracker.__dict__["applied_events"]
    ours = rasa_server._applying_new_events_only(rasas)
    kinds = _event_kinds()
    tracker = DialogueStateTracker("applied-events", [])
    for step in steps:
        for kind in step:
            tracker.events.append(kinds[kind]())
        expected = rasas(tracker)
        got = ours(tracker)
        assert got == expected
        got.append("changed by a caller")  # a caller's list is its own
        assert ours(tracker) == expected


def _state(tracker) -> dict:
    """Everything a tracker holds, slots by what they hold, events by identity."""
    state = {key: value for key, value in vars(tracker).items() if key not in ("slots", "events", "_bot_applied")}
    state["slots"] = {name: vars(slot) for name, slot in tracker.slots.items()}
    state["events"] = [id(event) for event in tracker.events]
    state["active_loop"] = None if tracker.active_loop is None else vars(tracker.active_loop)
    return state


def _more_event_kinds():
    from rasa.shared.core.events import BotUttered, ConversationPaused, ConversationResumed, FollowupAction, ActiveLoop, LoopInterrupted, ActionExecutionRejected, AllSlotsReset, SlotSet

    return [
        *_event_kinds(),
        lambda: BotUttered("Which safeguarding partnership?", {"buttons": []}),
        lambda: FollowupAction("action_stage"),
        lambda: ConversationPaused(),
        lambda: ConversationResumed(),
        lambda: LoopInterrupted(True),
        lambda: ActionExecutionRejected("escalation_form"),
        lambda: AllSlotsReset(),
        lambda: SlotSet("partnership", "bury-adults"),
        lambda: SlotSet("case_reference", ["ASC-1", "ASC-2"]),
        lambda: ActiveLoop("escalation_form"),
    ]


@settings(max_examples=300, deadline=None)
@given(kinds=st.lists(st.integers(min_value=0, max_value=23), max_size=40), model_id=st.booleans())
def test_a_copied_tracker_holds_what_replaying_its_events_gives(kinds, model_id):
    """Random conversations: the copy holds exactly what Rasa's replaying copy holds, and both
    go on alike when the same events are added to each."""
    from rasa.shared.core.slots import AnySlot, ListSlot, TextSlot
    from rasa.shared.core.trackers import DialogueStateTracker

    rasas = DialogueStateTracker.__dict__["copy"]
    ours = rasa_server._copying_the_state(rasas)
    made = _more_event_kinds()
    slots = [TextSlot("partnership", [], initial_value="unknown"), AnySlot("stage", []), ListSlot("case_reference", [])]
    tracker = DialogueStateTracker("copied", slots)
    if model_id:
        tracker.model_id, tracker.assistant_id = "model-1", "assistant-1"
    for kind in kinds:
        tracker.update(made[kind]())
    replayed, copied = rasas(tracker), ours(tracker)
    assert _state(copied) == _state(replayed)
    before = _state(tracker)
    assert copied.slots["stage"] is not tracker.slots["stage"]
    for kind in (18, 19, 14, 0, 4, 8, 5, 23):  # a form interrupted, rejected, going on: on each copy alike, the original untouched
        event = made[kind]()
        replayed.update(event)
        copied.update(event)
    assert _state(copied) == _state(replayed)
    assert _state(tracker) == before
    assert _state(ours(tracker)) == _state(rasas(tracker))


def test_a_tracker_whose_history_is_cut_short_is_copied_by_replaying():
    from rasa.shared.core.events import SlotSet
    from rasa.shared.core.slots import AnySlot
    from rasa.shared.core.trackers import DialogueStateTracker

    ours = rasa_server._copying_the_state(DialogueStateTracker.__dict__["copy"])
    tracker = DialogueStateTracker("short", [AnySlot("stage", [])], max_event_history=2)
    for stage in (1, 2, 3):
        tracker.update(SlotSet("stage", stage))
    assert ours(tracker).events == tracker.events and ours(tracker) is not tracker


def test_a_slot_is_copied_as_copy_copies_it():
    """Each slot of the assistant's domain: the same class and attributes as Python's own copy,
    in a new object; a class pickled its own way is copied Python's way."""
    import copy

    from rasa.shared.core.domain import Domain
    from rasa.shared.core.slots import TextSlot

    from bot.config import PROJECT_ROOT

    domain = Domain.load(str(PROJECT_ROOT / "domain.yml"))
    assert domain.slots
    for slot in domain.slots:
        slot.value = ["ASC-1"] if slot.type_name == "list" else slot.initial_value
        python, ours = copy.copy(slot), rasa_server._copy_of_slot(slot)
        assert type(ours) is type(python) and vars(ours) == vars(python) and ours is not slot

    class Reduced(TextSlot):
        def __reduce__(self):
            return (TextSlot, ("reduced", []))

    reduced = rasa_server._copy_of_slot(Reduced("partnership", [], initial_value="bury-adults"))
    assert type(reduced) is TextSlot and reduced.name == "reduced"


@pytest.mark.asyncio
async def test_requests_to_an_endpoint_share_one_connection_and_survive_its_restart(kept_sessions):
    """Three calls reach a local server over one connection with Rasa's headers and answers; after
    the server restarts (its connections closed), the next call opens a new one."""
    from aiohttp import web
    from rasa.utils.endpoints import EndpointConfig

    seen = []

    async def webhook(request):
        seen.append((request.transport.get_extra_info("peername")[1], request.headers.get("X-Partnership"), await request.json()))
        return web.json_response({"events": [], "responses": []})

    port = _free_port()

    async def serve():
        app = web.Application()
        app.router.add_post("/webhook", webhook)
        runner = web.AppRunner(app)
        await runner.setup()
        await web.TCPSite(runner, "127.0.0.1", port).start()
        return runner

    runner = await serve()
    endpoint = EndpointConfig(f"http://127.0.0.1:{port}/webhook", headers={"X-Partnership": "bury-adults"})
    answers = [await endpoint.request(json={"call": number}) for number in range(3)]
    assert answers == [{"events": [], "responses": []}] * 3
    assert [(headers, body) for _, headers, body in seen] == [("bury-adults", {"call": number}) for number in range(3)]
    assert len({client_port for client_port, _, _ in seen}) == 1
    await runner.cleanup()
    runner = await serve()
    try:
        assert await endpoint.request(json={"call": 3}) == {"events": [], "responses": []}
        assert seen[-1][0] != seen[0][0]
    finally:
        await runner.cleanup()


@pytest.mark.asyncio
async def test_a_kept_session_has_rasas_settings(kept_sessions):
    from rasa.utils.endpoints import EndpointConfig

    endpoint = EndpointConfig("http://127.0.0.1:1/webhook", headers={"X-Partnership": "south-tyneside"}, basic_auth={"username": "rasa", "password": "from-the-environment"})
    rasas = rasa_server.ORIGINALS[EndpointConfig, "session"](endpoint)
    try:
        async with endpoint.session() as ours:
            assert (ours.headers, ours.auth, ours.timeout) == (rasas.headers, rasas.auth, rasas.timeout)
            call = {"next_action": "action_triage", "tracker": {"latest_message": {"text": "MASH/LADO 🙂 \"quoted\"", "confidence": 0.9731}}}
            assert json.loads(ours._json_serialize(call)) == call
        async with endpoint.session() as again:
            assert again is ours and not ours.closed
    finally:
        await rasas.close()
    await rasa_server.close_sessions()
    assert ours.closed


_STATES = [
    {},
    {"prev_action": {"action_name": "action_listen"}, "user": {"intent": "professional_disagreement"}},
    {"prev_action": {"action_name": "action_listen"}, "user": {"intent": "not_resolved"}, "active_loop": {"name": "outcome_form"}},
    {"prev_action": {"action_name": "action_triage"}, "user": {"intent": "professional_disagreement"}},
    {"prev_action": {"action_name": "escalation_form"}, "active_loop": {"name": "escalation_form"}, "slots": {"partnership": (1.0,)}},
    {"prev_action": {"action_name": "action_listen"}, "user": {"intent": "affirm"}, "slots": {"partnership": (1.0,)}},
    {"prev_action": {"action_name": "action_listen"}, "active_loop": {"name": "should_not_be_set"}},
    {"prev_action": {"action_name": "action_listen"}, "user": {"intent": "immediate_risk"}},
]


@settings(max_examples=300, deadline=None)
@given(
    rules=st.lists(st.lists(st.integers(min_value=0, max_value=len(_STATES) - 1), min_size=1, max_size=4), max_size=12),
    conversation=st.lists(st.integers(min_value=1, max_value=len(_STATES) - 1), max_size=30),
)
def test_rules_matched_as_far_back_as_they_go_are_rasas(rules, conversation):
    """Random rules and conversations (as RulePolicy keeps and sees them): the same rules match."""
    import json

    from rasa.core.policies.rule_policy import RulePolicy

    policy = RulePolicy.__new__(RulePolicy)  # the matching reads only the rules and the states
    rasas = RulePolicy.__dict__["_get_possible_keys"]
    ours = rasa_server._matching_only_as_far_back_as_rules_go(rasas)
    lookup = {json.dumps([_STATES[i] for i in rule]): f"action_{n}" for n, rule in enumerate(rules)}
    states = [_STATES[i] for i in conversation]
    assert ours(policy, lookup, states) == rasas(policy, lookup, states)


@pytest.mark.parametrize("name", rasa_server.DEBUG_LINE_COPIERS)
def test_those_modules_deep_copy_only_for_debug_log_lines(name):
    """Every use of ``copy`` in the module is a ``copy.deepcopy(…)`` handed to ``structlogger.debug``."""
    import ast
    import importlib
    import inspect

    tree = ast.parse(inspect.getsource(importlib.import_module(name)))
    uses = [node for node in ast.walk(tree) if isinstance(node, ast.Name) and node.id == "copy"]
    in_debug_lines = [
        keyword.value.func.value
        for call in ast.walk(tree)
        if isinstance(call, ast.Call) and ast.unparse(call.func) == "structlogger.debug"
        for keyword in call.keywords
        if isinstance(keyword.value, ast.Call) and ast.unparse(keyword.value.func) == "copy.deepcopy"
    ]
    assert uses and sorted(map(id, uses)) == sorted(map(id, in_debug_lines))


@pytest.fixture
def structlog_level():
    """Configure structlog as Rasa does for a level; its configuration restored afterwards."""
    import structlog

    before = structlog.get_config()

    def configure(level: int) -> None:
        structlog.configure(wrapper_class=structlog.make_filtering_bound_logger(level))

    yield configure
    structlog.configure(**before)


def test_a_value_is_copied_for_a_debug_line_only_when_debug_lines_are_kept(installed, structlog_level):
    import logging

    import rasa.core.processor

    value = {"entities": [{"entity": "partnership", "value": "bury-adults"}]}
    structlog_level(logging.INFO)
    assert rasa.core.processor.copy.deepcopy(value) is value
    structlog_level(logging.DEBUG)
    copied = rasa.core.processor.copy.deepcopy(value)
    assert copied == value and copied is not value and copied["entities"][0] is not value["entities"][0]
    assert rasa.core.processor.copy.copy is __import__("copy").copy
