"""A pack's passages are its seed's own words, each under a section the seed has."""

from __future__ import annotations

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
