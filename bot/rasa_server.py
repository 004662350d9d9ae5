"""``python -m bot.rasa_server run …``: Rasa's own command line, with twelve fixes to Rasa 3.6's
per-message costs, and one to its silence when the action server cannot be reached, installed
first. ``make serve`` starts the Rasa server this way; everything
else (arguments, behaviour, answers) is ``python -m rasa``'s.

Measured with ``bench/conversations.py`` (a whole escalation conversation through the REST
channel); each fix leaves what Rasa decides unchanged and only stops it repeating work or holding other
conversations up:

* **The action server's answers are validated against a schema compiled once.** Rasa checks every
  answer of the action server with ``jsonschema.validate(result, spec)``
  (``RemoteAction._validate_action_result``), which first validates the *schema itself* against
  the JSON Schema meta-schema, on every call (about 110 ms here with jsonschema 4.17), and then
  tries each event against all 23 event kinds of a ``oneOf``. Here the schema is checked once, and
  each event is validated against the one kind its ``event`` names: the other 22 alternatives
  can never match (each requires a different ``const`` for ``event``), so this accepts and
  refuses exactly what ``oneOf`` does (``tests/test_rasa_server.py`` compares the two).
* **Event classes are looked up by name once.** ``Event.resolve_by_type`` walks every subclass of
  ``Event`` (recursively, with ``inspect.isabstract`` on each) for every event it deserialises:
  every event of a conversation loaded from the tracker store and every event the action server
  returns. The answer for a name is remembered.
* **The SQLite tracker store writes through a write-ahead log** (``journal_mode=WAL``, as the
  records database does, with ``synchronous=NORMAL``): Rasa's SQL tracker store commits every
  message synchronously on the server's one event loop, and with SQLite's defaults each commit
  waits for several ``fsync`` calls (about 8 ms here), holding up every other conversation. In
  WAL mode with ``synchronous=NORMAL`` a commit appends to the log and the log is synced at
  checkpoints: the database stays consistent after any crash, and a power cut can lose at most
  the last moments of conversation history, never an escalation record (those are in the records
  database, which keeps SQLite's full synchronous commits). The setting applies to every SQLite
  engine of this process, and the tracker store's is its only one: the records database is
  opened by the action server, the nudge scheduler and the web app, never by the Rasa server.
* **Slot mappings are validated only when there is something to validate.** After every message
  Rasa's ``action_extract_slots`` calls ``action_validate_slot_mappings`` on the action server,
  rebuilding the conversation's tracker and sending all of it, even when no slot was extracted,
  or only slots that action has no validator for. Its validators (``validate_<slot>`` of
  ``actions.validation.ValidateSlotMappings``; it has no ``extract_<slot>``) are looked up once,
  and the call is made only when an extracted slot has one; otherwise the extracted slots are
  kept as they are, which is exactly what that action would have answered (rasa_sdk's
  ``ValidationAction`` returns a slot without a validator unchanged). About a tenth of the
  server's time per message.
* **A message is understood off the event loop.** Rasa runs the NLU pipeline inside the server's
  one event loop, so every other conversation waits while a message is encoded. Here it runs on
  one worker thread (only there, so the pipeline's components never run twice at once), and the
  rest of ``parse_message`` is Rasa's. The sentence encoder (ONNX Runtime) releases the GIL while
  it computes, so meanwhile the loop reads, saves and answers other conversations: about a
  sixth of the server's time per message no longer holds them up.
* **The action server is sent what it reads of the conversation.** Rasa sends every event of
  the conversation with every call of a custom action or form validation (a 16-message escalation
  is 180 events, 65 kB of JSON by the end, about 1 ms to encode each time). Here the events from
  the latest user message on are sent whole, and of those before it only the ones that set slots
  or forms (``slot``, ``reset_slots``, ``active_loop``, ``session_started``, ``restart``): the
  actions read the slots, the latest message and what happened since it, and a slot's earlier
  value (``actions/validation.py``); older messages and the bot's answers are left out, and
  are never turned into JSON. The slots, the latest message and the active form are sent as Rasa
  sends them. The domain is sent without its responses (13.6 of its 22 kB): the action server
  never renders one, Rasa does.
* **The action server is called over connections kept open.** Rasa opens a new HTTP session,
  and so a new connection, for every call of the action server, and closes it afterwards. Here
  each endpoint keeps one session on the server's event loop, with Rasa's headers,
  authentication and time-out; an idle connection is closed after ``KEEPALIVE_SECONDS`` (before
  the action server would close it), one the action server closed (restarting) is not reused,
  and the sessions are closed when the server stops. Calls are encoded with ``ujson`` (a
  dependency of Rasa's), which gives the same JSON in half the time of ``json``.
* **Rules are matched only as far back as they go.** To find the rules that apply,
  ``RulePolicy._get_possible_keys`` checks every rule against every earlier state of the
  conversation, newest first, for each prediction (twice while a form is active). Beyond the
  state the longest rule left reaches back to, every rule left applies by Rasa's own definition,
  so here the check stops there (or when no rule is left): the same rules, found in the last few
  states rather than all of them.
* **The model's graph runs its nodes in order, without dask.** Rasa 3.6 runs its NLU and policy
  graphs (three or four times a message) through ``dask.get``, which for each run rebuilds the
  graph, orders its tasks and schedules them one by one on the calling thread. Here the nodes a
  run needs are put in order once per set of targets and called in that order, each with the
  outputs of the nodes it needs, as dask calls them: the same nodes, inputs and results, without
  the scheduler.
* **A conversation's applied events are worked out from where they were last worked out.**
  ``DialogueStateTracker.applied_events`` (the events not undone by a restart, a rewind or a
  form's repeated runs) folds over every event of the conversation, and Rasa calls it several
  times a message (to start a session, to replay the conversation into the policies' states). Here
  a tracker remembers its last result; when events have only been appended since, and they start
  no form that was not already in the conversation (the fold treats a form's runs by the forms the
  whole conversation has), the fold goes on from there over the new events, step by step as
  Rasa's. Otherwise it is Rasa's own, from the start.
* **A conversation is copied, not replayed.** Before each action Rasa copies the conversation's
  tracker (``DialogueStateTracker.copy``) by making an empty one and replaying every event into
  it, and each tracker it makes copies every slot through the pickle protocol. Here the copy
  takes the tracker's state as it is (the events, a copy of each slot, the latest action and form
  state, the latest messages), which is what replaying gives: Rasa's trackers hold only what their
  events set (``trackers.py``: "MUST be re-creatable by processing all the events"). A slot is
  copied as a new object with the same attributes, which is what ``copy.copy`` gives for its
  classes. A tracker with a cut-short history is still replayed. About 160 µs a copy, here 35.
* **Nothing is deep-copied for a debug line that is thrown away.** Rasa's processor, forms and
  rule policy deep-copy events, slots and states for their debug log lines
  (``copy.deepcopy(…)`` as an argument of ``structlogger.debug``) before structlog, at the
  server's usual level, discards the line. In those modules (``DEBUG_LINE_COPIERS``, whose only use
  of ``copy`` that is, as a test reads in their source) ``deepcopy`` copies only when structlog
  keeps debug lines (``--debug``).

And one for the people using it:

* **A clear sentence when the action server is not there.** When the action server cannot be
  reached (killed, restarting, timed out, answering 5xx), Rasa 3.6 logs the error, drops the
  action's events and says nothing: a practitioner (possibly reporting immediate risk) gets
  silence. Here a custom action, or a form whose validation could not run, says
  ``utter_assistant_unavailable`` instead ("send that again in a minute; if anyone is in danger
  now, call 999"), with no other events, so nothing unvalidated is kept. Sending again is safe:
  opening and moving a record are idempotent (``bench/faults.py`` kills the action server on
  both sides of each write).
"""

