"""Registering through the running assistant: the form, the line manager linked by e-mail when
they register on their own conversation, and the manager then listing their team's records."""

from __future__ import annotations

import pytest

from tests.serving import new_sender, say
from tests.test_record_conversations import open_record

pytestmark = pytest.mark.server


def register(sender: str, email: str, manager_email: str, role: str) -> str:
    asked = say(sender, "I'd like to register please")
    if "Which safeguarding partnership" in asked:
        asked = say(sender, '/choose_partnership{"partnership": "south-tyneside"}')
    assert "Which agency and team" in asked
    assert "your role" in say(sender, "school nursing, south locality")
    assert "work e-mail" in say(sender, role)
    assert "line manager's work e-mail" in say(sender, email)
    return say(sender, manager_email)


def test_register_then_the_manager_registers_and_sees_the_teams_record(server):
    nurse, lead = new_sender(), new_sender()
    done = register(nurse, "school.nurse@nhs.net", "locality.lead@nhs.net", "school nurse")
    assert done.startswith("You're registered: school nurse, school nursing, south locality.")
    assert "hasn't used the assistant yet" in done
    reference = open_record(nurse, "south-tyneside")

    done = register(lead, "locality.lead@nhs.net", "none", "locality lead")
    assert "You're now the line manager of 1 practitioner(s) here" in done
    listed = say(lead, "show my escalations")
    assert f"{reference} (your team, school nursing, south locality)" in listed
