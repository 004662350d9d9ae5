"""A pack's passages are its seed's own words, each under a section the seed has."""

from __future__ import annotations

import re

import pytest

from bot.procedures.passages import normalised, plain, seed_passages
from tests.conftest import PARTNERSHIPS, SEEDS_DIR

needs_seeds = pytest.mark.skipif(not SEEDS_DIR.is_dir(), reason="the seed documents (../shared/seeds) are not beside the clone")


@needs_seeds
@pytest.mark.parametrize("partnership", PARTNERSHIPS)
def test_every_passage_is_the_seeds_words(library, partnership):
    pack = library[partnership]
    seed = normalised(plain((SEEDS_DIR / pack.seed.file).read_text(encoding="utf-8")))
    assert len(pack.passages) >= 20
    for passage in pack.passages:
        assert normalised(passage.text) in seed, passage.text
        assert normalised(passage.source.section) in seed, passage.source.section
        for item in passage.items:
            assert normalised(item) in seed, item


@needs_seeds
@pytest.mark.parametrize("partnership", PARTNERSHIPS)
def test_passages_are_up_to_date_with_the_seed(library, partnership):
    pack = library[partnership]
    generated = seed_passages((SEEDS_DIR / pack.seed.file).read_text(encoding="utf-8"))
    assert [p.text for p in pack.passages] == [p.text for p in generated], "run scripts/seed_passages.py"


def test_a_numbered_box_and_its_bullets():
    seed = "7\n\nWhat to do\n\n- Read the policy and its content\n- Share it with your team members\n\nAreas:\n\nDisagreements are most likely to be about:\n\n- thresholds\n- roles\n"
    found = seed_passages(seed)
    assert found[0].section == "7 What to do" and found[0].text == "Read the policy and its content"
    assert found[-1].section == "Areas:" and found[-1].items == ("thresholds", "roles")


def test_a_flowchart_flattened_bottom_up_files_each_box_under_its_stage():
    seed = (
        "Who is this for?\n\nEveryone who works here.\n"
        "If the managers cannot agree, they should refer it to the Partnership Business Manager. A meeting follows.\n"
        "Level 3: Partnership Business Manager\n\n"
        "Escalate to your line manager. They talk to their opposite number.\n"
        "Level 2: Line Manager to Line Manager\n\n"
        "Level 1: Practitioner to Practitioner\nTalk to the other worker first.\n"
    )
    found = {p.text: p.section for p in seed_passages(seed)}
    assert found["Everyone who works here."] == "Who is this for?"
    assert found["A meeting follows."] == "Level 3: Partnership Business Manager"
    assert found["They talk to their opposite number."] == "Level 2: Line Manager to Line Manager"
    assert found["Talk to the other worker first."] == "Level 1: Practitioner to Practitioner"


def _quotable(text: str) -> str:
    """A pack's wording compared with its seed's: without markup, its final full stop dropped."""
    return normalised(plain(text)).rstrip(".").strip()


@needs_seeds
@pytest.mark.parametrize("partnership", PARTNERSHIPS)
def test_stage_actions_and_final_body_are_the_seeds_words(library, partnership):
    pack = library[partnership]
    seed = normalised(plain((SEEDS_DIR / pack.seed.file).read_text(encoding="utf-8")))
    quoted = {}
    for stage in pack.stages:
        for index, action in enumerate(stage.actions):
            quoted[f"{stage.key}.actions.{index}"] = action
        if stage.if_not_resolved:
            quoted[f"{stage.key}.if_not_resolved"] = stage.if_not_resolved
    quoted["final_body.does"] = pack.final_body.does
    quoted["final_body.decides"] = pack.final_body.decides
    # whole words of the seed: a sentence, or a span of one, not a paraphrase of it
    paraphrased = {
        field: text for field, text in quoted.items() if not re.search(rf"(?<!\w){re.escape(_quotable(text))}(?!\w)", seed)
    }
    assert paraphrased == {}, f"not the words of {pack.seed.file}"
