"""Escalation records kept through whole conversations with the running assistant, the
database read back afterwards (as a business manager or an inspector would)."""

from __future__ import annotations

import io

import docx
import pytest
from sqlalchemy import select

from bot.config import Settings
from bot.records import store
from bot.records.db import open_database
from bot.records.models import Escalation
from tests.conftest import PARTNERSHIPS
from tests.serving import new_sender, replies, say, serving, slots

pytestmark = pytest.mark.server


@pytest.fixture
def records(server):
    database = open_database(Settings.from_env({"BOT_VAR_DIR": str(server)}))
    yield database
    database.dispose()


SUBJECT = {"bury-children": "children", "south-tyneside": "children"}


def open_record(sender: str, partnership: str, url: str | None = None) -> str:
    """Triage, choose the partnership, open a record and answer every question."""
    kw = {"url": url} if url else {}
    say(sender, "the other agency has closed the case and I disagree with their decision", **kw)
    say(sender, '/choose_partnership{"partnership": "%s"}' % partnership, **kw)
    asked = say(sender, "/open_record", **kw)
    if "child (under 18) or an adult" in asked:
        asked = say(sender, '/inform_subject{"subject": "%s"}' % SUBJECT.get(partnership, "adults"), **kw)
    assert "case reference" in asked
    assert "Which agency or team" in say(sender, "CSC-204518", **kw)
    assert "Which is it mostly about?" in say(sender, "children's social care assessment team", **kw)
    assert "what is the disagreement" in say(sender, '/inform_category{"category": "step-up-step-down"}', **kw)
    assert "What outcome do you want" in say(sender, "the case was closed although the home conditions have not changed", **kw)
    assert "What evidence supports" in say(sender, "the case to stay open with a plan", **kw)
    asked = say(sender, "two home visits in November found the same conditions", **kw)
    if "Which agency and team" in asked:
        asked = say(sender, "health visiting", **kw)
        asked = say(sender, "health visitor", **kw)
    assert asked.startswith("Opened ESC-")
    return slots(sender, **kw)["escalation_ref"]


def read(records, reference):
    with records.session() as session:
        return store.view(store.find(session, reference=reference, person=None))


@pytest.mark.parametrize("partnership", PARTNERSHIPS)
def test_open_escalate_and_resolve_for_every_partnership(server, records, library, partnership):
    sender = new_sender()
    reference = open_record(sender, partnership)
    pack = library[partnership]
    opened = read(records, reference)
    assert (opened.partnership, opened.case_reference, opened.category) == (partnership, "CSC-204518", "step-up-step-down")
    assert opened.summary == "the case was closed although the home conditions have not changed"
    assert opened.raised_by.role == "health visitor"

    asked = say(sender, "not resolved")
    assert f"What happened at {pack.stages[0].title}?" in asked
    assert "other agency's position" in say(sender, "we talked, they will not reopen it")
    assert "confirmed in writing" in say(sender, "they say the threshold for reopening is not met")
    moved = say(sender, "/affirm")
    assert moved.startswith(f"{reference} moved to {pack.stages[1].title}")
    assert pack.stages[1].title in moved.split("\n", 1)[1]

    assert "What happened at" in say(sender, "resolved")
    say(sender, "the managers agreed to reopen the case")
    say(sender, "they accept the home conditions need a plan")
    assert "How has the resolution helped" in say(sender, "/deny")
    closed = say(sender, "there is now a plan and a named worker")
    assert closed.startswith(f"{reference} closed as resolved at {pack.stages[1].title}")

    done = read(records, reference)
    assert done.status == "resolved"
    assert [(s.key, s.resolved, s.key_points_in_writing) for s in done.stages] == [
        (pack.stages[0].key, False, True),
        (pack.stages[1].key, True, False),
    ]
    assert done.stages[0].outcome == "we talked, they will not reopen it"
    assert done.stages[0].other_agency_position == "they say the threshold for reopening is not met"
    assert done.outcome_for_person == "there is now a plan and a named worker"
    with records.session() as session:
        actions = [e.action for e in store.audit_trail(session, reference=reference)]
    assert actions == ["escalation.opened", "stage.recorded", "stage.escalated", "stage.recorded", "escalation.resolved"]


