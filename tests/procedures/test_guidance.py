"""What the assistant says about a procedure comes from the pack, with its citation."""

from __future__ import annotations

from datetime import date

import pytest

from bot.procedures import guidance
from tests.conftest import PARTNERSHIPS, london


def test_format_date():
    assert guidance.format_date(date(2026, 12, 1)) == "Tue 1 Dec 2026"


@pytest.mark.parametrize("partnership", PARTNERSHIPS)
def test_every_stage_says_who_what_record_when_and_next(library, partnership):
    pack = library[partnership]
    for index, stage in enumerate(pack.stages):
        said = guidance.stage_guidance(pack, index, stage_started_at=london(2026, 11, 23, 9))
        assert said.stage_title == stage.title
        assert stage.raised_by in said.who and stage.raised_with in said.who
        assert all(action in said.actions for action in stage.actions if not stage.deadlines)
        assert all(fact.text in said.record for fact in stage.record)
        assert said.sources.startswith(f"Source: {pack.short_name} procedure ({pack.seed.file}), ")
        assert stage.source.section in said.sources
        if index == len(pack.stages) - 1:
            assert said.next_step.startswith("This is the final stage: " + pack.final_body.name)
            assert pack.final_body.decides in said.next_step
        else:
            assert said.next_step == f"If not resolved: {stage.if_not_resolved}"


@pytest.mark.parametrize("partnership", ["bury-adults", "warrington-adults", "cambs-peterborough-adults"])
def test_without_a_timescale_the_pack_asks_for_speed_and_a_review_date(library, partnership):
    pack = library[partnership]
    said = guidance.stage_guidance(pack, 1, stage_started_at=london(2026, 11, 23, 9))
    assert said.needs_review_date
    assert pack.resolve_quickly.text in said.timescale
    assert "working days" not in said.timescale
    assert pack.resolve_quickly.source.section in said.sources
    agreed = guidance.stage_guidance(pack, 1, stage_started_at=london(2026, 11, 23, 9), agreed_review_on=date(2026, 12, 4))
    assert not agreed.needs_review_date
    assert "Fri 4 Dec 2026" in agreed.timescale


def test_bury_children_levels_carry_their_timescales(library):
    pack = library["bury-children"]
    level_1 = guidance.stage_guidance(pack, 0, stage_started_at=london(2026, 12, 21, 9))
    assert level_1.timescale == (
        "Timescale: Attempt to resolve as soon as possible. Each stage should not exceed 10 "
        "working days. That is by Thu 7 Jan 2027."
    )
    level_3 = guidance.stage_guidance(pack, 2, stage_started_at=london(2026, 12, 21, 9))
    assert level_3.timescale == "Timescale: Within one week: by Wed 30 Dec 2026."
    assert "directors/assistant directors within 2 working days (by Wed 23 Dec 2026)" in level_3.actions
    level_4 = guidance.stage_guidance(pack, 3, stage_started_at=london(2026, 11, 23, 9))
    assert "Appendix 1: Request for Resolution Document" in level_4.actions
    assert "bsp@bury.gov.uk" in level_4.actions


def test_south_tyneside_notifies_the_partnership_at_stage_two(library):
    pack = library["south-tyneside"]
    stage_2 = guidance.stage_guidance(pack, 2, stage_started_at=london(2026, 11, 25, 9), escalation_started_at=london(2026, 11, 23, 9))
    assert "Appendix A: Escalation Notification Form / Template" in stage_2.actions
    assert stage_2.timescale == (
        "Timescale: All issues will be resolved within a maximum of 5 working days: "
        "by Mon 30 Nov 2026 for the whole escalation."
    )


def test_immediate_risk_puts_999_first_and_says_what_is_general(library):
    lines = guidance.immediate_risk_lines(library, None, None)
    assert "999" in lines[0].text
    assert all(line.cited.startswith(library.general.label) for line in lines)
    assert any("children's social care" in line.text for line in lines)
    assert any("adult social care" in line.text for line in lines)


def test_immediate_risk_uses_the_packs_own_words_where_it_has_them(library):
    bury = guidance.immediate_risk_lines(library, library["bury-adults"], None)
    assert bury[0].text.startswith("If any professional has concerns that an adult is [at] imminent risk")
    assert bury[0].cited == "Source: Bury adults procedure (000_fb1901d4b83135c4.txt), 6 Escalation Procedure Continued"
    assert len(bury) == 1  # the seed covers both the 999 call and the referral
    children = guidance.immediate_risk_lines(library, library["bury-children"], None)
    assert "999" in children[0].text and children[0].cited.startswith(library.general.label)
    assert "MASH" in children[1].text and children[1].cited.startswith("Source: Bury children")


def test_conduct_routes_by_subject(library):
    tyneside = library["south-tyneside"]
    child = guidance.conduct_lines(library, tyneside, "children")
    assert "Allegations Management Process" in child[0].text
    assert child[0].cited.startswith("Source: South Tyneside")
    adult = guidance.conduct_lines(library, tyneside, "adults")
    assert "PIPOT" in adult[0].text
    general = guidance.conduct_lines(library, library["warrington-adults"], "adults")
    assert "PIPOT" in general[0].text and general[0].cited.startswith(library.general.label)
    cambs = guidance.conduct_lines(library, library["cambs-peterborough-adults"], "adults")
    assert all(line.cited.startswith("Source: Cambridgeshire") for line in cambs)
