"""The Level 3 quiz: scenarios from the seeds, questions with buttons, feedback from the pack.

Scenarios are the hand-written ones in ``scenarios.yml`` plus one generated from each stage of
the pack but the last ("it wasn't resolved at <stage>: what comes next?"). Each scenario asks
which route it takes; a disagreement then asks which stage comes next, who is involved there and
its timescale. Every correct answer and every piece of feedback is read from the pack, with its
citation. The quiz's progress is a small JSON value kept in one slot.
"""

from __future__ import annotations

import dataclasses
import functools
import json
import random
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from bot.procedures import guidance
from bot.procedures.loader import Library
from bot.procedures.schema import Pack
from bot.training.schema import Route, Scenario, ScenarioFile

SCENARIOS_FILE = Path(__file__).with_name("scenarios.yml")
SCENARIOS_PER_QUIZ = 4
NO_DAYS = "No number of days: resolve it as quickly as possible, at the lowest stage"
ROUTE_LABELS = {
    Route.DISAGREEMENT: "A professional disagreement: the escalation procedure",
    Route.IMMEDIATE_RISK: "Immediate risk: 999 / referral first",
    Route.CONDUCT: "A professional's conduct: allegations / PIPOT / whistleblowing",
}
STEPS_OF = {Route.DISAGREEMENT: ("route", "stage", "who", "timescale")}


class ScenarioError(ValueError):
    pass


@functools.lru_cache(maxsize=1)
def hand_written(path: Path = SCENARIOS_FILE) -> tuple[Scenario, ...]:
    try:
        return tuple(ScenarioFile.parse_obj(yaml.safe_load(path.read_text(encoding="utf-8"))).scenarios)
    except ValidationError as error:
        raise ScenarioError(f"{path}: {error}") from None


def generated(pack: Pack) -> list[Scenario]:
    """One scenario per stage but the last: it was not resolved there, what comes next?"""
    subject = pack.covers[0]
    return [
        Scenario(
            id=f"{pack.id}-after-{stage.key}",
            partnership=pack.id,
            subject=subject,
            situation=(
                f"You are working under the {pack.name} procedure. The disagreement has been "
                f"raised at {stage.title} and it has not been resolved there."
            ),
            route=Route.DISAGREEMENT,
            stage=stage.key,
            source=stage.source,
        )
        for stage in pack.stages[:-1]
    ]


def scenarios_for(pack: Pack) -> list[Scenario]:
    own = [s for s in hand_written() if s.partnership == pack.id]
    return own + generated(pack)


@dataclasses.dataclass
class Progress:
    """Where a learner is in a quiz (kept in the ``quiz`` slot as JSON)."""

    partnership: str
    order: list[str]
    position: int = 0
    step: int = 0
    score: int = 0
    asked: int = 0
    seed: int = 0  # fixes the order of each question's options for the whole quiz

    def dump(self) -> str:
        return json.dumps(dataclasses.asdict(self))

    @classmethod
    def load(cls, value: Any) -> "Progress | None":
        try:
            return cls(**json.loads(value)) if value else None
        except (TypeError, ValueError):
            return None


@dataclasses.dataclass(frozen=True)
class Question:
    text: str
    options: list[tuple[str, str]]  # (id, label)
    correct: str
    feedback: str
    sources: str


def _next_stage_index(pack: Pack, scenario: Scenario) -> int:
    if scenario.stage is None:
        return 0
    keys = [s.key for s in pack.stages]
    return min(keys.index(scenario.stage) + 1, len(pack.stages) - 1)


def _options(correct: str, others: list[str], rng: random.Random, count: int = 3) -> list[str]:
    pool = [o for o in dict.fromkeys(others) if o != correct]
    rng.shuffle(pool)
    chosen = pool[: count - 1] + [correct]
    rng.shuffle(chosen)
    return chosen


def steps(scenario: Scenario) -> tuple[str, ...]:
    return STEPS_OF.get(scenario.route, ("route",))


def question(library: Library, pack: Pack, scenario: Scenario, step: str, seed: int) -> Question:
    """The question of ``step`` for ``scenario``, with its answer and feedback from the pack."""
    rng = random.Random(f"{scenario.id}:{step}:{seed}")
    if step == "route":
        correct = scenario.route
        subject = scenario.subject.value
        if correct is Route.IMMEDIATE_RISK:
            lines = guidance.immediate_risk_lines(library, pack, subject)
        elif correct is Route.CONDUCT:
            lines = guidance.conduct_lines(library, pack, subject)
        else:
            lines = [guidance.Line(pack.resolve_quickly.text, guidance.citation(pack, [pack.resolve_quickly.source]))]
        return Question(
            text=f"{scenario.situation}\nWhich route does this take?",
            options=[(route.value, ROUTE_LABELS[route]) for route in Route],
            correct=correct.value,
            feedback=" ".join(line.text for line in lines[:2]),
            sources=guidance.sources_text(lines[:2], library),
        )
    index = _next_stage_index(pack, scenario)
    stage = pack.stage(index)
    if step == "stage":
        ask = "Which stage comes next?" if scenario.stage else "Where does it start?"
        labels = [s.title for s in pack.stages]
        chosen = _options(stage.title, labels, rng, count=min(4, len(labels)))
        return Question(
            text=ask, options=[(str(labels.index(label)), label) for label in chosen], correct=str(index),
            feedback=f"{stage.title}: {stage.raised_by} raises it with {stage.raised_with}.",
            sources=guidance.citation(pack, [stage.source]),
        )  # fmt: skip
    if step == "who":
        people = [f"{s.raised_by} → {s.raised_with}" for s in pack.stages]
        correct = people[index]
        chosen = _options(correct, people, rng)
        return Question(
            text=f"At {stage.title}, who raises it with whom?",
            options=[(str(people.index(label)), label) for label in chosen], correct=str(index),
            feedback=f"{stage.raised_by} raises it with {stage.raised_with}.",
            sources=guidance.citation(pack, [stage.source]),
        )  # fmt: skip
    # timescale
    own = [s.timescale.text for s in pack.stages if s.timescale.text] + [l.timescale.text for l in pack.limits]
    correct = stage.timescale.text or (pack.limits[0].timescale.text if pack.limits else NO_DAYS)
    others = own + ["Within one week", "Within 1 day", "10 working days", NO_DAYS]
    chosen = _options(correct, others, rng)
    sources = [stage.timescale.source or pack.resolve_quickly.source] + [l.source for l in pack.limits]
    feedback = f"{stage.title}: {correct}." if correct != NO_DAYS else f"{pack.resolve_quickly.text}"
    return Question(
        text=f"What is the timescale at {stage.title}?",
        options=[(str(i), label) for i, label in enumerate(chosen)], correct=str(chosen.index(correct)),
        feedback=feedback, sources=guidance.citation(pack, sources),
    )  # fmt: skip


def start(pack: Pack, rng: random.Random, count: int = SCENARIOS_PER_QUIZ) -> Progress:
    pool = scenarios_for(pack)
    order = [s.id for s in rng.sample(pool, k=min(count, len(pool)))]
    return Progress(partnership=pack.id, order=order, seed=rng.randrange(1_000_000))


def scenario_by_id(pack: Pack, scenario_id: str) -> Scenario:
    return next(s for s in scenarios_for(pack) if s.id == scenario_id)

