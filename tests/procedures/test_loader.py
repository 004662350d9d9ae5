"""Pack loading and validation: the five packs load, and a broken pack names file and field."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml
from pydantic import BaseModel

from bot.procedures.loader import PackError, load_library, load_pack
from bot.procedures.schema import LimitScope, Source, Subject, TimescaleKind
from tests.conftest import PARTNERSHIPS, SEEDS_DIR


def test_every_partnership_has_one_pack(library):
    assert sorted(pack.id for pack in library) == sorted(PARTNERSHIPS)


def test_covers_children_adults_or_both(library):
    assert library["bury-children"].covers == [Subject.CHILDREN]
    assert library["south-tyneside"].covers == [Subject.CHILDREN, Subject.ADULTS]
    for adults_only in ("bury-adults", "warrington-adults", "cambs-peterborough-adults"):
        assert library[adults_only].covers == [Subject.ADULTS]


def test_overall_limits_are_the_seeds(library):
    whole = library["south-tyneside"].limit(LimitScope.WHOLE_ESCALATION)
    assert (whole.timescale.kind, whole.timescale.days) == (TimescaleKind.WORKING_DAYS, 5)
    each = library["bury-children"].limit(LimitScope.EACH_STAGE)
    assert (each.timescale.kind, each.timescale.days) == (TimescaleKind.WORKING_DAYS, 10)
    directors = library["bury-children"].stage(2).deadlines[0]
    assert "directors" in directors.what and directors.timescale.days == 2
    for unset in ("bury-adults", "warrington-adults", "cambs-peterborough-adults"):
        pack = library[unset]
        assert pack.limits == []
        assert not any(stage.timescale.is_set for stage in pack.stages)


def test_contacts_are_the_seeds_addresses(library):
    emails = {c.email.lower() for pack in library for c in pack.contacts if c.email}
    assert emails == {"bsp@bury.gov.uk"}


def test_forms_belong_to_their_stage(library):
    bury = library["bury-children"]
    assert bury.stage(3).form == "request-for-resolution"
    assert "Summary of disagreement" in bury.form("request-for-resolution").fields
    tyneside = library["south-tyneside"]
    assert tyneside.stage(2).form == "escalation-notification"
    assert tyneside.form("escalation-notification").title.startswith("Appendix A")


def _sections(model) -> set[str]:
    found: set[str] = set()
    if isinstance(model, Source):
        found.add(model.section)
    elif isinstance(model, BaseModel):
        for _, value in model:
            found |= _sections(value)
    elif isinstance(model, (list, tuple)):
        for item in model:
            found |= _sections(item)
    return found


def _normalised(text: str) -> str:
    return re.sub(r"\s+", " ", text).strip().lower()


@pytest.mark.skipif(not SEEDS_DIR.is_dir(), reason="the seed documents (../shared/seeds) are not beside the clone")
@pytest.mark.parametrize("partnership", PARTNERSHIPS)
def test_every_cited_section_is_in_the_seed(library, partnership):
    pack = library[partnership]
    seed = _normalised((SEEDS_DIR / pack.seed.file).read_text(encoding="utf-8"))
    sections = _sections(pack)
    assert sections, "a pack cites at least one section"
    missing = sorted(s for s in sections if _normalised(s) not in seed)
    assert missing == [], f"{pack.seed.file} has no such sections"


@pytest.mark.skipif(not SEEDS_DIR.is_dir(), reason="the seed documents (../shared/seeds) are not beside the clone")
def test_every_email_is_in_its_seed(library):
    for pack in library:
        seed = (SEEDS_DIR / pack.seed.file).read_text(encoding="utf-8").lower()
        for contact in pack.contacts:
            if contact.email:
                assert contact.email.lower() in seed


def _break(packs: Path, partnership: str, change) -> Path:
    path = packs / f"{partnership}.yml"
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    change(data)
    path.write_text(yaml.safe_dump(data), encoding="utf-8")
    return path


def test_a_missing_field_names_file_and_field(packs_copy):
    path = _break(packs_copy, "warrington-adults", lambda d: d["stages"][1].pop("raised_with"))
    with pytest.raises(PackError) as error:
        load_library(packs_copy)
    assert str(path) in str(error.value)
    assert "stages.1.raised_with: field required" in str(error.value)


def test_a_timescale_without_its_days_is_refused(packs_copy):
    def drop_days(data):
        data["limits"][0]["timescale"].pop("days")

    _break(packs_copy, "south-tyneside", drop_days)
    with pytest.raises(PackError, match=r"limits\.0\.timescale: a 'working_days' timescale needs 'days'"):
        load_library(packs_copy)


def test_an_unknown_field_is_refused(packs_copy):
    _break(packs_copy, "bury-adults", lambda d: d["stages"][0].update(timescales={"kind": "none"}))
    with pytest.raises(PackError, match=r"stages\.0\.timescales: extra fields not permitted"):
        load_library(packs_copy)


def test_a_reference_to_an_unknown_contact_is_refused(packs_copy):
    _break(packs_copy, "bury-children", lambda d: d["stages"][3].update(notify=["nobody"]))
    with pytest.raises(PackError, match=r"stages\.3\.notify: unknown contact 'nobody'"):
        load_library(packs_copy)


def test_a_fact_without_source_is_refused(packs_copy):
    _break(packs_copy, "cambs-peterborough-adults", lambda d: d["categories"][0].pop("source"))
    with pytest.raises(PackError, match=r"categories\.0\.source: field required"):
        load_library(packs_copy)


def test_the_id_must_match_the_file_name(packs_copy):
    path = packs_copy / "south-tyneside.yml"
    renamed = path.with_name("tyneside.yml")
    path.rename(renamed)
    with pytest.raises(PackError, match="id: 'south-tyneside' must match the file name 'tyneside'"):
        load_pack(renamed)


def test_invalid_yaml_gives_the_line(packs_copy):
    path = packs_copy / "bury-adults.yml"
    path.write_text("id: bury-adults\nstages: [unclosed\n", encoding="utf-8")
    with pytest.raises(PackError, match=r"bury-adults\.yml: invalid procedure pack:\n  - line \d+, column \d+: not valid YAML"):
        load_library(packs_copy)


def test_a_missing_general_file_is_named(packs_copy):
    (packs_copy / "_general.yml").unlink()
    with pytest.raises(PackError, match="general guidance file is missing"):
        load_library(packs_copy)


def test_finding_a_partnership_by_name(library):
    assert library.find("Bury") == ["bury-adults", "bury-children"]
    assert library.find("Bury", "children") == ["bury-children"]
    assert library.find("BSCP") == ["bury-children"]
    assert library.find("Cambs & Peterborough") == ["cambs-peterborough-adults"]
    assert library.find("we're under warrington adults board") == ["warrington-adults"]
    assert library.find("South Tyneside", "adults") == ["south-tyneside"]
    assert library.find("Leeds") == []


@pytest.mark.skipif(not SEEDS_DIR.is_dir(), reason="the seed documents (../shared/seeds) are not beside the clone")
def test_words_a_form_quotes_are_the_seeds_own(library):
    quoted = 0
    for pack in library:
        seed = _normalised((SEEDS_DIR / pack.seed.file).read_text(encoding="utf-8"))
        for form in pack.forms:
            for field in form.asks:
                assert _normalised(field.asked_by.text) in seed, field.label
                quoted += 1
    assert quoted == 11


def _quoted(pack) -> list[tuple[str, str]]:
    """(where, text) of every statement a pack gives as the seed's own words."""
    found = [("resolve_quickly", pack.resolve_quickly.text)]
    for name in ("background", "principles", "categories", "record_keeping", "not_covered"):
        found += [(name, fact.text) for fact in getattr(pack, name)]
    for stage in pack.stages:
        found += [(f"{stage.key} action", action) for action in stage.actions]
        found += [(f"{stage.key} record", fact.text) for fact in stage.record]
        found += [(f"{stage.key} timescale", stage.timescale.text)] if stage.timescale.text else []
    for kind in ("immediate_risk", "conduct"):
        found += [(f"{kind} diversion", diversion.text) for diversion in getattr(pack.diversions, kind)]
    found += [("themes_review", pack.themes_review.text)] if pack.themes_review else []
    found += [("final body", pack.final_body.said)]
    return found


def _words_only(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", " ", text.lower()).strip()


@pytest.mark.skipif(not SEEDS_DIR.is_dir(), reason="the seed documents (../shared/seeds) are not beside the clone")
@pytest.mark.parametrize("partnership", PARTNERSHIPS)
def test_every_statement_is_the_seeds_own_words(library, partnership):
    """Answers quote these, so each sentence of each is in the seed word for word; joining two of
    the seed's sentences, ending one at a comma, or a word in [square brackets] standing for what
    an opening "It" refers to, are the only liberties."""
    pack = library[partnership]
    seed = _words_only((SEEDS_DIR / pack.seed.file).read_text(encoding="utf-8"))
    paraphrased = [
        (where, piece)
        for where, text in _quoted(pack)
        for sentence in re.split(r"(?<=[.;:?])\s+|\[[^\]]*\]", text)
        if (piece := _words_only(sentence)) and piece not in seed
    ]
    assert paraphrased == []
