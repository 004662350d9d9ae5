"""The actions of an escalation record: its two forms, opening, advancing, listing, the form
document, and picking up where the record stands when a practitioner comes back."""

from __future__ import annotations

import abc
import logging
from typing import Any, Dict, List, Text

from rasa_sdk import Action, FormValidationAction, Tracker
from rasa_sdk.events import ActionExecuted, SessionStarted, SlotSet
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.interfaces import ActionExecutionRejection
from rasa_sdk.types import DomainDict

from actions.base import AssistantAction, answers, assistant, desk, records_down, send
from bot.dialogue import Assistant, State, Turn
from bot.escalations import (
    CATEGORY,
    ESCALATION_REF,
    OUTCOME_FOR_PERSON,
    OUTCOME_KIND,
    Caller,
    Desk,
    form_questions,
)
from bot.records import store

REQUESTED_SLOT = "requested_slot"


def caller(tracker: Tracker) -> Caller:
    """Who is talking. On a first message (``action_session_start``) the channel is only in the
    session's metadata, which the connectors set."""
    channel = tracker.get_latest_input_channel() or (tracker.get_slot("session_started_metadata") or {}).get("input_channel")
    return Caller(channel=channel or "rest", sender=tracker.sender_id)


logger = logging.getLogger(__name__)


class DeskAction(AssistantAction):
    """An action whose work is one call to the records ``Desk``."""

    def turn(self, helper: Assistant, state: State, tracker: Tracker) -> Turn:
        return self.desk_turn(desk(), tracker)

    @abc.abstractmethod
    def desk_turn(self, records: Desk, tracker: Tracker) -> Turn:
        """Ask the ``Desk`` for this action's turn."""


# The escalation form ----------------------------------------------------------------------------

# Intents that must interrupt a form even when the same message also names a partnership or a
# child (which would otherwise count as the form's progress): the rules then answer them first.
INTERRUPTING_INTENTS = {"immediate_risk", "cancel", "help", "EXTERNAL_nudge"}


class InterruptibleForm(FormValidationAction, abc.ABC):
    """A form's validation that steps aside for an interrupting intent."""

    @abc.abstractmethod
    def name(self) -> Text:
        """``validate_<form name>``."""

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict) -> List[Dict[Text, Any]]:
        intent = (tracker.latest_message.get("intent") or {}).get("name")
        if intent in INTERRUPTING_INTENTS and not _answered_since_user_spoke(tracker):
            raise ActionExecutionRejection(self.name(), f"{intent} interrupts the form")
        try:
            return await super().run(dispatcher, tracker, domain)
        except Exception as error:
            if not records_down(self.name(), error):
                raise
            # The records could not be read to check this answer: say so and ask the same
            # question again (the answers so far stay in the conversation).
            dispatcher.utter_message(response="utter_records_unavailable")
            asked = tracker.get_slot(REQUESTED_SLOT)
            return [SlotSet(REQUESTED_SLOT, asked)] if asked else []

    def _text(self, slot: str, value: Any, dispatcher: CollectingDispatcher) -> Dict[Text, Any]:
        """A free-text answer kept, or refused with the reason said (personal data, length)."""
        kept, response, problem = answers().check_text(slot, value)
        if response == "utter_personal_data_found":
            dispatcher.utter_message(response=response, found=problem)
        elif response:
            dispatcher.utter_message(response=response, problem=problem)
        return {slot: kept}


def _answered_since_user_spoke(tracker: Tracker) -> bool:
    """Whether an action other than slot extraction and forms ran after the latest message (the
    interruption was answered, and the form is now resuming)."""
    quiet = {"action_listen", "action_extract_slots", "escalation_form", "outcome_form"}
    for event in reversed(tracker.events):
        if event.get("event") == "user":
            return False
        if event.get("event") == "action" and event.get("name") not in quiet:
            return True
    return False


class RegistrationAnswers:
    """Validators of the registration questions, shared by the registration form and the
    escalation form (which asks them first where the partnership restricts records)."""

    @staticmethod
    def _checked(slot: str, checked: tuple[str | None, str | None], dispatcher: CollectingDispatcher) -> Dict[Text, Any]:
        kept, problem = checked
        if problem:
            dispatcher.utter_message(response="utter_wrong_text", problem=problem)
        return {slot: kept}

    def validate_work_email(self, value, dispatcher, tracker, domain):
        return self._checked("work_email", answers().check_work_email(value), dispatcher)

    def validate_invite_code(self, value, dispatcher, tracker, domain):
        return self._checked("invite_code", answers().check_invite_code(value, tracker.get_slot("work_email")), dispatcher)

    def validate_my_agency(self, value, dispatcher, tracker, domain):
        return self._text("my_agency", value, dispatcher)

    def validate_my_role(self, value, dispatcher, tracker, domain):
        return self._text("my_role", value, dispatcher)

    def validate_manager_email(self, value, dispatcher, tracker, domain):
        return self._checked("manager_email", Desk.check_manager_email(value, tracker.get_slot("work_email")), dispatcher)


