"""Documents from an escalation record: rendered with the real packs, then opened with python-docx
and read back field by field."""

from __future__ import annotations

import dataclasses
import io
import re
from datetime import date, datetime, timezone

import docx
import pytest

from bot.documents import (
    escalation_notification,
    escalation_summary,
    form_reached,
    render,
    request_for_resolution,
)
from bot.documents.forms import KEPT_IN_AGENCY_SYSTEM, NOT_RECORDED
from bot.records.views import EscalationView, PersonView, StageView
from tests.conftest import SEEDS_DIR, london

TODAY = date(2026, 11, 23)
PRACTITIONER = PersonView(
    name="A. Practitioner",
    role="School nurse",
    agency="School nursing service",
    contact="school.nursing@example.org",
)

# Bury children's Appendix 1: each field the pack lists, and the template's own words for it in
# the document, in order.
APPENDIX_1 = [
    ("Date of Notification", ["Date of Notification"]),
    ("Name of Child/Young Person", ["Name of Child/Young Person"]),
    ("D.O.B", ["D.O.B"]),
    ("Referrer details: Name", ["Outcome Resolution Notice Referrer details:", "Name"]),
    ("Referrer details: Role", ["Role"]),
    ("Referrer details: Agency/Team", ["Agency/Team"]),
    ("Referrer details: Contact Details", ["Contact Details"]),
    (
        "Designated safeguarding lead aware of this notice? Yes / No, and name of safeguarding lead",
        ["Designated safeguarding lead aware of this notice?"],
    ),
    ("Summary of disagreement", ["Summary of disagreement"]),
    (
        "Evidence of the challenge that has taken place at stages 1, 2 & 3 and the outcome at each stage",
        ["Evidence of the challenge that has taken place at stages 1, 2 & 3 and the outcome at each stage"],
    ),
    (
        "Desired outcome for the child and / or family",
        [
            "Desired outcome for the child and / or family. Please include details of what it is "
            "you are requesting happens as a result of this challenge"
        ],
    ),
    (
        "Stage 3: date outcome resolved, and supporting evidence",
        [
            "Stage",
            "Date Outcome Resolved",
            "Supporting Evidence",
            "Embed written confirmation between parties about the agreed outcome",
            "Stage 3",
        ],
    ),
    (
        "Stage 4 (to be completed by Safeguarding Partnership Business Unit): date outcome resolved, and final decision",
        ["Stage 4 (to be completed by Safeguarding Partnership Business Unit)", "Final decision of:"],
    ),
]


# --- Reading a .docx back -----------------------------------------------------------------------


def opened(data: bytes) -> docx.document.Document:
    return docx.Document(io.BytesIO(data))


def table_rows(table) -> list[list[str]]:
    """Each row's cells' text, a merged cell counted once."""
    rows = []
    for row in table.rows:
        cells, seen = [], set()
        for cell in row.cells:
            if id(cell._tc) not in seen:
                seen.add(id(cell._tc))
                cells.append(cell.text)
        rows.append(cells)
    return rows


def lines(document) -> list[str]:
    """Every paragraph of the document, in cells too, in reading order."""
    found = []
    for block in document.iter_inner_content():
        if isinstance(block, docx.table.Table):
            for row in table_rows(block):
                for text in row:
                    found.extend(text.split("\n"))
        else:
            found.append(block.text)
    return found


def value_of(document, label: str, column: int = 1) -> str:
    """The value beside ``label`` in any table, or the row below a label row spanning the table."""
    for table in document.tables:
        rows = table_rows(table)
        for position, row in enumerate(rows):
            if row[0] == label:
                return row[column] if len(row) > 1 else rows[position + 1][0]
    raise AssertionError(f"no row labelled {label!r}")


def in_order(wanted: list[str], found: list[str]) -> list[str]:
    """The items of ``wanted`` not found as whole lines of ``found`` after the one before."""
    missing, position = [], 0
    for item in wanted:
        try:
            position = found.index(item, position) + 1
        except ValueError:
            missing.append(item)
    return missing