from __future__ import annotations

import asyncio
import copy
import functools
import importlib
import itertools
import logging
import sys
import weakref
from typing import Any, Callable, Iterable

logger = logging.getLogger(__name__)

_ORIGINAL_RESOLVE: Callable | None = None
ORIGINALS: dict[tuple[type, str], Callable] = {}  # Rasa's methods this module wrapped
UNAVAILABLE_RESPONSE = "utter_assistant_unavailable"


@functools.lru_cache(maxsize=1)
def _response_validators() -> tuple[Any, dict[str, Any], Any]:
    """The action response schema's validators: the envelope (every event only as the ``oneOf``'s
    common part), one per event kind, and the validator class."""
    from jsonschema.validators import validator_for
    from rasa.core.actions.action import RemoteAction

    spec = RemoteAction.action_response_format_spec()
    kind = validator_for(spec)
    kind.check_schema(spec)  # once, not on every answer
    event_schema = spec["properties"]["events"]["items"]
    common = {key: value for key, value in event_schema.items() if key != "oneOf"}
    envelope = {**spec, "properties": {**spec["properties"], "events": {**spec["properties"]["events"], "items": common}}}
    by_event = {alternative["properties"]["event"]["const"]: kind(alternative) for alternative in event_schema["oneOf"]}
    return kind(envelope), by_event, kind