class ValidateEscalationForm(RegistrationAnswers, InterruptibleForm):
    """Asks only what is missing; refuses personal data and says why, then asks again."""

    def name(self) -> Text:
        return "validate_escalation_form"

    async def required_slots(
        self, domain_slots: List[Text], dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> List[Text]:
        try:
            return desk().form_slots_needed(caller(tracker), tracker.slots)
        except Exception as error:
            if not records_down(self.name(), error):
                raise
            # The records cannot say what is known of this person: the form goes on without them
            # (asking agency and role) and the record is written once they can be reached.
            return form_questions(assistant().library, tracker.slots, None)

    def validate_case_reference(self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict) -> Dict[Text, Any]:
        kept, problem = Desk.check_case_reference(value)
        if problem:
            dispatcher.utter_message(response="utter_wrong_case_reference", problem=problem)
        return {"case_reference": kept}

    def validate_category(self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict) -> Dict[Text, Any]:
        key = store.match_category(str(value or ""))
        if key is None:
            dispatcher.utter_message(response="utter_wrong_category")
        return {CATEGORY: key}

    def validate_other_agency(self, value, dispatcher, tracker, domain):
        return self._text("other_agency", value, dispatcher)

    def validate_summary(self, value, dispatcher, tracker, domain):
        return self._text("summary", value, dispatcher)

    def validate_desired_outcome(self, value, dispatcher, tracker, domain):
        return self._text("desired_outcome", value, dispatcher)

    def validate_evidence(self, value, dispatcher, tracker, domain):
        return self._text("evidence", value, dispatcher)


class ActionAskPartnership(AssistantAction):
    def name(self) -> Text:
        return "action_ask_partnership"

    def turn(self, helper: Assistant, state: State, tracker: Tracker) -> Turn:
        return helper.ask_partnership(state)


class ActionAskSubject(AssistantAction):
    def name(self) -> Text:
        return "action_ask_subject"

    def turn(self, helper: Assistant, state: State, tracker: Tracker) -> Turn:
        return helper.ask_subject(state)


class ActionAskCategory(Action):
    """The category question, with the seeds' categories as buttons."""

    def name(self) -> Text:
        return "action_ask_category"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict) -> List[Dict[Text, Any]]:
        from bot.dialogue import payload

        dispatcher.utter_message(
            text="Which is it mostly about?",
            buttons=[
                {"title": entry["label"], "payload": payload("inform_category", category=key)}
                for key, entry in store.categories().items()
            ],
        )
        return []


class ActionOpenEscalation(DeskAction):
    unavailable_response = "utter_records_unavailable_open"

    def name(self) -> Text:
        return "action_open_escalation"

    def desk_turn(self, records: Desk, tracker: Tracker) -> Turn:
        return records.open(caller(tracker), tracker.slots)


# A stage's outcome -------------------------------------------------------------------------------


class ActionSetOutcomeKind(Action):
    """Remember whether the practitioner said resolved or not, for the outcome form."""

    def name(self) -> Text:
        return "action_set_outcome_kind"

    async def run(self, dispatcher, tracker: Tracker, domain) -> List[Dict[Text, Any]]:
        intent = (tracker.latest_message.get("intent") or {}).get("name")
        return [SlotSet(OUTCOME_KIND, "resolved" if intent == "resolved" else "not_resolved")]


class ValidateOutcomeForm(InterruptibleForm):
    def name(self) -> Text:
        return "validate_outcome_form"

    async def required_slots(self, domain_slots, dispatcher, tracker: Tracker, domain) -> List[Text]:
        needed = ["stage_outcome", "other_agency_position", "key_points_in_writing"]
        if tracker.get_slot(OUTCOME_KIND) == "resolved":
            needed.append(OUTCOME_FOR_PERSON)
        return needed

    def validate_stage_outcome(self, value, dispatcher, tracker, domain):
        return self._text("stage_outcome", value, dispatcher)

    def validate_other_agency_position(self, value, dispatcher, tracker, domain):
        return self._text("other_agency_position", value, dispatcher)

    def validate_outcome_for_person(self, value, dispatcher, tracker, domain):
        return self._text(OUTCOME_FOR_PERSON, value, dispatcher)