def normalised(text: str) -> str:
    return re.sub(r"\s+", " ", text).strip()


# --- Fixtures -----------------------------------------------------------------------------------


def stage_entry(pack, index: int, **recorded) -> StageView:
    stage = pack.stages[index]
    started = london(2026, 11, 2 + 4 * index, 9, 30)
    return StageView(
        index=index,
        key=stage.key,
        title=stage.title,
        started_at=started,
        due_on=date(2026, 11, 9 + 4 * index),
        due_basis="stage_timescale",
        **recorded,
    )


def escalation(pack, stages: tuple[StageView, ...], **changes) -> EscalationView:
    view = EscalationView(
        reference="ESC-7K2P9Q",
        partnership=pack.id,
        partnership_name=pack.name,
        procedure_version=pack.version,
        subject=pack.covers[0].value,
        case_reference="CSC-204518",
        status="open",
        opened_at=london(2026, 11, 2, 9, 30),
        raised_by=PRACTITIONER,
        other_agency="Children's social care",
        agencies=("School nursing service", "Children's social care"),
        category="levels-of-need",
        category_label="Levels of need / thresholds",
        summary="Referral closed with no further action despite repeated unexplained absences and weight loss.",
        evidence="Attendance record 61% this term; weight recorded at two health checks six weeks apart.",
        desired_outcome="A strategy discussion and a single assessment by children's social care.",
        safeguarding_lead_aware=True,
        safeguarding_lead="the designated safeguarding lead",
        stages=stages,
    )
    return dataclasses.replace(view, **changes)


def unresolved(pack, index: int, outcome: str) -> StageView:
    return stage_entry(
        pack,
        index,
        involved=f"Worker and manager at stage {index + 1}",
        other_agency_position="Threshold for a single assessment not met.",
        outcome=outcome,
        key_points_in_writing=True,
        resolved=False,
        closed_at=london(2026, 11, 4 + 4 * index, 16, 0),
    )


@pytest.fixture
def bury(library):
    return library["bury-children"]


@pytest.fixture
def tyneside(library):
    return library["south-tyneside"]


def bury_at_level(pack, level: int) -> EscalationView:
    """Bury children's escalation at Level ``level`` (1-based), the earlier levels unresolved."""
    done = tuple(unresolved(pack, i, f"Level {i + 1} outcome: decision upheld.") for i in range(level - 1))
    return escalation(pack, done + (stage_entry(pack, level - 1),))


# --- Bury children: Appendix 1 ------------------------------------------------------------------


def test_request_for_resolution_has_every_field_of_appendix_1_in_order(bury):
    form = bury.form("request-for-resolution")
    assert [field for field, _ in APPENDIX_1] == form.fields
    words = [label for _, labels in APPENDIX_1 for label in labels]

    document = opened(request_for_resolution(bury_at_level(bury, 4), bury, TODAY))

    found = lines(document)
    assert found[:3] == [
        "APPENDIX 1",
        "Request for Resolution Document",
        "THIS DOCUMENT MUST BE SENT/STORED SECURELY TO bsp@bury.gov.uk",
    ]
    assert bury.contact(form.send_to).email in found[2]
    assert in_order(words, found) == []
    assert (
        "Once stage 4 has concluded, the escalation notice will be completed, and a copy of the "
        "notice will be sent to the referrer informing them of the decision in writing." in found
    )
    assert found[-1] == "Source: 001_a704d4c7fdc83123.txt, Appendix 1 Request for Resolution Document"


@pytest.mark.skipif(not SEEDS_DIR.is_dir(), reason="the seed documents (../shared/seeds) are not beside the clone")
def test_request_for_resolution_labels_are_the_seeds_words(bury):
    seed = normalised((SEEDS_DIR / bury.seed.file).read_text(encoding="utf-8"))
    document = opened(request_for_resolution(bury_at_level(bury, 4), bury, TODAY))
    found = set(lines(document))
    for _, labels in APPENDIX_1:
        for label in labels:
            assert label in found
            assert label in seed
    closing = next(line for line in found if line.startswith("Once stage 4 has concluded"))
    assert closing in seed


