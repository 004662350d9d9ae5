"""The project's own spaCy pipeline, built in code (no pretrained model can be downloaded here).

Blank English, a lookup lemmatizer (tables from ``spacy-lookups-data``, stored in the built
pipeline so they are not needed at run time) and an entity ruler for agencies, roles, whom the
worry is about (child or adult) and the partnerships (from the packs' names and aliases). Rasa
loads the result with ``SpacyNLP`` (``config.yml`` names its directory).
"""

from __future__ import annotations

import functools
import hashlib
import json
import logging
import re
from pathlib import Path
from typing import Iterable

import spacy
import yaml
from spacy.language import Language

from bot.procedures.loader import Library

logger = logging.getLogger(__name__)

PATTERNS_FILE = Path(__file__).with_name("patterns.yml")
PIPELINE_NAME = "safeguarding"
LABELS = ("agency", "role", "subject", "partnership")

# "a 14 year old", "14yo", "6 month old": whom the worry is about, by age.
AGE_PATTERNS = [
    [
        {"LIKE_NUM": True},
        {"LOWER": {"REGEX": r"^(years?|yrs?|months?|mths?|weeks?|wks?|days?)$"}},
        {"LOWER": "old", "OP": "?"},
    ],
    [{"LIKE_NUM": True}, {"LOWER": {"REGEX": r"^(yo|y/o|yr/o)$"}}],
    [{"LOWER": {"REGEX": r"^\d{1,3}(yo|y/o|yrs?|mths?)$"}}],
]
AGE_IN_TEXT = re.compile(r"(\d{1,3})\s*-?\s*(y|yr|yrs|year|years|yo|y/o|m|mth|mths|month|months|w|wk|wks|week|weeks|d|day|days)\b")
ADULT_AGE = 18


def _variants(phrase: str) -> set[str]:
    """The phrase and its plural (last word), so that "managers" matches like "manager"."""
    phrase = phrase.lower().strip()
    variants = {phrase}
    if re.search(r"[a-z]{3,}$", phrase) and not phrase.endswith("s"):
        variants.add(phrase + "s")
    return variants


def load_vocabulary(path: Path = PATTERNS_FILE) -> dict[str, dict[str, list[str]]]:
    """label -> canonical value -> phrases, as written in ``patterns.yml``."""
    with path.open(encoding="utf-8") as handle:
        raw = yaml.safe_load(handle)
    unknown = set(raw) - set(LABELS)
    if unknown:
        raise ValueError(f"{path}: unknown labels {sorted(unknown)}; use {LABELS}")
    return {label: {key: list(phrases) for key, phrases in raw[label].items()} for label in raw}


def partnership_vocabulary(library: Library) -> dict[str, list[str]]:
    """Partnership id -> the phrases that name it (id, names and aliases from its pack)."""
    return {
        pack.id: sorted({pack.id, pack.name, pack.short_name, *pack.aliases}, key=str.lower)
        for pack in library
    }


def ruler_patterns(
    vocabulary: dict[str, dict[str, list[str]]], partnerships: dict[str, list[str]]
) -> list[dict]:
    """Entity ruler patterns: phrases with their label and canonical id, plus the age patterns."""
    patterns: list[dict] = []
    for label, entries in {**vocabulary, "partnership": partnerships}.items():
        for canonical, phrases in entries.items():
            for phrase in sorted({v for p in phrases for v in _variants(p)}):
                patterns.append({"label": label, "pattern": phrase, "id": canonical})
    for pattern in AGE_PATTERNS:
        patterns.append({"label": "subject", "pattern": pattern, "id": "age"})
    return patterns


def build(library: Library, vocabulary_path: Path = PATTERNS_FILE) -> Language:
    """The pipeline in memory: blank English, lookup lemmatizer, entity ruler."""
    vocabulary = load_vocabulary(vocabulary_path)
    patterns = ruler_patterns(vocabulary, partnership_vocabulary(library))
    nlp = spacy.blank("en")
    nlp.add_pipe("lemmatizer", config={"mode": "lookup"})
    ruler = nlp.add_pipe(
        "entity_ruler", config={"phrase_matcher_attr": "LOWER", "overwrite_ents": True}
    )
    nlp.initialize()  # loads the lemma lookup table from spacy-lookups-data
    ruler.add_patterns(patterns)
    nlp.meta["name"] = PIPELINE_NAME
    nlp.meta["description"] = "Safeguarding escalation assistant: lemmas and entity ruler."
    nlp.meta["version"] = "1.0.0"
    nlp.meta["labels"] = {"entity_ruler": list(LABELS)}
    nlp.meta["fingerprint"] = fingerprint(patterns)
    return nlp


def fingerprint(patterns: Iterable[dict]) -> str:
    """A short hash of the patterns, so a stale built pipeline can be recognised."""
    digest = hashlib.sha256(json.dumps(list(patterns), sort_keys=True).encode("utf-8"))
    return digest.hexdigest()[:16]


def build_to_disk(library: Library, directory: Path) -> Path:
    """Build the pipeline and save it to ``directory`` (replaced if it exists)."""
    nlp = build(library)
    directory.parent.mkdir(parents=True, exist_ok=True)
    nlp.to_disk(directory)
    logger.info("spaCy pipeline written to %s (%s)", directory, nlp.meta["fingerprint"])
    return directory


def subject_of(entity_text: str, entity_id: str | None = None) -> str | None:
    """``children`` or ``adults`` for a ``subject`` entity's text (ages decide by 18)."""
    text = entity_text.lower().strip()
    match = AGE_IN_TEXT.search(text)
    if match:
        amount, unit = int(match.group(1)), match.group(2)
        if not unit.startswith("y"):
            return "children"  # months, weeks, days old
        return "children" if amount < ADULT_AGE else "adults"
    for canonical, phrases in _subject_phrases().items():
        if text in phrases:
            return canonical
    return entity_id if entity_id in ("children", "adults") else None


@functools.lru_cache(maxsize=1)
def _subject_phrases() -> dict[str, frozenset[str]]:
    return {
        canonical: frozenset(v for phrase in phrases for v in _variants(phrase))
        for canonical, phrases in load_vocabulary()["subject"].items()
    }