class ActionAskStageOutcome(Action):
    """What happened at the record's current stage (named, read from the record)."""

    def name(self) -> Text:
        return "action_ask_stage_outcome"

    async def run(self, dispatcher, tracker: Tracker, domain) -> List[Dict[Text, Any]]:
        try:
            title = desk().current_stage_title(caller(tracker), tracker.get_slot(ESCALATION_REF))
        except store.RecordError:
            title = "this stage"
        except Exception as error:  # the question can be asked without the stage's name
            if not records_down(self.name(), error):
                raise
            title = "this stage"
        dispatcher.utter_message(response="utter_ask_stage_outcome", stage_title=title)
        return []


class ActionAdvanceEscalation(DeskAction):
    unavailable_response = "utter_records_unavailable_outcome"

    def name(self) -> Text:
        return "action_advance_escalation"

    def desk_turn(self, records: Desk, tracker: Tracker) -> Turn:
        return records.advance(caller(tracker), tracker.slots)


# Reading and the form document --------------------------------------------------------------------


def _reference(tracker: Tracker) -> str | None:
    """A reference typed in the message, else one given as an entity, else the current one."""
    match = store.REFERENCE.search(tracker.latest_message.get("text") or "")
    if match:
        return match.group(0).upper()
    entity = next(tracker.get_latest_entity_values("reference"), None)
    return entity or tracker.get_slot(ESCALATION_REF)


class ActionListEscalations(DeskAction):
    may_be_a_question = True  # "where are all the escalations logged?"

    def name(self) -> Text:
        return "action_list_escalations"

    def desk_turn(self, records: Desk, tracker: Tracker) -> Turn:
        return records.list_mine(caller(tracker))


class ActionShowEscalation(DeskAction):
    def name(self) -> Text:
        return "action_show_escalation"

    def desk_turn(self, records: Desk, tracker: Tracker) -> Turn:
        reference = _reference(tracker)
        if not reference:
            return records.list_mine(caller(tracker))
        return records.show(caller(tracker), reference)


class ActionSendForm(DeskAction):
    may_be_a_question = True  # "which form at stage 2?"

    def name(self) -> Text:
        return "action_send_form"

    def desk_turn(self, records: Desk, tracker: Tracker) -> Turn:
        reference = _reference(tracker)
        if not reference:
            return records.list_mine(caller(tracker))
        return records.document(caller(tracker), reference)


class ActionSessionStart(Action):
    """A new session keeps the slots and says where the practitioner's open record stands."""

    def name(self) -> Text:
        return "action_session_start"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict) -> List[Dict[Text, Any]]:
        events: List[Dict[Text, Any]] = [SessionStarted()]
        events += [SlotSet(name, value) for name, value in tracker.slots.items() if value is not None]
        try:
            events += send(dispatcher, desk().welcome_back(caller(tracker)))
        except Exception as error:  # the welcome is a courtesy: a session must start regardless
            if not records_down(self.name(), error):
                logger.exception("welcome back failed")
        events.append(ActionExecuted("action_listen"))
        return events


# Nudges -----------------------------------------------------------------------------------------


class ActionNudge(DeskAction):
    """A nudge arrived in this conversation (``EXTERNAL_nudge``, triggered by ``bot.nudges``)."""

    def name(self) -> Text:
        return "action_nudge"

    def desk_turn(self, records: Desk, tracker: Tracker) -> Turn:
        from bot.nudges.delivery import NUDGE_ENTITY

        key = next(tracker.get_latest_entity_values(NUDGE_ENTITY), None)
        if not key:
            return Turn()
        # Inside a form the conversation stays on the record being filled in.
        return records.nudge(caller(tracker), key, follow=not tracker.active_loop_name)


class ActionMoreTime(DeskAction):
    """More time agreed at the current stage: ask until when."""

    def name(self) -> Text:
        return "action_more_time"

    def desk_turn(self, records: Desk, tracker: Tracker) -> Turn:
        reference = tracker.get_slot(ESCALATION_REF)
        if not reference or not tracker.get_slot("has_record"):
            turn = Turn()
            turn.say("utter_more_time_no_record")
            return turn
        return records.ask_more_time(caller(tracker), reference)


# Registration -----------------------------------------------------------------------------------


class ValidateRegistrationForm(RegistrationAnswers, InterruptibleForm):
    def name(self) -> Text:
        return "validate_registration_form"

    async def required_slots(self, domain_slots, dispatcher, tracker: Tracker, domain) -> List[Text]:
        return answers().registration_slots_needed(caller(tracker), tracker.slots)


class ActionRegister(DeskAction):
    """The filled registration form: register, link the line manager (or say when)."""

    def name(self) -> Text:
        return "action_register"

    def desk_turn(self, records: Desk, tracker: Tracker) -> Turn:
        return records.register(caller(tracker), tracker.slots)