def test_request_for_resolution_values(bury):
    view = bury_at_level(bury, 4)
    document = opened(request_for_resolution(view, bury, TODAY))

    assert value_of(document, "Date of Notification") == "23 November 2026"
    assert value_of(document, "Name of Child/Young Person") == KEPT_IN_AGENCY_SYSTEM
    assert value_of(document, "D.O.B") == KEPT_IN_AGENCY_SYSTEM
    assert value_of(document, "Agency case reference") == "CSC-204518"
    assert value_of(document, "Name") == "A. Practitioner"
    assert value_of(document, "Role") == "School nurse"
    assert value_of(document, "Agency/Team") == "School nursing service"
    assert value_of(document, "Contact Details") == "school.nursing@example.org"
    assert value_of(document, "Designated safeguarding lead aware of this notice?") == (
        "Yes\nName of safeguarding lead: the designated safeguarding lead"
    )
    assert value_of(document, "Summary of disagreement") == (
        f"{view.summary}\nArea of disagreement: Levels of need / thresholds"
    )
    assert value_of(
        document,
        "Desired outcome for the child and / or family. Please include details of what it is you "
        "are requesting happens as a result of this challenge",
    ) == view.desired_outcome


def test_request_for_resolution_evidence_covers_levels_1_to_3(bury):
    view = bury_at_level(bury, 4)
    document = opened(request_for_resolution(view, bury, TODAY))
    evidence = value_of(
        document,
        "Evidence of the challenge that has taken place at stages 1, 2 & 3 and the outcome at each stage",
    ).split("\n")

    titles = [line for line in evidence if line in {stage.title for stage in bury.stages}]
    assert titles == [
        "Level 1: Practitioner to Practitioner",
        "Level 2: Line Manager to Line Manager",
        "Level 3: Head of Service to Head of Service",
    ]
    assert "Level 4: Exceptional Circumstances - BSCP" not in evidence
    assert evidence[1:8] == [
        "Started: 2 November 2026, 09:30",
        "Closed: 4 November 2026, 16:00",
        "Who was involved: Worker and manager at stage 1",
        "The other agency's position: Threshold for a single assessment not met.",
        "Outcome: Level 1 outcome: decision upheld.",
        "Resolved at this stage: No",
        "Key points confirmed in writing: Yes",
    ]
    assert "Outcome: Level 3 outcome: decision upheld." in evidence
    assert evidence[-1] == f"Evidence for the concern: {view.evidence}"


def test_request_for_resolution_stage_table(bury):
    document = opened(request_for_resolution(bury_at_level(bury, 4), bury, TODAY))
    stage_table = table_rows(document.tables[1])

    assert stage_table[1] == [
        "Stage 3",
        "Not resolved (stage closed 12 November 2026, 16:00)",
        "Outcome: Level 3 outcome: decision upheld.\nKey points confirmed in writing: Yes",
    ]
    assert stage_table[2] == [
        "Stage 4 (to be completed by Safeguarding Partnership Business Unit)",
        "",
        "Final decision of:",
    ]


def test_request_for_resolution_marks_what_was_not_recorded(bury):
    view = bury_at_level(bury, 4)
    view = dataclasses.replace(
        view,
        raised_by=PersonView(name=None, role="Health visitor", agency=None),
        safeguarding_lead_aware=None,
        safeguarding_lead=None,
        evidence=None,
        stages=view.stages[:2] + view.stages[3:],  # no Level 3 entry
    )
    document = opened(request_for_resolution(view, bury, TODAY))

    assert value_of(document, "Name") == NOT_RECORDED
    assert value_of(document, "Contact Details") == NOT_RECORDED
    assert value_of(document, "Designated safeguarding lead aware of this notice?") == (
        "Not recorded\nName of safeguarding lead: Not recorded"
    )
    assert table_rows(document.tables[1])[1] == ["Stage 3", NOT_RECORDED, NOT_RECORDED]
    evidence = value_of(
        document,
        "Evidence of the challenge that has taken place at stages 1, 2 & 3 and the outcome at each stage",
    )
    assert evidence.endswith("Evidence for the concern: Not recorded")