def response_error(result: Any) -> Exception | None:
    """Why ``result`` is not a valid answer of the action server, or None: the same verdict as
    ``jsonschema.validate(result, RemoteAction.action_response_format_spec())``."""
    from jsonschema import ValidationError
    from jsonschema.exceptions import best_match

    envelope, by_event, _ = _response_validators()
    error = best_match(envelope.iter_errors(result))
    if error is not None:
        return error
    for index, event in enumerate(result.get("events") or []):
        validator = by_event.get(event["event"])
        if validator is None or not validator.is_valid(event):
            # jsonschema's own words for an instance no alternative of a oneOf accepts.
            return ValidationError(f"{event!r} is not valid under any of the given schemas", path=["events", index])
    return None


def _validate_action_result(self: Any, result: dict) -> bool:
    """``RemoteAction._validate_action_result`` with the compiled validators; raises the
    ``ValidationError`` Rasa raises, with Rasa's explanation added."""
    from rasa.shared.constants import DOCS_BASE_URL

    error = response_error(result)
    if error is None:
        return True
    error.message += (
        ". Failed to validate Action server response from API, make sure your response from the "
        f"Action endpoint is valid. For more information about the format visit {DOCS_BASE_URL}/custom-actions"
    )
    raise error


@functools.lru_cache(maxsize=None)
def _resolve_by_type_cached(type_name: str) -> Any:
    return _ORIGINAL_RESOLVE(type_name)


def _resolve_by_type(type_name: str, default: Any = None) -> Any:
    """``Event.resolve_by_type`` remembering each name's class (unknown names are not cached, so
    they fall back to ``default`` or raise exactly as before)."""
    try:
        return _resolve_by_type_cached(type_name)
    except ValueError:
        if default is not None:
            return default
        raise


def action_server_unreachable(error: BaseException) -> bool:
    """Whether ``error`` (or what caused it) means the action server could not be reached or
    could not answer: no connection, a dropped one, a time-out, or a 5xx status."""
    import aiohttp

    seen = set()
    while error is not None and id(error) not in seen:
        seen.add(id(error))
        if isinstance(error, (aiohttp.ClientConnectionError, asyncio.TimeoutError)):
            return True
        if isinstance(error, aiohttp.ClientResponseError) and error.status >= 500:
            return True
        if "Couldn't connect to the server" in str(error):  # Rasa re-raises without the cause
            return True
        error = error.__cause__ or error.__context__
    return False


