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
    from bot.escalations import Desk
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


@functools.lru_cache(maxsize=1)
def desk() -> "Desk":
    """The records side, with its database opened (and migrated) on first use."""
    from bot.escalations import Desk, Registration
    from bot.records.db import open_database

    settings = Settings.from_env()
    registration = Registration(domains=settings.registration_domains, codes=settings.registration_codes)
    return Desk(assistant(), open_database(settings), settings.documents_dir, registration)


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

    @abc.abstractmethod
    def turn(self, helper: Assistant, state: State, tracker: Tracker) -> Turn:
        """Ask the ``Assistant`` for this action's turn."""

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: Dict[Text, Any]
    ) -> List[Dict[Text, Any]]:
        from sqlalchemy.exc import OperationalError

        from bot.records.store import RecordError

        try:
            turn = self.turn(assistant(), State.from_slots(tracker.slots), tracker)
        except RecordError as error:  # something asked of a record that cannot be done
            dispatcher.utter_message(response="utter_record_error", problem=str(error))
            return []
        except OperationalError:
            logger.exception("action %s: the records database is unavailable", self.name())
            dispatcher.utter_message(response="utter_records_unavailable")
            return []
        except Exception:  # a person must get a sentence, never silence or a stack trace
            logger.exception("action %s failed", self.name())
            dispatcher.utter_message(response="utter_something_went_wrong")
            return []
        return send(dispatcher, turn)
