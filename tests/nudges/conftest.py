"""Escalations on a real records database, a travelling clock, and a fake Rasa to deliver to."""

from __future__ import annotations

from datetime import datetime

import pytest

from bot.nudges.delivery import RasaDelivery
from bot.nudges.sweep import Sweeper
from bot.records import store
from tests.nudges.fake_rasa import FakeRasa
from tests.records.conftest import database, database_url, settings  # noqa: F401 - the same databases per test


class TravellingClock:
    """A clock the test moves: ``clock.now = london(...)``."""

    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


@pytest.fixture
def rasa():
    with FakeRasa() as fake:
        yield fake


@pytest.fixture
def clock():
    from tests.conftest import london

    return TravellingClock(london(2026, 11, 23, 10))


@pytest.fixture
def sweeper(database, rasa, clock, settings) -> Sweeper:
    return Sweeper(database, RasaDelivery(rasa.url, timeout=5), clock, settings)


def register(session, identity: str, *, manager: str | None = None, now: datetime, agency: str = "Riverside Primary School"):
    person = store.person_for(session, channel="rest", channel_id=identity, now=now)
    person.agency = agency
    if manager:
        boss = store.person_for(session, channel="rest", channel_id=manager, now=now)
        store.set_line_manager(session, person=person, manager=boss, now=now, actor="test")
    return person


def open_for(session, library, person, partnership: str, now: datetime, subject: str = "children", **extra):
    return store.open_escalation(
        session, person=person, pack=library[partnership], subject=subject, case_reference="csc-204518",
        other_agency="Children's social care", category="levels-of-need",
        summary="The referral was judged below threshold despite repeated missed health appointments.",
        desired_outcome="A strategy discussion and a single assessment.", now=now, **extra,
    )  # fmt: skip