def _saying_so_when_unreachable(original: Callable) -> Callable:
    """``run`` of a custom action or form, answering ``UNAVAILABLE_RESPONSE`` (and nothing else)
    when the action server cannot be reached; a form's validation is left to its form, so a slot
    is never kept unvalidated."""

    @functools.wraps(original)
    async def run(self: Any, output_channel: Any, nlg: Any, tracker: Any, domain: Any) -> list:
        from rasa.core.actions.action import ActionBotResponse

        try:
            return await original(self, output_channel, nlg, tracker, domain)
        except Exception as error:
            if self.name().startswith("validate_") or not action_server_unreachable(error):
                raise
            logger.error("%s: the action server could not be reached (%s); the practitioner is told", self.name(), type(error).__name__)
            return await ActionBotResponse(UNAVAILABLE_RESPONSE).run(output_channel, nlg, tracker, domain)

    return run


@functools.lru_cache(maxsize=1)
def slot_mapping_validators() -> frozenset[str] | None:
    """The slots ``action_validate_slot_mappings`` validates, or None when that is unknown (it
    cannot be imported, or it extracts slots itself): then it is always called, as Rasa does."""
    try:
        from actions.validation import ValidateSlotMappings
    except ImportError:
        return None
    names = [name for name in dir(ValidateSlotMappings) if callable(getattr(ValidateSlotMappings, name))]
    if any(name.startswith("extract_") for name in names):
        return None
    return frozenset(name[len("validate_") :] for name in names if name.startswith("validate_"))


def _validating_only_what_has_a_validator(original: Callable) -> Callable:
    """``ActionExtractSlots._execute_validation_action``, not calling the action server when none
    of the extracted slots has a validator there."""

    @functools.wraps(original)
    async def execute(self: Any, extraction_events: list, output_channel: Any, nlg: Any, tracker: Any, domain: Any) -> list:
        from rasa.shared.core.events import SlotSet

        validators = slot_mapping_validators()
        extracted = [event for event in extraction_events if isinstance(event, SlotSet)]
        if validators is not None and not any(event.key in validators for event in extracted):
            return extracted
        return await original(self, extraction_events, output_channel, nlg, tracker, domain)

    return execute


# Events sent to the action server from before the latest user message: what sets slots or forms.
EARLIER_EVENTS_SENT = frozenset({"slot", "reset_slots", "active_loop", "session_started", "restart"})
# What the action server is not sent of the domain: it never renders a response (Rasa does).
DOMAIN_NOT_SENT = frozenset({"responses"})


def recent_events(events: list) -> list:
    """Of a conversation's events, those the action server is sent: all from the latest user
    message on; before it, those whose kind is in ``EARLIER_EVENTS_SENT``."""
    latest_user = next((i for i in range(len(events) - 1, -1, -1) if events[i].type_name == "user"), None)
    if latest_user is None:
        return events
    return [event for event in events[:latest_user] if event.type_name in EARLIER_EVENTS_SENT] + events[latest_user:]


def domain_sent(domain: Any) -> dict:
    """The domain as the action server is sent it: Rasa's dictionary of it without
    ``DOMAIN_NOT_SENT`` (made once per domain)."""
    data = domain.as_dict()
    kept = domain.__dict__.get("_bot_domain_sent")
    if kept is None or kept[0] is not data:
        kept = (data, {key: value for key, value in data.items() if key not in DOMAIN_NOT_SENT})
        domain.__dict__["_bot_domain_sent"] = kept
    return kept[1]


def _sending_what_the_actions_read(original: Callable) -> Callable:
    """``RemoteAction._action_call_format`` with the tracker's events cut to ``recent_events``
    (only those turned into dictionaries) and the domain to ``domain_sent``."""

    @functools.wraps(original)
    def call_format(self: Any, tracker: Any, domain: Any) -> dict:
        import rasa
        from rasa.shared.core.trackers import EventVerbosity

        tracker_state = tracker.current_state(EventVerbosity.NONE)  # all but the events
        tracker_state["events"] = [event.as_dict() for event in recent_events(list(tracker.events))]
        result = {"next_action": self._name, "sender_id": tracker.sender_id, "tracker": tracker_state, "version": rasa.__version__}
        if not self._is_selective_domain_enabled() or domain.does_custom_action_explicitly_need_domain(self.name()):
            result["domain"] = domain_sent(domain)
        return result

    return call_format


