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
STAGE_HEADING = re.compile(r"^(?:stage|level|step)\s+(\d|one|two|three|four|five)\b[\s:.\-–]*(.*)$", re.IGNORECASE)
STAGE_NUMBERS = {"one": 1, "two": 2, "three": 3, "four": 4, "five": 5}
# "refer it to X", "escalate to X": the sentence that opens a stage's box names who it goes to.
REFERRED_TO = re.compile(r"\b(?:refer(?:red)?|escalated?)\b(?:\s+\w+){0,2}?\s+to\s+(.*)$", re.IGNORECASE)
TITLE_FILLER = frozenset("to the and of by with for a an between your their".split())


@dataclasses.dataclass(frozen=True)
class SeedPassage:
    section: str
    text: str
    items: tuple[str, ...] = ()
    block: int = 0  # the paragraph (run of lines without a blank between) it comes from


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
    block = 0
    for raw in plain(text).splitlines():
        if not raw.strip():
            block += 1
            continue
        line = re.sub(r"\s+", " ", raw).strip()
        if BULLET.match(raw):
            item = BULLET.sub("", raw).strip()
            if lead is not None:
                lead = dataclasses.replace(lead, items=(*lead.items, item))
                found[-1] = lead
            elif len(item.split()) >= PASSAGE_MIN_WORDS:
                found.append(SeedPassage(section, item, block=block))
            heading_run = []
            continue
        if DATED.match(line) and len(line.split()) <= HEADING_WORDS:
            found.append(SeedPassage(line.split(":")[0] + ":", line, block=block))
            heading_run, lead = [], None
            continue
        if _is_heading(line):
            heading_run.append(line)
            section = _section(heading_run)
            lead = None
            block += 1
            continue
        heading_run = []
        lead = None
        for sentence in _sentences(line):
            if len(sentence.split()) < PASSAGE_MIN_WORDS and not found:
                continue
            found.append(SeedPassage(section, sentence, block=block))
        if line.endswith(":"):
            lead = found[-1] if found else None
    found = _boxes_read_bottom_up(found, _stage_headings(plain(text)))
    return [p for p in found if p.section and (len(p.text.split()) >= PASSAGE_MIN_WORDS or p.items)]


def _stage_headings(text: str) -> list[tuple[int, str]]:
    """The seed's stage headings ("Level 3: Head of Service to Head of Service"), in order."""
    found = []
    for raw in text.splitlines():
        line = re.sub(r"\s+", " ", raw).strip()
        match = STAGE_HEADING.match(line)
        if match and _is_heading(line) and match.group(2):
            word = match.group(1).lower()
            found.append((int(word) if word.isdigit() else STAGE_NUMBERS[word], line))
    return found


def _title_words(text: str) -> set[str]:
    return {w.rstrip("s") for w in re.findall(r"[a-z]+", text.lower()) if w not in TITLE_FILLER}


def _boxes_read_bottom_up(found: list[SeedPassage], headings: list[tuple[int, str]]) -> list[SeedPassage]:
    """A flowchart flattened bottom-up (its stage headings in falling order) puts a box's text
    away from its heading: a paragraph that refers the matter to whom a stage's heading names
    ("refer it to the BSCP Business Manager") is that stage's, from that sentence on."""
    numbers = [number for number, _ in headings]
    if len(numbers) < 3 or numbers != sorted(numbers, reverse=True):
        return found
    titles = {line: _title_words(STAGE_HEADING.match(line).group(2)) for _, line in headings}
    moved, into, block = [], None, None
    for passage in found:
        if passage.block != block:
            into, block = None, passage.block
        referred = REFERRED_TO.search(passage.text)
        if referred:
            # The words nearest "to" name the one referred to ("the BSCP Business Manager").
            named = [w.rstrip("s") for w in re.findall(r"[a-z]+", referred.group(1).lower()) if w not in TITLE_FILLER]
            weight = {word: 1 / (1 + at) for at, word in reversed(list(enumerate(named)))}
            scores = {line: sum(weight.get(word, 0) for word in title) for line, title in titles.items()}
            best = sorted(scores.values(), reverse=True)
            if best[0] > 0 and (len(best) == 1 or best[0] > best[1]):
                into = max(scores, key=scores.get)
        moved.append(dataclasses.replace(passage, section=into) if into else passage)
    return moved
