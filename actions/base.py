"""The base of every custom action: read the slots, ask ``bot.dialogue``, send what it says.

To add an action: subclass ``AssistantAction``, give it a ``name()`` that the domain lists under
``actions:``, and implement ``turn()`` by calling one ``Assistant`` method.
"""

from __future__ import annotations

import abc
import functools
import logging
from typing import TYPE_CHECKING, Any, Dict, List, Text

from rasa_sdk import Action, Tracker
from rasa_sdk.events import SlotSet
from rasa_sdk.executor import CollectingDispatcher

from bot.clock import clock_for
from bot.config import Settings
from bot.dialogue import Assistant, State, Turn
from bot.procedures.loader import cached_library
from bot.triage import Thresholds

if TYPE_CHECKING:
    from bot.escalations import Desk, Registration
    from bot.training.trainer import Trainer

logger = logging.getLogger(__name__)


@functools.lru_cache(maxsize=1)
def assistant() -> Assistant:
    """The turn logic, built from the settings on first use (never at import)."""
    settings = Settings.from_env()
    return Assistant(
        library=cached_library(settings.packs_dir),
        clock=clock_for(settings.frozen_now),
        thresholds=Thresholds(
            min_confidence=settings.triage_min_confidence,
            min_margin=settings.triage_min_margin,
            risk_alert=settings.risk_alert_confidence,
            risk_route=settings.risk_route_confidence,
        ),
    )


def registration(settings: Settings | None = None) -> "Registration":
    """Who may keep records, from the settings."""
    from bot.escalations import Registration

    settings = settings or Settings.from_env()
    return Registration(domains=settings.registration_domains, codes=settings.registration_codes)


@functools.lru_cache(maxsize=1)
def desk() -> "Desk":
    """The records side, with its database opened (and migrated) on first use. While the database
    cannot be reached this raises, and is tried again on the next call."""
    from bot.escalations import Desk
    from bot.records.db import open_database

    settings = Settings.from_env()
    return Desk(assistant(), open_database(settings), settings.documents_dir, registration(settings))


def answers() -> "Desk":
    """The records side's checks of answers (free text, e-mail addresses, invitation codes, the
    registration form's questions), which read no records: usable while the database is down."""
    from bot.escalations import Desk

    settings = Settings.from_env()
    return Desk(assistant(), None, settings.documents_dir, registration(settings))


@functools.lru_cache(maxsize=1)
def trainer() -> "Trainer":
    """The Level 3 quiz and briefing, sharing the records database for completions."""
    from bot.training.trainer import Trainer

    return Trainer(assistant(), desk().database)


def send(dispatcher: CollectingDispatcher, turn: Turn) -> List[Dict[Text, Any]]:
    """Utter the turn's replies and return its slot changes as events."""
    for reply in turn.replies:
        extra = {"attachment": dict(reply.attachment)} if reply.attachment else {}
        dispatcher.utter_message(
            response=reply.response, buttons=list(reply.buttons), **extra, **reply.variables
        )
    return [SlotSet(name, value) for name, value in turn.slots.items()]


class AssistantAction(Action, abc.ABC):
    """An action whose work is one call to the ``Assistant``."""

    # Said when the records database cannot be reached: nothing was saved, and what to do.
    unavailable_response = "utter_records_unavailable"
    # A command whose words may be a question, answered instead when it is (``Assistant.question_instead``),
    # and whether a fragment naming a topic or stage counts ("form stage 2").
    may_be_a_question = False
    may_be_a_fragment = True

    @abc.abstractmethod
    def turn(self, helper: Assistant, state: State, tracker: Tracker) -> Turn:
        """Ask the ``Assistant`` for this action's turn."""

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: Dict[Text, Any]
    ) -> List[Dict[Text, Any]]:
        from bot.records.store import RecordError

        try:
            turn = self.question_instead(tracker) if self.may_be_a_question else None
            turn = turn or self.turn(assistant(), State.from_slots(tracker.slots), tracker)
        except RecordError as error:  # something asked of a record that cannot be done
            dispatcher.utter_message(response="utter_record_error", problem=str(error))
            return []
        except Exception as error:  # a person must get a sentence, never silence or a stack trace
            if records_down(self.name(), error):
                # The transaction was rolled back (or, if the connection went during COMMIT, may
                # have been committed): say which, keep the slots (the form's answers) so that
                # asking again once the database is back saves them, once.
                dispatcher.utter_message(response=UNCERTAIN_RESPONSE if uncertain(error) else self.unavailable_response)
                return []
            logger.exception("action %s failed", self.name())
            dispatcher.utter_message(response="utter_something_went_wrong")
            return []
        return send(dispatcher, turn)

    def question_instead(self, tracker: Tracker) -> Turn | None:
        """The answer instead of this command, when the message that the NLU took, unsure, for
        it asks something the procedure answers (``Assistant.question_instead``)."""
        message = tracker.latest_message or {}
        confidence = (message.get("intent") or {}).get("confidence")
        text = message.get("text") or ""
        if not isinstance(confidence, (int, float)) or text.startswith("/"):
            return None  # a button's payload is the command itself
        return assistant().question_instead(
            State.from_slots(tracker.slots), text, float(confidence), terse=self.may_be_a_fragment
        )


UNCERTAIN_RESPONSE = "utter_records_uncertain"


def uncertain(error: BaseException) -> bool:
    """Whether the records database went away during COMMIT (the work may have been saved)."""
    from bot.records.db import CommitUncertain

    return isinstance(error, CommitUncertain)


def records_down(name: str, error: BaseException) -> bool:
    """Whether ``error`` means the records database cannot be reached just now; if so it is logged
    as one line, no traceback, for the action ``name`` that met it."""
    from bot.records.db import reason, unavailable

    if not unavailable(error):
        return False
    logger.warning("%s: the records database is unavailable (%s: %s)", name, type(error).__name__, reason(error))
    return True