# Seconds an idle connection to the action server is kept: less than the action server's own
# (Sanic's KEEP_ALIVE_TIMEOUT, 5 s), so the client closes it first and never sends a message on a
# connection the server is closing.
KEEPALIVE_SECONDS = 2.0
_SESSIONS: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()  # event loop -> the sessions kept on it


class _KeptOpen:
    """What ``async with endpoint.session()`` gives, when the session is kept: the session on
    entering, and still open on leaving."""

    def __init__(self, session: Any) -> None:
        self.session = session

    async def __aenter__(self) -> Any:
        return self.session

    async def __aexit__(self, *_: Any) -> None:
        return None


def _keeping_connections(original: Callable) -> Callable:
    """``EndpointConfig.session``, kept for each endpoint and event loop, with its connections
    kept open between requests; Rasa's settings (headers, authentication, time-out)."""

    @functools.wraps(original)
    def session(self: Any) -> Any:
        import aiohttp
        import ujson
        from rasa.core.constants import DEFAULT_REQUEST_TIMEOUT

        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:  # not in a coroutine: Rasa's own, closed by whoever uses it
            return original(self)
        kept = self.__dict__.get("_bot_session")
        if kept is None or kept[0]() is not loop or kept[1].closed:
            auth = aiohttp.BasicAuth(self.basic_auth["username"], self.basic_auth["password"]) if self.basic_auth else None
            made = aiohttp.ClientSession(
                connector=aiohttp.TCPConnector(keepalive_timeout=KEEPALIVE_SECONDS),
                json_serialize=ujson.dumps,  # Rasa's own dependency; the same JSON, in half the time
                headers=self.headers,
                auth=auth,
                timeout=aiohttp.ClientTimeout(total=DEFAULT_REQUEST_TIMEOUT),
            )
            kept = (weakref.ref(loop), made)
            self.__dict__["_bot_session"] = kept
            _SESSIONS.setdefault(loop, []).append(made)
        return _KeptOpen(kept[1])

    return session


async def close_sessions() -> None:
    """Close the sessions kept on the running event loop."""
    for made in _SESSIONS.pop(asyncio.get_running_loop(), []):
        await made.close()


def _closing_kept_sessions(original: Callable) -> Callable:
    """``rasa.core.run.close_resources`` (the server's ``after_server_stop``), closing the kept
    sessions too."""

    @functools.wraps(original)
    async def close_resources(app: Any, loop: Any) -> None:
        try:
            await original(app, loop)
        finally:
            await close_sessions()

    return close_resources


def _execution_order(runner: Any, targets: tuple[str, ...]) -> list[str]:
    """The schema nodes ``targets`` need, each after the nodes it needs (cached on the runner)."""
    orders = runner.__dict__.setdefault("_bot_execution_orders", {})
    if targets not in orders:
        nodes, order, seen = runner._graph_schema.nodes, [], set()

        def visit(name: str) -> None:
            if name in seen or name not in nodes:  # (an input placeholder is not a node)
                return
            seen.add(name)
            for need in nodes[name].needs.values():
                visit(need)
            order.append(name)

        for target in targets:
            visit(target)
        orders[targets] = order
    return orders[targets]


def _running_nodes_in_order(original: Callable) -> Callable:
    """``DaskGraphRunner.run`` calling the needed nodes in order instead of through dask."""

    @functools.wraps(original)
    def run(self: Any, inputs: dict | None = None, targets: list | None = None) -> dict:
        from rasa.engine.exceptions import GraphRunError

        run_targets = tuple(targets if targets else self._graph_schema.target_names)
        order = _execution_order(self, run_targets)
        outputs: dict[str, Any] = {}
        for name, value in (inputs or {}).items():
            if isinstance(value, str) and value in order:  # as Rasa refuses it
                raise GraphRunError(f"Input value '{value}' clashes with a node name.")
            outputs[name] = (name, value)
        try:
            for name in order:
                needs = self._graph_schema.nodes[name].needs.values()
                outputs[name] = self._instantiated_nodes[name](*(outputs.get(need, need) for need in needs))
        except RuntimeError as error:
            raise GraphRunError("Error running runner.") from error
        return dict(outputs[target] for target in run_targets)

    return run


