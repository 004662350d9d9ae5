"""Slot validation after every user message: partnership names to ids, subjects to
``children`` / ``adults``."""

from __future__ import annotations

from typing import Any, Dict, Optional, Text

from rasa_sdk import Tracker
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.forms import ValidationAction
from rasa_sdk.types import DomainDict

from actions.base import assistant
from bot.dialogue import PARTNERSHIP, PARTNERSHIP_OPTIONS, SUBJECT
from bot.nlp.pipeline import subject_of


def _first(value: Any) -> Optional[Text]:
    if isinstance(value, list):
        value = value[0] if value else None
    return value if isinstance(value, str) else None


def _previous(tracker: Tracker, slot: Text) -> Any:
    """The slot's value before the latest user message."""
    events = tracker.events
    last_user = max((i for i, e in enumerate(events) if e.get("event") == "user"), default=len(events))
    for event in reversed(events[:last_user]):
        if event.get("event") == "slot" and event.get("name") == slot:
            return event.get("value")
    return None


class ValidateSlotMappings(ValidationAction):
    """Normalises the slots that entities fill."""

    def validate_subject(
        self, slot_value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> Dict[Text, Any]:
        text = _first(slot_value)
        subject = subject_of(text) if text else None
        return {SUBJECT: subject or _previous(tracker, SUBJECT)}

    def validate_partnership(
        self, slot_value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> Dict[Text, Any]:
        text = _first(slot_value)
        previous = _previous(tracker, PARTNERSHIP)
        subject_text = _first(tracker.get_slot(SUBJECT))
        subject = subject_of(subject_text) if subject_text else None
        found = assistant().library.find(text or "", subject)
        if len(found) == 1:
            return {PARTNERSHIP: found[0], PARTNERSHIP_OPTIONS: None}
        if len(found) > 1 and previous not in found:
            return {PARTNERSHIP: None, PARTNERSHIP_OPTIONS: found}
        return {PARTNERSHIP: previous}