# --- South Tyneside: Appendix A -----------------------------------------------------------------


def tyneside_at(pack, index: int) -> EscalationView:
    done = tuple(unresolved(pack, i, f"{pack.stages[i].title}: not agreed.") for i in range(index))
    return escalation(pack, done + (stage_entry(pack, index),), subject="adults")


def test_escalation_notification_title_note_and_fields(tyneside):
    view = tyneside_at(tyneside, 2)
    document = opened(escalation_notification(view, tyneside, TODAY))
    found = lines(document)

    assert found[0] == "Appendix A: Escalation Notification Form / Template"
    assert found[1].startswith(
        "Escalation Notification to the South Tyneside Safeguarding Children Partnership and "
        "South Tyneside Safeguarding Adults Board"
    )
    assert found[2].startswith("Note: the protocol (004_0a1c27d958957785.txt) names this template but does not give its fields.")
    assert found[3] == "Send to: STSCP / STSAB Business Manager; the protocol gives no e-mail address"
    assert found[4].startswith("Sent at: Stage 2 – Escalation and Resolution to Senior Manager")

    rows = table_rows(document.tables[0])
    assert rows[0] == ["Field", "Entry", "Asked for by"]
    assert [row[0] for row in rows[1:]] == [
        "Date of notification",
        "Referrer details",
        "Agency case reference",
        "The challenge is about",
        "Agencies involved",
        "Nature of the professional challenge",
        "The concern and the evidence for it",
        "The outcome wanted and how the differences could be resolved",
        "Stages of this protocol used so far",
        "Actions taken so far and outcome expectations",
        "Timescale",
    ]
    assert value_of(document, "Date of notification") == "23 November 2026"
    assert value_of(document, "Referrer details") == (
        "Name: A. Practitioner\nRole: School nurse\nAgency/Team: School nursing service\n"
        "Contact details: school.nursing@example.org"
    )
    assert value_of(document, "Agency case reference") == "CSC-204518"
    assert value_of(document, "The challenge is about") == "An adult"
    assert value_of(document, "Agencies involved") == (
        "School nursing service, Children's social care\n"
        "Agency that made the original decision: Children's social care"
    )
    assert value_of(document, "Nature of the professional challenge") == f"Levels of need / thresholds\n{view.summary}"
    assert value_of(document, "The concern and the evidence for it") == view.evidence
    assert value_of(document, "The outcome wanted and how the differences could be resolved") == view.desired_outcome
    assert value_of(document, "Stages of this protocol used so far").split("\n") == [
        "Before Stage 1: practitioner to practitioner: started 2 November 2026, 09:30; "
        "closed 4 November 2026, 16:00; outcome: Before Stage 1: practitioner to practitioner: not agreed.",
        "Stage 1 – Immediate Resolution – Line Managers: started 6 November 2026, 09:30; "
        "closed 8 November 2026, 16:00; outcome: Stage 1 – Immediate Resolution – Line Managers: not agreed.",
        f"{tyneside.stages[2].title}: started 10 November 2026, 09:30; closed Not recorded; outcome: Not recorded",
    ]
    actions = value_of(document, "Actions taken so far and outcome expectations").split("\n")
    assert "Who was involved: Worker and manager at stage 2" in actions
    assert actions[-1] == f"Outcome expected: {view.desired_outcome}"
    assert value_of(document, "Timescale") == (
        "all issues will be resolved within a maximum of 5 working days\n"
        "Escalation opened: 2 November 2026, 09:30"
    )
    assert value_of(document, "Timescale", column=2) == (
        "004_0a1c27d958957785.txt, 4. Timescales: \u201cIt is expected that all issues will be "
        "resolved within a maximum of 5 working days\u201d"
    )
    assert value_of(document, "Nature of the professional challenge", column=2) == (
        "004_0a1c27d958957785.txt, Stage 2 – Escalation and Resolution to Senior Manager: "
        "\u201cAt this point the STSCP / STSAB should be notified of the nature of the professional challenge\u201d"
    )
    assert found[-1] == "Source: 004_0a1c27d958957785.txt, Appendix A: Escalation Notification Form / Template"