def _apply(tracker: Any, events: Iterable[Any], loop_names: frozenset[str], applied: list) -> None:
    """Rasa 3.6's ``DialogueStateTracker.applied_events`` fold, over ``events``, into ``applied``."""
    from rasa.shared.core.events import ActionExecuted, ActionReverted, Restarted, SessionStarted, UserUtteranceReverted, UserUttered

    for event in events:
        if isinstance(event, (Restarted, SessionStarted)):
            applied.clear()
        elif isinstance(event, ActionReverted):
            tracker._undo_till_previous(ActionExecuted, applied)
        elif isinstance(event, UserUtteranceReverted):
            tracker._undo_till_previous(UserUttered, applied)
            tracker._undo_till_previous(ActionExecuted, applied)
        elif (
            isinstance(event, ActionExecuted)
            and event.action_name in loop_names
            and not tracker._first_loop_execution_or_unhappy_path(event.action_name, applied)
        ):
            tracker._undo_till_previous_loop_execution(event.action_name, applied)
        else:
            applied.append(event)


def _loop_names(events: Iterable[Any]) -> frozenset[str]:
    from rasa.shared.core.events import ActiveLoop

    return frozenset(event.name for event in events if isinstance(event, ActiveLoop) and event.name)


def _applying_new_events_only(original: Callable) -> Callable:
    """``DialogueStateTracker.applied_events``, going on from the tracker's last result when its
    events have only been appended to since and name no new form."""

    @functools.wraps(original)
    def applied_events(self: Any) -> list:
        events = self.events
        count = len(events)
        kept = self.__dict__.get("_bot_applied")
        if kept is not None and count >= kept[0] > 0 and events[0] is kept[1] and events[kept[0] - 1] is kept[2]:
            known, _, _, loop_names, applied = kept
            new = list(itertools.islice(events, known, None))
            if _loop_names(new) <= loop_names:
                applied = list(applied)
                _apply(self, new, loop_names, applied)
                self.__dict__["_bot_applied"] = (count, events[0], events[-1], loop_names, applied)
                return list(applied)
        applied = original(self)
        if count:
            self.__dict__["_bot_applied"] = (count, events[0], events[-1], _loop_names(events), list(applied))
        return applied

    return applied_events


def _matching_only_as_far_back_as_rules_go(original: Callable) -> Callable:
    """``RulePolicy._get_possible_keys``, stopping when no rule is left or when the conversation
    has been matched as far back as the longest rule left goes: Rasa goes on through every
    earlier state of the conversation, where each rule left is applicable by definition
    (``_is_rule_applicable``: a turn beyond the rule's length) and none can drop out."""

    @functools.wraps(original)
    def get_possible_keys(self: Any, lookup: dict, states: list) -> set:
        possible = set(lookup.keys())
        for turn, state in enumerate(reversed(states)):
            if not possible or turn >= max(len(self._rule_key_to_state(key)) for key in possible):
                break
            possible = {key for key in possible if self._is_rule_applicable(key, turn, state)}
        return possible

    return get_possible_keys


@functools.lru_cache(maxsize=None)
def _copied_plainly(kind: type) -> bool:
    """Whether ``copy.copy`` copies objects of ``kind`` as a new object with the same attributes."""
    return (kind.__reduce_ex__, kind.__reduce__) == (object.__reduce_ex__, object.__reduce__) and not hasattr(kind, "__setstate__")


def _copy_of_slot(slot: Any) -> Any:
    """``copy.copy(slot)`` without the pickle protocol it goes through for a class that has no
    ``__copy__``: a new object of the slot's class holding the same attributes. A class that
    changes how it is pickled is copied as ``copy.copy`` copies it."""
    kind = type(slot)
    if not _copied_plainly(kind):
        return copy._reconstruct(slot, None, *slot.__reduce_ex__(4))
    other = object.__new__(kind)
    other.__dict__.update(slot.__dict__)
    return other


