"""A seed document's own sentences, with the section each sits in, for a pack's ``passages``.

``scripts/seed_passages.py`` runs ``seed_passages`` over a seed file and writes the result into
the pack, so the assistant can quote the procedure's own words for any fact the pack's
structured fields do not hold; ``plain`` is the seed text those passages are checked against
(the published document with its web and word-processor markup taken out).
"""

from __future__ import annotations

import dataclasses
import re

MARKUP = [
    (re.compile(r"\[bookmark:[^\]]*\]"), ""),
    (re.compile(r"\[([^\]]+)\]\([^)]*\)"), r"\1"),  # markdown links keep their words
    (re.compile(r"</?p>"), "\n"),
    (re.compile(r"\*+"), ""),
]
BULLET = re.compile(r"^\s*(?:[-•✓*]\s*)+(?:✓\s*)?")
RULE = re.compile(r"^[\s-]+$")
SENTENCE_END = re.compile(r"(?<=[.!?])\s+(?=[A-Z(\"“])")
HEADING_MAX = 140
HEADING_WORDS = 8
NUMBERED = re.compile(r"^(?:stage|level|step|appendix|\d)", re.IGNORECASE)
DATED = re.compile(r"^[^:]{2,40}:.*\b(?:19|20)\d\d\b")  # "Due for review: August 2023"
PASSAGE_MIN_WORDS = 3


@dataclasses.dataclass(frozen=True)
class SeedPassage:
    section: str
    text: str
    items: tuple[str, ...] = ()


def plain(text: str) -> str:
    """The seed's words without markup, one line per line of the document."""
    for pattern, replacement in MARKUP:
        text = pattern.sub(replacement, text)
    lines = []
    for line in text.replace("\t", "  ").splitlines():
        if RULE.match(line) and line.strip():
            continue
        lines.append(line.rstrip())
    return "\n".join(lines)


def normalised(text: str) -> str:
    """Text compared as words: bullets, quotes and spacing made uniform, lower case."""
    text = text.replace("’", "'").replace("–", "-").replace("“", '"').replace("”", '"')
    text = "\n".join(BULLET.sub("", line) for line in text.splitlines())
    return re.sub(r"\s+", " ", text).strip().lower()


def _is_heading(line: str) -> bool:
    stripped = line.strip()
    if BULLET.match(line) or len(stripped) > HEADING_MAX:
        return False
    if stripped.isdigit() or stripped.endswith(":") and len(stripped.split()) <= 4:
        return True
    if len(stripped.split()) > HEADING_WORDS and not NUMBERED.match(stripped):
        return False
    return not stripped.endswith((".", ";", ",", ")", ":")) and not stripped.startswith("(")


def _section(run: list[str]) -> str:
    """The section a run of heading lines names: a label ("Step 1:"), else the last numbered
    heading (with a box's number before it), else the last line."""
    last = run[-1]
    if last.endswith(":"):
        return last
    if len(run) > 1 and run[-2].isdigit():
        return f"{run[-2]} {last}"
    for index in range(len(run) - 1, -1, -1):
        if NUMBERED.match(run[index]) and not run[index].isdigit():
            if index and run[index - 1].isdigit():
                return f"{run[index - 1]} {run[index]}"
            return run[index]
    return last


def _sentences(line: str) -> list[str]:
    return [s.strip() for s in SENTENCE_END.split(line.strip()) if s.strip()]


def seed_passages(text: str) -> list[SeedPassage]:
    """Every sentence of the seed (bullets gathered under the line that introduces them),
    each with the nearest heading above it (a numbered box joins its number: "7 What to do")."""
    found: list[SeedPassage] = []
    heading_run: list[str] = []
    section = ""
    lead: SeedPassage | None = None
    for raw in plain(text).splitlines():
        if not raw.strip():
            continue
        line = re.sub(r"\s+", " ", raw).strip()
        if BULLET.match(raw):
            item = BULLET.sub("", raw).strip()
            if lead is not None:
                lead = dataclasses.replace(lead, items=(*lead.items, item))
                found[-1] = lead
            elif len(item.split()) >= PASSAGE_MIN_WORDS:
                found.append(SeedPassage(section, item))
            heading_run = []
            continue
        if DATED.match(line) and len(line.split()) <= HEADING_WORDS:
            found.append(SeedPassage(line.split(":")[0] + ":", line))
            heading_run, lead = [], None
            continue
        if _is_heading(line):
            heading_run.append(line)
            section = _section(heading_run)
            lead = None
            continue
        heading_run = []
        lead = None
        for sentence in _sentences(line):
            if len(sentence.split()) < PASSAGE_MIN_WORDS and not found:
                continue
            found.append(SeedPassage(section, sentence))
        if line.endswith(":"):
            lead = found[-1] if found else None
    return [p for p in found if p.section and (len(p.text.split()) >= PASSAGE_MIN_WORDS or p.items)]