def test_a_name_typed_by_mistake_is_asked_again_and_never_stored(server, records):
    sender = new_sender()
    say(sender, '/choose_partnership{"partnership": "warrington-adults"}')
    say(sender, "/open_record")
    say(sender, "ASC-88812")
    say(sender, "adult social care")
    say(sender, '/inform_category{"category": "levels-of-need"}')
    refused = say(sender, "Mrs Hargreaves was refused a section 42 enquiry")
    assert "That looks like it contains a name" in refused
    assert "what is the disagreement" in refused
    say(sender, "a section 42 enquiry was refused")
    say(sender, "an enquiry under section 42")
    say(sender, "none yet")
    say(sender, "district nursing")
    opened = say(sender, "district nurse")
    reference = opened.split()[1]
    seen = read(records, reference)
    assert seen.summary == "a section 42 enquiry was refused"
    assert seen.evidence is None
    with records.session() as session:
        every = " ".join(e.summary + e.desired_outcome for e in session.scalars(select(Escalation)))
    assert "Hargreaves" not in every


def test_a_cancelled_form_is_resumed_where_it_stopped(server, records):
    sender = new_sender()
    say(sender, '/choose_partnership{"partnership": "bury-adults"}')
    say(sender, "/open_record")
    say(sender, "ASC-55021")
    paused = say(sender, "/cancel")
    assert "Nothing was saved yet" in paused
    assert slots(sender)["case_reference"] == "ASC-55021"
    resumed = say(sender, "/resume")
    assert "Which agency or team" in resumed  # the case reference is not asked again


def test_immediate_risk_in_the_middle_of_the_form_comes_first(server):
    sender = new_sender()
    say(sender, '/choose_partnership{"partnership": "south-tyneside"}')
    say(sender, "/open_record")
    say(sender, '/inform_subject{"subject": "children"}')
    answer = say(sender, "hang on, the boy has just said his stepdad is outside with a knife")
    assert answer.startswith("🚨 • If anyone is in immediate danger, call the police on 999 now.")
    assert "case reference" in answer  # then the form asks its question again


def test_my_escalations_the_form_document_and_someone_elses_record(server, records):
    sender = new_sender()
    reference = open_record(sender, "bury-children")
    for _ in range(3):
        say(sender, "/not_resolved")
        say(sender, "no agreement")
        say(sender, "they keep to their decision")
        say(sender, "/affirm")
    listing = say(sender, "my escalations")
    assert f"{reference}: case CSC-204518, Level 4: Exceptional Circumstances - BSCP, due" in listing
    sent = replies(sender, "/get_form")
    [text] = [r["text"] for r in sent if r.get("text")]
    [attachment] = [r["attachment"] for r in sent if r.get("attachment")]
    assert text.startswith(f"Request for resolution for {reference} is ready")
    assert attachment["name"] == f"{reference}-request-for-resolution.docx"
    document = docx.Document(io.BytesIO(open(attachment["path"], "rb").read()))
    cells = [cell.text for table in document.tables for row in table.rows for cell in row.cells]
    assert "CSC-204518" in cells
    assert any("the case was closed although the home conditions have not changed" in cell for cell in cells)
    stranger = new_sender()
    refused = say(stranger, f"show {reference}")
    assert f"{reference} is not one of your escalations" in refused


def test_a_restart_mid_escalation_loses_nothing(tmp_path):
    var = tmp_path / "var"
    sender = new_sender()
    with serving(var, rasa_port=5106, actions_port=5156) as url:
        reference = open_record(sender, "south-tyneside", url=url)
        say(sender, "/not_resolved", url=url)
        say(sender, "still no agreement", url=url)
        say(sender, "their manager backs the decision", url=url)
    with serving(var, rasa_port=5106, actions_port=5156) as url:
        moved = say(sender, "/affirm", url=url)  # the outcome form goes on where it was
        assert moved.startswith(f"{reference} moved to Stage 1")
        assert slots(sender, url=url)["stage"] == 1.0
    database = open_database(Settings.from_env({"BOT_VAR_DIR": str(var)}))
    try:
        seen = read(database, reference)
    finally:
        database.dispose()
    assert [s.key for s in seen.stages] == ["practitioners", "stage-1"]
    assert seen.stages[0].outcome == "still no agreement"