def _copying_the_state(original: Callable) -> Callable:
    """``DialogueStateTracker.copy`` with the tracker's state copied, where Rasa builds an empty
    tracker and replays every event of the conversation into it (``travel_back_in_time``)."""

    @functools.wraps(original)
    def copy_of_tracker(self: Any) -> Any:
        from rasa.shared.constants import DEFAULT_SENDER_ID

        if type(self.slots) is not dict or self._max_event_history is not None:
            # Slots made up as they are set (AnySlotDict), or a history cut short: replaying
            # is what decides these, so Rasa replays.
            return original(self)
        other = object.__new__(type(self))
        # What `init_copy` keeps of the tracker (and leaves out: the source, model and assistant ids).
        other._max_event_history = None
        other.events = other._create_events(list(self.events))
        other.sender_id = self.sender_id or DEFAULT_SENDER_ID
        other.slots = {name: _copy_of_slot(slot) for name, slot in self.slots.items()}
        other.sender_source = None
        other.is_rule_tracker = self.is_rule_tracker
        other.model_id = None
        other.assistant_id = None
        # The state the events lead to, as replaying them sets it: the same event objects, and its
        # own latest action and form, which later events change in place.
        other._paused = self._paused
        other.followup_action = self.followup_action
        other.latest_action = None if self.latest_action is None else dict(self.latest_action)
        other.latest_message = self.latest_message
        other.latest_bot_utterance = self.latest_bot_utterance
        other.active_loop = copy.copy(self.active_loop)  # a dataclass of flags, or None
        if "_bot_applied" in self.__dict__:  # never changed in place (_applying_new_events_only)
            other._bot_applied = self._bot_applied
        return other

    return copy_of_tracker


# Rasa's modules whose only use of ``copy`` is deep-copying what they pass to debug log lines.
DEBUG_LINE_COPIERS = ("rasa.core.processor", "rasa.core.actions.forms", "rasa.core.policies.rule_policy")


@functools.lru_cache(maxsize=None)
def _keeps_debug_lines(wrapper_class: type) -> bool:
    """Whether structlog's configured logger class (Rasa's: ``make_filtering_bound_logger`` of
    the server's log level) keeps debug lines."""
    import logging

    import structlog

    higher = (logging.INFO, logging.WARNING, logging.ERROR, logging.CRITICAL)
    return not any(wrapper_class is structlog.make_filtering_bound_logger(level) for level in higher)


def debug_copy(value: Any, memo: Any = None) -> Any:
    """``copy.deepcopy`` of a value for a debug log line: the value itself when debug lines are
    thrown away unread."""
    import structlog

    if _keeps_debug_lines(structlog.get_config()["wrapper_class"]):
        return copy.deepcopy(value, memo)
    return value


class _CopyForDebugLines:
    """The ``copy`` module as ``DEBUG_LINE_COPIERS`` see it, with ``debug_copy`` as its ``deepcopy``."""

    deepcopy = staticmethod(debug_copy)

    def __getattr__(self, name: str) -> Any:
        return getattr(copy, name)


@functools.lru_cache(maxsize=1)
def _nlu_thread() -> Any:
    from concurrent.futures import ThreadPoolExecutor

    return ThreadPoolExecutor(max_workers=1, thread_name_prefix="nlu")


def _parsing_off_the_event_loop(original: Callable) -> Callable:
    """``MessageProcessor.parse_message`` with the NLU graph run on the NLU thread; after it, what
    Rasa 3.6's own ``parse_message`` does with the parse."""

    @functools.wraps(original)
    async def parse_message(self: Any, message: Any, tracker: Any = None, only_output_properties: bool = True) -> dict:
        from rasa.core.processor import structlogger
        from rasa.shared.core.trackers import DialogueStateTracker

        if self.http_interpreter:
            return await original(self, message, tracker, only_output_properties)
        if tracker is None:
            tracker = DialogueStateTracker.from_events(message.sender_id, [])
        parse = functools.partial(self._parse_message_with_graph, message, tracker, only_output_properties)
        parse_data = await asyncio.get_running_loop().run_in_executor(_nlu_thread(), parse)
        self._update_full_retrieval_intent(parse_data)
        structlogger.debug(
            "processor.message.parse",
            parse_data_text=debug_copy(parse_data["text"]),
            parse_data_intent=parse_data["intent"],
            parse_data_entities=debug_copy(parse_data["entities"]),
        )
        self._check_for_unseen_features(parse_data)
        return parse_data

    return parse_message


