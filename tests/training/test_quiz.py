"""The Level 3 quiz and briefing: scenarios per partnership, answers from the packs, a quiz
played through with right and wrong answers, its score and completion record."""

from __future__ import annotations

import random

import pytest
from sqlalchemy import select

from bot.clock import frozen_clock
from bot.config import Settings
from bot.dialogue import Assistant, State
from bot.escalations import Caller
from bot.records import store
from bot.records.db import open_database
from bot.records.models import AuditEntry
from bot.training import quiz
from bot.training.trainer import Trainer, briefing_steps
from bot.triage import Thresholds
from tests.conftest import PARTNERSHIPS, london

NOW = london(2026, 11, 24, 14)
LEARNER = Caller(channel="rest", sender="new-starter-1")


@pytest.fixture
def trainer(library, tmp_path):
    database = open_database(Settings.from_env({"BOT_VAR_DIR": str(tmp_path / "var")}))
    yield Trainer(Assistant(library, frozen_clock(NOW), Thresholds()), database, random.Random(3))
    database.dispose()


@pytest.mark.parametrize("partnership", PARTNERSHIPS)
def test_at_least_twelve_scenarios_with_every_route(library, partnership):
    pack = library[partnership]
    scenarios = quiz.scenarios_for(pack)
    assert len(scenarios) >= 12
    assert {s.route.value for s in scenarios} == {"disagreement", "immediate_risk", "conduct"}
    assert len(quiz.generated(pack)) == len(pack.stages) - 1
    keys = {s.key for s in pack.stages}
    for scenario in scenarios:
        assert scenario.stage is None or scenario.stage in keys
        assert scenario.subject in pack.covers


@pytest.mark.parametrize("partnership", PARTNERSHIPS)
def test_every_question_has_its_answer_from_the_pack(library, partnership):
    pack = library[partnership]
    for scenario in quiz.scenarios_for(pack):
        for step in quiz.steps(scenario):
            asked = quiz.question(library, pack, scenario, step, seed=1)
            assert asked.correct in dict(asked.options)
            assert asked.sources
            if step == "stage":
                expected = pack.stage(0) if scenario.stage is None else pack.stages[[s.key for s in pack.stages].index(scenario.stage) + 1]
                assert dict(asked.options)[asked.correct] == expected.title
            if step == "route":
                assert asked.correct == scenario.route.value


def _play(trainer, partnership, choose):
    state = State(partnership=partnership)
    turn = trainer.start(state)
    slots = dict(turn.slots)
    feedback = []
    while slots.get("training_active"):
        question = turn.replies[-1]
        assert question.response == "utter_quiz_question"
        payloads = {b["payload"]: b["title"] for b in question.buttons}
        progress = quiz.Progress.load(slots["quiz"])
        scenario = quiz.scenario_by_id(trainer.library[partnership], progress.order[progress.position])
        asked = quiz.question(trainer.library, trainer.library[partnership], scenario, quiz.steps(scenario)[progress.step], progress.seed)
        turn = trainer.answer(state, slots, LEARNER, choose(asked))
        slots.update(turn.slots)
        feedback.append(turn.replies[0])
    return turn, feedback


def test_a_quiz_with_every_answer_right(trainer):
    done, feedback = _play(trainer, "bury-children", lambda asked: asked.correct)
    assert all(reply.variables["verdict"] == "Right." for reply in feedback)
    final = done.replies[-1]
    assert final.response == "utter_quiz_done"
    assert final.variables["score"] == final.variables["total"] == str(len(feedback))
    with trainer.database.session() as session:
        [record] = store.completions(session, partnership="bury-children")
        assert (record.score, record.total, record.completed_at) == (len(feedback), len(feedback), NOW)


def test_a_quiz_with_wrong_answers_scores_and_explains(trainer, library):
    wrong = lambda asked: next(option for option, _ in asked.options if option != asked.correct)  # noqa: E731
    done, feedback = _play(trainer, "south-tyneside", wrong)
    assert all(reply.variables["verdict"].startswith("Not quite: the answer is") for reply in feedback)
    assert done.replies[-1].variables["score"] == "0"
    assert all("Source:" in reply.variables["sources"] or "General" in reply.variables["sources"] for reply in feedback)
    with trainer.database.session() as session:
        assert store.completions(session)[0].score == 0
        audit = [e.action for e in session.scalars(select(AuditEntry))]
        assert "escalation.opened" not in audit  # training never opens a record


def test_training_asks_the_partnership_first_and_can_stop(trainer):
    asked = trainer.start(State())
    assert asked.replies[0].response == "utter_ask_partnership" and asked.slots["awaiting"] == "training"
    stopped = trainer.stop()
    assert stopped.slots == {"quiz": None, "training_active": False, "briefing_step": None}
    none = trainer.answer(State(), {}, LEARNER, "0")
    assert none.replies[0].response == "utter_no_quiz"


@pytest.mark.parametrize("partnership", PARTNERSHIPS)
def test_the_briefing_walks_four_steps_in_the_partnerships_terms(trainer, library, partnership):
    pack = library[partnership]
    steps = briefing_steps(pack)
    assert [heading for heading, _, _ in steps] == ["Background", "Why it matters", "The stages", "What to do"]
    assert all(stage.title in steps[2][1] for stage in pack.stages)
    state = State(partnership=partnership)
    turn = trainer.briefing(state, 0)
    seen = []
    step = 0
    while turn.replies[0].response == "utter_briefing_step":
        seen.append(turn.replies[0].variables["heading"])
        assert turn.replies[0].variables["body"] == steps[step][1]
        assert turn.replies[0].variables["sources"].startswith(f"Source: {pack.short_name} procedure")
        step = int(turn.slots["briefing_step"])
        turn = trainer.briefing(state, step)
    assert seen == ["Background", "Why it matters", "The stages", "What to do"]
    assert turn.replies[0].response == "utter_briefing_done"
