"""The project's spaCy pipeline, built in code: lemmas and entities."""

from __future__ import annotations

import pytest
import spacy

from bot.nlp.pipeline import build, build_to_disk, subject_of


@pytest.fixture(scope="module")
def nlp(library):
    return build(library)


def entities(nlp, text: str) -> list[tuple[str, str, str]]:
    return [(e.text, e.label_, e.ent_id_) for e in nlp(text).ents]


def test_blank_english_with_lookup_lemmas(nlp):
    assert nlp.lang == "en"
    assert nlp.pipe_names == ["lemmatizer", "entity_ruler"]
    assert [t.lemma_ for t in nlp("managers were refusing referrals")] == ["manager", "be", "refuse", "referral"]


def test_agencies_roles_and_partnerships(nlp):
    found = entities(nlp, "My line managers spoke to the DSL at Bury children, CSC closed it")
    assert ("line managers", "role", "line-manager") in found
    assert ("DSL", "role", "safeguarding-lead") in found
    assert ("Bury children", "partnership", "bury-children") in found
    assert ("CSC", "agency", "childrens-social-care") in found


@pytest.mark.parametrize(
    "text, label, canonical",
    [
        ("the police said NFA", "agency", "police"),
        ("MASH declined it", "agency", "mash"),
        ("adult social care closed the s42", "agency", "adult-social-care"),
        ("the GP won't share", "agency", "gp"),
        ("the school refused", "agency", "school"),
        ("the NHS trust", "agency", "nhs-trust"),
        ("health visiting team", "agency", "health-visiting"),
        ("housing association", "agency", "housing"),
        ("probation won't", "agency", "probation"),
        ("the care home manager", "agency", "care-home"),
        ("the ambulance crew", "agency", "ambulance"),
        ("my head of service", "role", "head-of-service"),
        ("assistant director", "role", "director"),
        ("designated safeguarding lead", "role", "safeguarding-lead"),
        ("we are in south tyneside", "partnership", "south-tyneside"),
        ("cambs and peterborough", "partnership", "cambs-peterborough-adults"),
        ("the WSAB", "partnership", "warrington-adults"),
    ],
)
def test_ruler_vocabulary(nlp, text, label, canonical):
    assert any(l == label and c == canonical for _, l, c in entities(nlp, text)), entities(nlp, text)


def test_whom_the_worry_is_about(nlp):
    found = entities(nlp, "a 14 year old and an elderly woman in a care home")
    assert ("14 year old", "subject", "age") in found
    assert subject_of("14 year old") == "children"
    assert subject_of("19 yrs") == "adults"
    assert subject_of("6 month old") == "children"
    assert subject_of("residents") == "adults"
    assert subject_of("the toddler") is None  # a phrase, not an entity text
    assert subject_of("toddler") == "children"
    # a son or daughter may be any age ("in danger from her son"): no subject from the word alone
    assert subject_of("son") is None and subject_of("daughter") is None


def test_saved_pipeline_loads_with_spacy(tmp_path, library):
    path = build_to_disk(library, tmp_path / "pipeline")
    loaded = spacy.load(path)
    assert loaded.meta["name"] == "safeguarding"
    assert [e.label_ for e in loaded("warrington ASC").ents] == ["partnership", "agency"]
    assert loaded.get_pipe("lemmatizer").lookups.has_table("lemma_lookup")
    assert [t.lemma_ for t in loaded("children were")] == ["child", "be"]
