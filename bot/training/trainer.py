"""Training in conversation: the quiz and the 7-minute briefing, as ``Turn``s.

Nothing here opens a record or schedules a nudge: the only write is the completion record when
a quiz ends (person, partnership, date, score), for the learner's training compliance.
"""

from __future__ import annotations

import random
from typing import Any, Mapping

from bot.dialogue import AWAITING, Assistant, State, Turn, payload
from bot.escalations import Caller
from bot.procedures import guidance
from bot.procedures.schema import Pack
from bot.records import store
from bot.records.db import Database
from bot.training import quiz

QUIZ = "quiz"
TRAINING_ACTIVE = "training_active"
BRIEFING_STEP = "briefing_step"
AWAITING_TRAINING = "training"
AWAITING_BRIEFING = "briefing"


def briefing_steps(pack: Pack) -> list[tuple[str, str, list]]:
    """The 7-minute briefing in the partnership's terms: (heading, text, sources) per step."""
    stages = "\n".join(
        guidance.BULLET + f"{s.title}: {s.raised_by} with {s.raised_with}"
        + (f" ({s.timescale.text.rstrip('.')})" if s.timescale.text else "")
        for s in pack.stages
    )
    limits = " ".join(l.timescale.text[0].upper() + l.timescale.text[1:].rstrip(".") + "." for l in pack.limits)
    risk = pack.diversions.immediate_risk[0] if pack.diversions.immediate_risk else None
    what_to_do = [pack.resolve_quickly, *pack.record_keeping[:1]]
    steps = [
        ("Background", " ".join(f.text for f in pack.background[:2]) or pack.resolve_quickly.text,
         [f.source for f in pack.background[:2]] or [pack.resolve_quickly.source]),
        ("Why it matters", " ".join(f.text for f in pack.principles[:2]) or pack.resolve_quickly.text,
         [f.source for f in pack.principles[:2]] or [pack.resolve_quickly.source]),
        ("The stages", f"{stages}\n{limits}".strip(), [s.source for s in pack.stages] + [l.source for l in pack.limits]),
        ("What to do", " ".join(f.text for f in what_to_do) + (f" {risk.text}" if risk else ""),
         [f.source for f in what_to_do] + ([risk.source] if risk else [])),
    ]  # fmt: skip
    return steps


class Trainer:
    def __init__(self, assistant: Assistant, database: Database, rng: random.Random | None = None) -> None:
        self.assistant = assistant
        self.database = database
        self.rng = rng or random.Random()

    @property
    def library(self):
        return self.assistant.library

    # The quiz ----------------------------------------------------------------------------------

    def start(self, state: State) -> Turn:
        pack = self.library.get(state.partnership)
        if pack is None:
            turn = self.assistant.ask_partnership(state)
            turn.slots[AWAITING] = AWAITING_TRAINING
            return turn
        progress = quiz.start(pack, self.rng)
        turn = Turn()
        turn.say("utter_quiz_intro", partnership=pack.name, scenarios=str(len(progress.order)))
        turn.slots.update({TRAINING_ACTIVE: True, AWAITING: None})
        self._ask(turn, pack, progress)
        return turn

    def _current(self, pack: Pack, progress: quiz.Progress):
        scenario = quiz.scenario_by_id(pack, progress.order[progress.position])
        step = quiz.steps(scenario)[progress.step]
        return scenario, quiz.question(self.library, pack, scenario, step, progress.seed)

    def _ask(self, turn: Turn, pack: Pack, progress: quiz.Progress) -> None:
        _, asked = self._current(pack, progress)
        turn.say(
            "utter_quiz_question",
            buttons=[{"title": label, "payload": payload("quiz_answer", answer=option)} for option, label in asked.options],
            number=f"{progress.position + 1}/{len(progress.order)}",
            question=asked.text,
        )
        turn.slots[QUIZ] = progress.dump()

    def answer(self, state: State, slots: Mapping[str, Any], caller: Caller, given: str | None) -> Turn:
        """Mark the learner's answer, say what the procedure says, then the next question or the
        score."""
        turn = Turn()
        progress = quiz.Progress.load(slots.get(QUIZ))
        if progress is None or not slots.get(TRAINING_ACTIVE):
            turn.say("utter_no_quiz")
            return turn
        pack = self.library[progress.partnership]
        scenario, asked = self._current(pack, progress)
        right = given == asked.correct
        progress.asked += 1
        progress.score += int(right)
        correct_label = dict(asked.options)[asked.correct]
        turn.say(
            "utter_quiz_feedback",
            verdict="Right." if right else f"Not quite: the answer is \u201c{correct_label}\u201d.",
            feedback=asked.feedback,
            sources=asked.sources,
        )
        progress.step += 1
        if progress.step >= len(quiz.steps(scenario)):
            progress.position, progress.step = progress.position + 1, 0
        if progress.position < len(progress.order):
            self._ask(turn, pack, progress)
            return turn
        now = self.assistant.clock()
        with self.database.session() as session:
            person = store.person_for(session, channel=caller.channel, channel_id=caller.sender, now=now)
            store.record_completion(
                session, person=person, partnership=pack.id, score=progress.score, total=progress.asked, now=now
            )
        turn.say(
            "utter_quiz_done", score=str(progress.score), total=str(progress.asked), partnership=pack.name,
            date=guidance.format_date(now.date()),
        )  # fmt: skip
        turn.slots.update({QUIZ: None, TRAINING_ACTIVE: False})
        return turn

    def stop(self) -> Turn:
        turn = Turn()
        turn.say("utter_training_stopped")
        turn.slots.update({QUIZ: None, TRAINING_ACTIVE: False, BRIEFING_STEP: None})
        return turn

    # The 7-minute briefing -----------------------------------------------------------------------

    def briefing(self, state: State, step: int) -> Turn:
        pack = self.library.get(state.partnership)
        if pack is None:
            turn = self.assistant.ask_partnership(state)
            turn.slots[AWAITING] = AWAITING_BRIEFING
            return turn
        steps = briefing_steps(pack)
        turn = Turn()
        if step >= len(steps):
            turn.say("utter_briefing_done", partnership=pack.name)
            turn.slots[BRIEFING_STEP] = None
            return turn
        heading, text, sources = steps[step]
        more = [{"title": "Next", "payload": payload("continue_briefing")}] if step + 1 < len(steps) else []
        turn.say(
            "utter_briefing_step", buttons=more, number=f"{step + 1}/{len(steps)}", heading=heading,
            partnership=pack.short_name, body=text, sources=guidance.citation(pack, sources),
        )  # fmt: skip
        turn.slots.update({BRIEFING_STEP: float(step + 1), AWAITING: None})
        return turn