@pytest.mark.skipif(not SEEDS_DIR.is_dir(), reason="the seed documents (../shared/seeds) are not beside the clone")
def test_escalation_notification_cites_passages_that_are_in_the_protocol(tyneside):
    seed = normalised((SEEDS_DIR / tyneside.seed.file).read_text(encoding="utf-8"))
    document = opened(escalation_notification(tyneside_at(tyneside, 2), tyneside, TODAY))
    citations = [row[2] for row in table_rows(document.tables[0])[1:]]
    prefix = f"{tyneside.seed.file}, "
    for citation in citations:
        assert citation.startswith(prefix)
        section, _, words = citation[len(prefix):].partition(": \u201c")
        assert normalised(section) in seed, section
        if words:
            assert normalised(words.rstrip("\u201d")) in seed, words


# --- Any partnership: summary -------------------------------------------------------------------


def test_summary_stage_table_rows_are_the_stages(library):
    pack = library["warrington-adults"]
    stages = (unresolved(pack, 0, "No agreement."), stage_entry(pack, 1, involved="Team managers"))
    view = escalation(pack, stages, subject="adults")
    document = opened(escalation_summary(view, pack, TODAY))

    history = table_rows(document.tables[1])
    assert history[0] == ["Stage", "Started", "Due", "Outcome", "Key points in writing", "Closed"]
    assert history[1:] == [
        [
            pack.stages[0].title,
            "2 November 2026, 09:30",
            "9 November 2026 (the stage's timescale)",
            "No agreement.",
            "Yes",
            "4 November 2026, 16:00\nResolved: No",
        ],
        [pack.stages[1].title, "6 November 2026, 09:30", "13 November 2026 (the stage's timescale)", NOT_RECORDED, NOT_RECORDED, NOT_RECORDED],
    ]


def test_summary_details_and_source(library):
    pack = library["warrington-adults"]
    view = escalation(pack, (stage_entry(pack, 0),), subject="adults", evidence=None)
    document = opened(escalation_summary(view, pack, TODAY))
    found = lines(document)

    assert found[0] == "Escalation record summary"
    assert value_of(document, "Partnership") == pack.name
    assert value_of(document, "Procedure version") == pack.version
    assert value_of(document, "Reference") == "ESC-7K2P9Q"
    assert value_of(document, "Agency case reference") == "CSC-204518"
    assert value_of(document, "About") == "An adult"
    assert value_of(document, "Status") == "Open"
    assert value_of(document, "Opened") == "2 November 2026, 09:30"
    assert value_of(document, "Raised by").startswith("Name: A. Practitioner\nRole: School nurse")
    assert value_of(document, "Other agency") == "Children's social care"
    assert value_of(document, "Category") == "Levels of need / thresholds"
    assert value_of(document, "Summary") == view.summary
    assert value_of(document, "Evidence") == NOT_RECORDED
    assert value_of(document, "Desired outcome") == view.desired_outcome
    headings = [p.text for p in document.paragraphs if p.style.name.startswith("Heading")]
    assert headings == ["Escalation record summary", "Stage history"]  # open: no outcome yet
    assert len(document.tables) == 2
    assert found[-1] == f"Source: {pack.seed.file} ({pack.seed.title}), version: {pack.version}"