def _sqlite_write_ahead_log(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA busy_timeout=10000")  # another process reading or writing: wait, not fail
    cursor.close()


def _on_connect(dbapi_connection: Any, record: Any) -> None:
    import sqlite3

    if isinstance(dbapi_connection, sqlite3.Connection):
        _sqlite_write_ahead_log(dbapi_connection, record)


def _wrap(kind: type, name: str, wrapper: Callable[[Callable], Callable]) -> None:
    """Replace ``kind.name`` by ``wrapper`` of it, once; the original kept in ``ORIGINALS``."""
    if (kind, name) not in ORIGINALS:
        ORIGINALS[kind, name] = getattr(kind, name)
        setattr(kind, name, wrapper(ORIGINALS[kind, name]))


def install() -> None:
    """Put the fixes in place in this process (idempotent)."""
    global _ORIGINAL_RESOLVE
    import rasa.core.run
    from rasa.core.actions.action import ActionExtractSlots, RemoteAction
    from rasa.core.actions.forms import FormAction
    from rasa.core.policies.rule_policy import RulePolicy
    from rasa.core.processor import MessageProcessor
    from rasa.engine.runner.dask import DaskGraphRunner
    from rasa.shared.core.events import Event
    from rasa.shared.core.slots import Slot
    from rasa.shared.core.trackers import DialogueStateTracker
    from rasa.utils.endpoints import EndpointConfig
    from sqlalchemy import event
    from sqlalchemy.engine import Engine

    RemoteAction._validate_action_result = _validate_action_result
    if _ORIGINAL_RESOLVE is None:
        _ORIGINAL_RESOLVE = Event.resolve_by_type
        Event.resolve_by_type = staticmethod(_resolve_by_type)
    for kind in (RemoteAction, FormAction):
        _wrap(kind, "run", _saying_so_when_unreachable)
    _wrap(ActionExtractSlots, "_execute_validation_action", _validating_only_what_has_a_validator)
    _wrap(RemoteAction, "_action_call_format", _sending_what_the_actions_read)
    _wrap(EndpointConfig, "session", _keeping_connections)
    _wrap(rasa.core.run, "close_resources", _closing_kept_sessions)
    _wrap(MessageProcessor, "parse_message", _parsing_off_the_event_loop)
    _wrap(DaskGraphRunner, "run", _running_nodes_in_order)
    _wrap(DialogueStateTracker, "applied_events", _applying_new_events_only)
    _wrap(DialogueStateTracker, "copy", _copying_the_state)
    _wrap(RulePolicy, "_get_possible_keys", _matching_only_as_far_back_as_rules_go)
    if (Slot, "__copy__") not in ORIGINALS and "__copy__" not in Slot.__dict__:
        ORIGINALS[Slot, "__copy__"] = None  # Python's own way, as when absent
        Slot.__copy__ = _copy_of_slot
    for name in DEBUG_LINE_COPIERS:
        _wrap(importlib.import_module(name), "copy", lambda _: _CopyForDebugLines())
    if not event.contains(Engine, "connect", _on_connect):
        event.listen(Engine, "connect", _on_connect)


def main(argv: list[str] | None = None) -> int:
    """Run Rasa's command line with the fixes installed."""
    from rasa.__main__ import main as rasa_main

    install()
    sys.argv = ["rasa", *(sys.argv[1:] if argv is None else argv)]
    rasa_main()
    return 0


if __name__ == "__main__":
    sys.exit(main())
