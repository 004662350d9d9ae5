"""Tracker fixtures for the actions, as financial-demo builds them."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from rasa_sdk import Tracker
from rasa_sdk.executor import CollectingDispatcher

from actions.base import assistant

EMPTY_SLOTS = {
    "route": None,
    "partnership": None,
    "partnership_options": None,
    "subject": None,
    "stage": None,
    "stage_started_at": None,
    "escalation_started_at": None,
    "review_date": None,
    "awaiting": None,
}


def tracker(text: str = "", intent: str | None = None, confidence: float = 0.95, slots: dict | None = None,
            entities: list | None = None, events: list | None = None, ranking: list | None = None) -> Tracker:
    top = {"name": intent, "confidence": confidence} if intent else None
    return Tracker(
        sender_id="test-conversation",
        slots={**EMPTY_SLOTS, **(slots or {})},
        latest_message={
            "text": text,
            "intent": top,
            "intent_ranking": ranking if ranking is not None else ([top] if top else []),
            "entities": entities or [],
        },
        events=events or [],
        paused=False,
        followup_action=None,
        active_loop={},
        latest_action_name="action_listen",
    )


def run(action, tracker: Tracker, domain: dict | None = None) -> tuple[list[dict[str, Any]], list[dict]]:
    """Run an action; its events and the messages it sent."""
    dispatcher = CollectingDispatcher()
    events = asyncio.run(action.run(dispatcher, tracker, domain or {}))
    return events, dispatcher.messages


@pytest.fixture(autouse=True)
def frozen_now(monkeypatch):
    """Actions read the clock from BOT_NOW; a Monday morning in November."""
    monkeypatch.setenv("BOT_NOW", "2026-11-23T10:00:00+00:00")
    assistant.cache_clear()
    yield
    assistant.cache_clear()
