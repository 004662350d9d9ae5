"""The base of every custom action: read the slots, ask ``bot.dialogue``, send what it says.

To add an action: subclass ``AssistantAction``, give it a ``name()`` that the domain lists under
``actions:``, and implement ``turn()`` by calling one ``Assistant`` method.
"""

from __future__ import annotations

import abc
import functools
import logging
from typing import Any, Dict, List, Text

from rasa_sdk import Action, Tracker
from rasa_sdk.events import SlotSet
from rasa_sdk.executor import CollectingDispatcher

from bot.clock import clock_for
from bot.config import Settings
from bot.dialogue import Assistant, State, Turn
from bot.procedures.loader import cached_library
from bot.triage import Thresholds

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


def send(dispatcher: CollectingDispatcher, turn: Turn) -> List[Dict[Text, Any]]:
    """Utter the turn's replies and return its slot changes as events."""
    for reply in turn.replies:
        dispatcher.utter_message(response=reply.response, buttons=list(reply.buttons), **reply.variables)
    return [SlotSet(name, value) for name, value in turn.slots.items()]


class AssistantAction(Action, abc.ABC):
    """An action whose work is one call to the ``Assistant``."""

    @abc.abstractmethod
    def turn(self, helper: Assistant, state: State, tracker: Tracker) -> Turn:
        """Ask the ``Assistant`` for this action's turn."""

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: Dict[Text, Any]
    ) -> List[Dict[Text, Any]]:
        try:
            turn = self.turn(assistant(), State.from_slots(tracker.slots), tracker)
        except Exception:  # a person must get a sentence, never silence or a stack trace
            logger.exception("action %s failed", self.name())
            dispatcher.utter_message(response="utter_something_went_wrong")
            return []
        return send(dispatcher, turn)
