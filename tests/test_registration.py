"""Who is who: registration once per channel identity, managers linked by e-mail in either order,
the partnership's restriction (e-mail domains, invitation codes), and who may see which records."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from bot.clock import frozen_clock
from bot.config import Settings
from bot.dialogue import Assistant
from bot.escalations import Caller, Desk, Registration
from bot.records import store
from bot.records.db import open_database
from bot.records.models import Person
from bot.triage import Thresholds
from tests.conftest import london
from tests.test_escalations import form

NOW = london(2026, 11, 23, 10)
NURSE, MANAGER, OTHER_MANAGER = Caller("telegram", "1001"), Caller("telegram", "2002"), Caller("teams", "29:x")


def desk_for(library, tmp_path, registration=Registration()):
    settings = Settings.from_env({"BOT_VAR_DIR": str(tmp_path / "var")})
    return Desk(Assistant(library, frozen_clock(NOW), Thresholds()), open_database(settings), settings.documents_dir, registration)


@pytest.fixture
def desk(library, tmp_path):
    desk = desk_for(library, tmp_path)
    yield desk
    desk.database.dispose()


def details(email, manager_email="none", **extra):
    return {"partnership": "south-tyneside", "my_agency": "School nursing", "my_role": "School nurse",
            "work_email": email, "manager_email": manager_email, **extra}  # fmt: skip


def people(desk) -> dict[str, Person]:
    with desk.database.session() as session:
        return {p.channel_id: p for p in session.scalars(select(Person))}


def test_a_practitioner_registered_before_their_manager_is_linked_when_the_manager_registers(desk):
    first = desk.register(NURSE, details("nurse@nhs.net", "Lead.Nurse@nhs.net"))
    assert [r.response for r in first.replies] == ["utter_registered", "utter_manager_pending"]
    assert people(desk)["1001"].line_manager_id is None
    second = desk.register(MANAGER, details("lead.nurse@nhs.net", my_role="Lead nurse"))
    assert [r.response for r in second.replies] == ["utter_registered", "utter_now_manager_of"]
    assert second.replies[1].variables["count"] == "1"
    everyone = people(desk)
    assert everyone["1001"].line_manager_id == everyone["2002"].id
    # The e-mail itself is never stored: a keyed digest and the domain only.
    assert everyone["1001"].email_domain == "nhs.net" and "nurse" not in (everyone["1001"].email_digest or "")


def test_a_manager_registered_first_is_linked_at_once(desk):
    desk.register(MANAGER, details("lead.nurse@nhs.net", my_role="Lead nurse"))
    turn = desk.register(NURSE, details("nurse@nhs.net", "lead.nurse@nhs.net"))
    assert [r.response for r in turn.replies] == ["utter_registered", "utter_manager_linked"]
    assert turn.replies[1].variables["manager"] == "Lead nurse at School nursing"


def test_the_manager_sees_their_teams_records_and_another_manager_does_not(desk):
    desk.register(MANAGER, details("lead.nurse@nhs.net", my_role="Lead nurse"))
    desk.register(NURSE, details("nurse@nhs.net", "lead.nurse@nhs.net"))
    reference = desk.open(NURSE, form("south-tyneside")).slots["escalation_ref"]
    listed = desk.list_mine(MANAGER).replies[0]
    assert f"{reference} (your team, Health visiting)" in listed.variables["lines"]
    assert desk.show(MANAGER, reference).replies[0].variables["reference"] == reference
    desk.register(OTHER_MANAGER, details("other.lead@nhs.net"))
    with pytest.raises(store.NotYourEscalation):
        desk.show(OTHER_MANAGER, reference)
    assert desk.list_mine(OTHER_MANAGER).replies[0].response == "utter_no_escalations"


def test_restricted_to_domains_an_outside_address_is_refused(library, tmp_path):
    desk = desk_for(library, tmp_path, Registration(domains=("southtyneside.gov.uk", "nhs.net")))
    try:
        kept, problem = desk.check_work_email("someone@gmail.com")
        assert kept is None and "southtyneside.gov.uk, nhs.net" in problem
        assert desk.check_work_email("a.worker@southtyneside.gov.uk") == ("a.worker@southtyneside.gov.uk", None)
        assert desk.check_work_email("not an address")[1].startswith("That doesn't look like an e-mail address")
        # Unregistered: the escalation form registers first, and records cannot be listed.
        assert desk.form_slots_needed(NURSE, {"partnership": "south-tyneside", "subject": "children"})[:2] == ["work_email", "manager_email"]
        with pytest.raises(store.RecordError, match="Only registered people"):
            desk.list_mine(NURSE)
        opened = desk.open(NURSE, {**form("south-tyneside"), "work_email": "a.worker@southtyneside.gov.uk", "manager_email": "none"})
        assert [r.response for r in opened.replies][:2] == ["utter_registered", "utter_escalation_opened"]
    finally:
        desk.database.dispose()


def test_restricted_by_invitation_code_a_wrong_code_is_refused(library, tmp_path):
    desk = desk_for(library, tmp_path, Registration(domains=("southtyneside.gov.uk",), codes=("ST-2026-PILOT",)))
    try:
        # A GP practice address is outside the council's domain: an invitation code is asked for.
        needed = desk.registration_slots_needed(NURSE, {"partnership": "south-tyneside", "work_email": "gp@nhs.net"})
        assert needed == ["my_agency", "my_role", "work_email", "invite_code", "manager_email"]
        assert desk.check_invite_code("ST-2025", "gp@nhs.net")[1].startswith("That invitation code isn't one")
        assert desk.check_invite_code("ST-2026-PILOT", "gp@nhs.net") == ("ST-2026-PILOT", None)
        with pytest.raises(store.InvalidValue):
            desk.register(NURSE, details("gp@nhs.net", invite_code="wrong"))
        desk.register(NURSE, details("gp@nhs.net", invite_code="ST-2026-PILOT"))
        assert people(desk)["1001"].registered_at is not None
    finally:
        desk.database.dispose()


def test_a_manager_email_must_be_someone_elses(desk):
    assert Desk.check_manager_email("none", "nurse@nhs.net") == ("none", None)
    assert Desk.check_manager_email("NURSE@nhs.net", "nurse@nhs.net")[1].startswith("That is your own e-mail")
    assert Desk.check_manager_email("lead@", "nurse@nhs.net")[0] is None
