"""The actions of a conversation about a worry: triage, the stage walk, questions."""

from __future__ import annotations

import abc
from typing import TYPE_CHECKING, Text

from rasa_sdk import Tracker

from actions.base import AssistantAction
from bot.dialogue import AWAITING_MORE_TIME, Assistant, State, Turn

if TYPE_CHECKING:
    from bot.training.trainer import Trainer


class ActionTriage(AssistantAction):
    """A message that may state a worry: route it (immediate risk first) or ask which."""

    def name(self) -> Text:
        return "action_triage"

    def turn(self, helper: Assistant, state: State, tracker: Tracker) -> Turn:
        message = tracker.latest_message or {}
        return helper.triage(
            state, message.get("intent"), message.get("intent_ranking") or [], message.get("text") or ""
        )


class ActionContinue(AssistantAction):
    """A partnership or subject was given: carry on with the conversation's route."""

    def name(self) -> Text:
        return "action_continue"

    def turn(self, helper: Assistant, state: State, tracker: Tracker) -> Turn:
        if state.awaiting in ("training", "briefing") and helper.library.get(state.partnership):
            from actions.base import trainer

            if state.awaiting == "training":
                return trainer().start(state)
            return trainer().briefing(state, 0)
        return helper.proceed(state, (tracker.latest_message or {}).get("text") or "")


class ActionNextStage(AssistantAction):
    """'Not resolved' or 'what next': the next stage of the partnership's procedure."""

    def name(self) -> Text:
        return "action_next_stage"

    def turn(self, helper: Assistant, state: State, tracker: Tracker) -> Turn:
        return helper.next_stage(state, (tracker.latest_message or {}).get("text") or "")


class ActionStageResolved(AssistantAction):
    """The disagreement was resolved: what to record."""

    may_be_a_question = True  # "how long have we got to resolve it?"
    may_be_a_fragment = False  # "resolved at level 2" says it is

    def name(self) -> Text:
        return "action_stage_resolved"

    def turn(self, helper: Assistant, state: State, tracker: Tracker) -> Turn:
        return helper.resolved(state)


class ActionSetReviewDate(AssistantAction):
    """The practitioner gives the review date they agreed."""

    def name(self) -> Text:
        return "action_set_review_date"

    def turn(self, helper: Assistant, state: State, tracker: Tracker) -> Turn:
        if state.awaiting == AWAITING_MORE_TIME and tracker.get_slot("escalation_ref"):
            from actions.base import desk
            from actions.records import caller

            return desk().agree_more_time(
                caller(tracker), tracker.get_slot("escalation_ref"), (tracker.latest_message or {}).get("text") or ""
            )
        turn = helper.review_date(state, (tracker.latest_message or {}).get("text") or "")
        agreed = turn.slots.get("review_date")
        reference = tracker.get_slot("escalation_ref")
        if agreed and reference and tracker.get_slot("has_record"):
            from datetime import date

            from actions.base import desk
            from actions.records import caller

            desk().set_review_date(caller(tracker), reference, date.fromisoformat(agreed))
        return turn


class ActionAnswerQuestion(AssistantAction):
    """A question about the procedure, answered from the partnership's pack with its source."""

    def name(self) -> Text:
        return "action_answer_question"

    def turn(self, helper: Assistant, state: State, tracker: Tracker) -> Turn:
        from actions.validation import _previous

        return helper.question(
            state, (tracker.latest_message or {}).get("text") or "", _previous(tracker, "partnership")
        )


class ActionStartOver(AssistantAction):
    """Forget the current worry (the partnership is kept)."""

    may_be_a_question = True  # "how clear must I be raising concern"

    def name(self) -> Text:
        return "action_start_over"

    def turn(self, helper: Assistant, state: State, tracker: Tracker) -> Turn:
        return helper.start_over(state)


# Training ---------------------------------------------------------------------------------------


class TrainerAction(AssistantAction):
    """An action whose work is one call to the ``Trainer``."""

    def turn(self, helper: Assistant, state: State, tracker: Tracker) -> Turn:
        from actions.base import trainer

        return self.trainer_turn(trainer(), state, tracker)

    @abc.abstractmethod
    def trainer_turn(self, training: "Trainer", state: State, tracker: Tracker) -> Turn:
        """Ask the ``Trainer`` for this action's turn."""


class ActionStartTraining(TrainerAction):
    may_be_a_question = True  # "how do we build this into our training?"

    def name(self) -> Text:
        return "action_start_training"

    def trainer_turn(self, training, state, tracker):
        return training.start(state)


class ActionQuizAnswer(TrainerAction):
    def name(self) -> Text:
        return "action_quiz_answer"

    def trainer_turn(self, training, state, tracker):
        from actions.records import caller

        given = next(tracker.get_latest_entity_values("answer"), None)
        return training.answer(state, tracker.slots, caller(tracker), given)


class ActionStopTraining(TrainerAction):
    def name(self) -> Text:
        return "action_stop_training"

    def trainer_turn(self, training, state, tracker):
        return training.stop()


class ActionBriefing(TrainerAction):
    may_be_a_question = True  # "why was this briefing written?"

    def name(self) -> Text:
        return "action_briefing"

    def trainer_turn(self, training, state, tracker):
        return training.briefing(state, 0)


class ActionContinueBriefing(TrainerAction):
    def name(self) -> Text:
        return "action_continue_briefing"

    def trainer_turn(self, training, state, tracker):
        step = tracker.get_slot("briefing_step")
        return training.briefing(state, int(step) if isinstance(step, (int, float)) else 0)