def test_summary_of_a_closed_escalation_gives_the_outcome_for_the_child(bury):
    view = dataclasses.replace(
        bury_at_level(bury, 2),
        status="resolved",
        outcome="Single assessment agreed at Level 2.",
        outcome_for_person="Assessment started; school and health visitor invited to the planning meeting.",
        closed_at=london(2026, 11, 20, 15, 45),
    )
    document = opened(escalation_summary(view, bury, TODAY))

    headings = [p.text for p in document.paragraphs if p.style.name.startswith("Heading")]
    assert headings == ["Escalation record summary", "Stage history", "Outcome"]
    assert value_of(document, "Status") == "Resolved"
    assert value_of(document, "Closed") == "20 November 2026, 15:45"
    assert value_of(document, "Outcome") == "Single assessment agreed at Level 2."
    assert value_of(document, "Outcome for the child or young person") == view.outcome_for_person


def test_datetimes_are_shown_in_london_time(library):
    pack = library["warrington-adults"]
    summer = dataclasses.replace(
        escalation(pack, (), subject="adults"),
        opened_at=datetime(2026, 7, 1, 8, 15, tzinfo=timezone.utc),
    )
    document = opened(escalation_summary(summer, pack, TODAY))
    assert value_of(document, "Opened") == "1 July 2026, 09:15"  # BST


# --- render: which document -----------------------------------------------------------------------


@pytest.mark.parametrize("level, expected", [(1, None), (3, None), (4, "request-for-resolution")])
def test_bury_form_is_reached_at_its_level(bury, level, expected):
    form = form_reached(bury_at_level(bury, level), bury)
    assert (form.id if form else None) == expected


def test_render_gives_bury_its_form_from_level_4(bury):
    name, data = render(bury_at_level(bury, 4), bury, today=TODAY)
    assert name == "ESC-7K2P9Q-request-for-resolution.docx"
    assert lines(opened(data))[1] == "Request for Resolution Document"


def test_render_gives_bury_the_summary_before_level_4(bury):
    name, data = render(bury_at_level(bury, 3), bury, today=TODAY)
    assert name == "ESC-7K2P9Q-escalation-summary.docx"
    assert lines(opened(data))[0] == "Escalation record summary"


@pytest.mark.parametrize("index", [2, 3, 4])
def test_render_gives_south_tyneside_its_notification_from_stage_2_on(tyneside, index):
    name, data = render(tyneside_at(tyneside, index), tyneside, today=TODAY)
    assert name == "ESC-7K2P9Q-escalation-notification.docx"
    assert lines(opened(data))[0] == "Appendix A: Escalation Notification Form / Template"


@pytest.mark.parametrize("index", [0, 1])
def test_render_gives_south_tyneside_the_summary_before_stage_2(tyneside, index):
    name, data = render(tyneside_at(tyneside, index), tyneside, today=TODAY)
    assert name == "ESC-7K2P9Q-escalation-summary.docx"
    assert lines(opened(data))[0] == "Escalation record summary"


@pytest.mark.parametrize("partnership", ["bury-adults", "warrington-adults", "cambs-peterborough-adults"])
def test_render_gives_a_pack_without_forms_the_summary_at_every_stage(library, partnership):
    pack = library[partnership]
    assert pack.forms == []
    last = len(pack.stages) - 1
    view = escalation(pack, (stage_entry(pack, last),), subject="adults")
    name, data = render(view, pack, today=TODAY)
    assert name == "ESC-7K2P9Q-escalation-summary.docx"
    assert table_rows(opened(data).tables[1])[1][0] == pack.stages[last].title


def test_render_without_a_stage_gives_the_summary(bury):
    name, _ = render(escalation(bury, ()), bury, today=TODAY)
    assert name == "ESC-7K2P9Q-escalation-summary.docx"


def test_render_refuses_another_partnerships_pack(library):
    view = bury_at_level(library["bury-children"], 4)
    with pytest.raises(ValueError, match="follows the 'bury-children' procedure, not 'bury-adults'"):
        render(view, library["bury-adults"], today=TODAY)
