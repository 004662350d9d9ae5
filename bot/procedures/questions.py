"""Questions about a procedure, answered from its pack in one to three sentences with the source.

``read_question`` finds what a question is about (its topic) and which stage it names, in the
pack's own numbering ("level 2", "stage one", "the final step"); ``answer`` composes the reply
from the pack's facts. A question no topic fits is matched against every fact of the pack by
meaning (sentence embeddings); when nothing is close enough, the answer says the procedure does
not say, and points to the partnership's contact, never a guess.
"""

from __future__ import annotations

import dataclasses
import enum
import functools
import re
from typing import Iterable

from bot.procedures.loader import Library
from bot.procedures.schema import Fact, Pack, Passage, Source

NUMBER_WORDS = {
    "one": 1, "two": 2, "three": 3, "four": 4, "five": 5, "first": 1, "second": 2, "third": 3,
    "fourth": 4, "fifth": 5, "1st": 1, "2nd": 2, "3rd": 3, "4th": 4, "5th": 5,
}  # fmt: skip
STAGE_WORDS = r"(?:stage|level|step)s?"
STAGE_NUMBER = re.compile(
    rf"\b{STAGE_WORDS}\s*(\d|one|two|three|four|five)\b|\b(first|second|third|fourth|fifth|1st|2nd|3rd|4th|5th)\s+{STAGE_WORDS}\b"
)
FINAL_STAGE = re.compile(rf"\b(final|last|top)\s+{STAGE_WORDS}\b")
TITLE_NUMBER = re.compile(r"^(?:stage|level|step)\s+(\w+)", re.IGNORECASE)
RELEVANT = 0.4  # cosine similarity below which a fact does not answer the question
# A passage's score is its cosine similarity to the question, plus a share of the question's
# content words it holds and a bonus for naming the stage asked about.
PASSAGE_RELEVANT = 0.5  # below this a passage does not answer the question on its own
PASSAGE_EXTRA = 0.45  # below this a passage is not added to a structured answer
KEYWORD_WEIGHT = 0.3
STAGE_BONUS = 0.12
UNRESOLVED = re.compile(r"\b(not (been )?resolved|(doesn'?t|does not|didn'?t|did not|can'?t|cannot|couldn'?t|won'?t) (resolve|agree|sort)|no (resolution|agreement)|still|remains?|fail(s|ed)?|next|after|beyond|then what|what then)\b")
STOPWORDS = frozenset(
    "what when where which who whom whose why how does do did doing done should would could can will shall must "
    "have has had having the this that these those there their them they then than with from into onto about "
    "your yours mine ours ourselves myself just also only very really actually still sure some any much many "
    "being been were was are is it its i we you me my our us a an and or but if at by for in of on to up as "
    "get got go goes going need needs want make made say says said tell told know procedure policy process "
    "protocol happen happens".split()
)


class Topic(str, enum.Enum):
    IMMEDIATE_RISK = "immediate_risk"
    NOT_COVERED = "not_covered"
    THEMES = "themes"
    FORM = "form"
    CONTACT = "contact"
    FINAL = "final"
    TIMESCALE = "timescale"
    RECORD = "record"
    WHO = "who"
    CATEGORIES = "categories"
    ACTIONS = "actions"
    STAGES = "stages"
    BACKGROUND = "background"


# Checked in this order; the first that matches is the question's topic.
TOPIC_PATTERNS: list[tuple[Topic, re.Pattern]] = [
    (Topic.BACKGROUND, re.compile(r"^(why (was|were|is|does|do|did)\b(?!.*\b(stage|level|step)s?\b)|.*\b(background|what's the point of|purpose of (the|this) (procedure|policy|protocol|process)|brought in|introduced)\b)")),
    (Topic.IMMEDIATE_RISK, re.compile(r"\b(imminent|immediate(ly)? (risk|danger)|in danger|999|emergenc|at risk right now|urgent)")),
    (Topic.CATEGORIES, re.compile(r"\b((what|which) (kinds?|sorts?|types?) of (disagreement|issue|dispute|difference)s?|what areas|areas of (disagreement|dispute)|where (do )?disagreements? (usually |most (often|likely) )?arise|most likely to arise|what counts as a (professional )?disagreement)")),
    (Topic.NOT_COVERED, re.compile(r"\b(does (it|the (policy|procedure|protocol)) (cover|apply)|cover(s|ed)?\b.*\b(conduct|behaviou?r|allegation|complaint|own (agency|team|organi[sz]ation)|single agenc|within)|apply to|not covered|pipot|lado|whistle ?blow|allegations?|conduct|behaviou?r)")),
    (Topic.THEMES, re.compile(r"\b(themes?|thematics?|6[ -]?month|six[ -]?month|spreadsheet|monitor(ed|ing)?|sub ?-?groups?|quality assurance|reported|main board|tracking|learning from|how often)")),
    (Topic.RECORD, re.compile(r"\b(what should (the|my) (e-?mail|referral|letter) (contain|include|say)|what (do|should) i (put|include) in)")),
    (Topic.CONTACT, re.compile(r"\b(e-?mail|email address|contact details|phone|telephone|who (do|should) i (e-?mail|contact|ring|call)|contact)")),
    (Topic.FORM, re.compile(r"\b(forms?|template|appendix|request for resolution|notif(y|ied|ication))\b")),
    (Topic.TIMESCALE, re.compile(r"\b(how long|timescales?|time ?limits?|time ?frames?|deadlines?|how (many|much) (working )?(days|time|weeks)|how quick(ly)?|how soon|by when|within (how|what)|overall (time|limit))")),
    (Topic.FINAL, re.compile(r"\b(final (decision|say)|who (decides|makes the (final )?decision)|resolution panel|panel|independent chair|scrutineer|executive|arbitrat|mediat)")),
    (Topic.RECORD, re.compile(r"\b(record(ed|ing|s)?|write (down|up)|in writing|document(ed|ation)?|case (file|notes?)|what (should|do) i (keep|note))")),
    (Topic.WHO, re.compile(r"\b(who|whom|which (manager|person|people)|involved|escalate (it )?to|raise (it )?with|go to)\b")),
    (Topic.STAGES, re.compile(r"\b(how many (stages|steps|levels)|what are the (stages|steps|levels)|stages|steps|levels|overview|how does (the|this|it) (\w+ )?(process|procedure|policy|protocol|escalation) work)\b")),
    (Topic.ACTIONS, re.compile(r"\b(what (do|should|must|does|will) (i|we|they|the \w+|my \w+)|what happens|how do i|what to do|role of|do at)\b")),
]


@dataclasses.dataclass(frozen=True)
class Question:
    topic: Topic | None
    stage: int | None  # 0-based index in the pack
    text: str


@dataclasses.dataclass(frozen=True)
class Answer:
    """One to three sentences, and the sections they come from (or a general source)."""

    text: str
    sources: tuple[Source, ...]
    answered: bool = True


def stage_numbers(pack: Pack) -> dict[int, int]:
    """The pack's own stage numbers (as in "Level 2") -> index in ``pack.stages``."""
    numbers = {}
    for index, stage in enumerate(pack.stages):
        match = TITLE_NUMBER.match(stage.title)
        if match:
            word = match.group(1).lower()
            number = int(word) if word.isdigit() else NUMBER_WORDS.get(word)
            if number is not None:
                numbers[number] = index
    return numbers


def read_question(text: str, pack: Pack) -> Question:
    """The topic and stage a question names, in ``pack``'s numbering."""
    lowered = re.sub(r"\s+", " ", text.lower().replace("’", "'"))
    stage = None
    if FINAL_STAGE.search(lowered):
        stage = len(pack.stages) - 1
    else:
        match = STAGE_NUMBER.search(lowered)
        if match:
            word = match.group(1) or match.group(2)
            number = int(word) if word.isdigit() else NUMBER_WORDS[word]
            stage = stage_numbers(pack).get(number)
    if stage is None and re.search(r"\b(first|to start|begin|start with)\b", lowered):
        stage = 0
    topic = next((topic for topic, pattern in TOPIC_PATTERNS if pattern.search(lowered)), None)
    if topic is Topic.CONTACT and stage is not None and not re.search(r"e-?mail|phone|address|details", lowered):
        topic = Topic.WHO  # "at stage 2 who does my manager contact?" asks who, not an address
    if topic is None and stage is not None:
        topic = Topic.ACTIONS
    if (
        stage is not None
        and stage < len(pack.stages) - 1
        and topic in (Topic.WHO, Topic.ACTIONS, None)
        and UNRESOLVED.search(lowered)
    ):
        stage += 1  # "who does it go to if stage 2 doesn't resolve it?" is about the stage after
    return Question(topic=topic, stage=stage, text=text)


def _sentence(text: str) -> str:
    text = text.strip()
    return text if text.endswith((".", "!", "?")) else text + "."


def _join(items: Iterable[str]) -> str:
    items = [item.rstrip(".") for item in items]
    return "; ".join(items)


def _words(text: str) -> set[str]:
    return {w.rstrip("s") for w in re.findall(r"[a-z]{4,}", text.lower())}


def _named_deadline(pack: Pack, question_words: set[str]):
    """A timed step inside a stage that the question names ("the deadline for directors")."""
    for stage in pack.stages:
        for deadline in stage.deadlines:
            if question_words & (_words(deadline.what) - {"matter", "remain", "unresolved", "must", "referred", "equivalent"}):
                return stage, deadline
    return None


def _timescale(pack: Pack, index: int | None, question_words: set[str] = frozenset()) -> Answer:
    sources: list[Source] = []
    limits = [limit for limit in pack.limits]
    if index is not None:
        stage = pack.stage(index)
        sources.append(stage.source)
        if stage.timescale.text:
            said = f"{stage.title}: {stage.timescale.text.rstrip('.')}."
            sources.append(stage.timescale.source)
        else:
            said = f"{stage.title}: the procedure sets no timescale of its own for this stage."
        for deadline in stage.deadlines:
            said += f" {deadline.what.rstrip('.')} {deadline.timescale.text}."
            sources.append(deadline.source)
    elif deadline := _named_deadline(pack, question_words):
        stage, found = deadline
        said = f"{stage.title}: {found.what.rstrip('.')} {found.timescale.text}."
        return Answer(said, (found.source,))
    else:
        set_ones = [s for s in pack.stages if s.timescale.text]
        said = " ".join(f"{s.title}: {s.timescale.text.rstrip('.')}." for s in set_ones)
        sources += [s.timescale.source for s in set_ones]
    for limit in limits:
        said += f" {_sentence(limit.timescale.text[0].upper() + limit.timescale.text[1:])}"
        sources.append(limit.source)
    if not said.strip() or (index is not None and not pack.stage(index).timescale.text and not limits):
        said = (said + " " if index is not None else "") + (
            f"The {pack.short_name} procedure sets no number of days: {pack.resolve_quickly.text}"
        )
        sources.append(pack.resolve_quickly.source)
    return Answer(said.strip(), tuple(sources))


def _who(pack: Pack, index: int | None) -> Answer:
    if index is not None:
        stage = pack.stage(index)
        return Answer(f"{stage.title}: {stage.raised_by} raises it with {stage.raised_with}.", (stage.source,))
    parts = [f"{s.title}: {s.raised_by} with {s.raised_with}" for s in pack.stages]
    return Answer(_sentence(_join(parts)), tuple(s.source for s in pack.stages))


def _actions(pack: Pack, index: int | None) -> Answer:
    if index is None:
        return _stages(pack)
    stage = pack.stage(index)
    text = f"{stage.title}: {_sentence(_join(stage.actions))}"
    if index == len(pack.stages) - 1:
        text += f" {_sentence(pack.final_body.decides)}"
        return Answer(text, (stage.source, pack.final_body.source))
    return Answer(text, (stage.source,))


def _record(pack: Pack, index: int | None, text: str = "") -> Answer:
    if index is None and re.search(r"e-?mail|referral", text.lower()):
        # "What should the e-mail contain?": the stage whose contact is written to.
        index = next((i for i, s in enumerate(pack.stages) if any(pack.contact(c).email for c in s.notify)), None)
    facts: list[Fact] = list(pack.stage(index).record) if index is not None else list(pack.record_keeping)
    if not facts:
        facts = [fact for stage in pack.stages for fact in stage.record][:2]
    return Answer(" ".join(_sentence(f.text) for f in facts), tuple(f.source for f in facts))


def _form(pack: Pack) -> Answer:
    if not pack.forms:
        contacts = [c for c in pack.contacts if c.email]
        if contacts:
            contact = contacts[0]
            return Answer(
                f"The {pack.short_name} procedure names no form: {contact.purpose.rstrip('.')} goes by "
                f"e-mail to {contact.email}.",
                (contact.source,),
            )
        return Answer(f"The {pack.short_name} procedure names no form.", (pack.stages[0].source,), answered=False)
    parts, sources = [], []
    for form in pack.forms:
        at = next((s.title for s in pack.stages if s.form == form.id), None)
        where = f" at {at}" if at else ""
        how = f" {_sentence(form.how)}" if form.how else ""
        parts.append(f"{form.title}{where}.{how}")
        sources.append(form.source)
    return Answer(" ".join(parts), tuple(sources))


def _contact(pack: Pack) -> Answer:
    contacts = [c for c in pack.contacts if c.email]
    if contacts:
        text = " ".join(f"{c.name}: {c.email} ({c.purpose.rstrip('.')})." for c in contacts)
        return Answer(text, tuple(c.source for c in contacts))
    named = pack.contacts[0] if pack.contacts else None
    if named:
        return Answer(f"The procedure gives no e-mail address; {named.name}: {named.purpose}", (named.source,), answered=False)
    return Answer(
        f"The {pack.short_name} procedure gives no contact details: ask your agency's safeguarding lead "
        f"for its representative on the {pack.name}.",
        (pack.final_body.source,),
        answered=False,
    )


def _final(pack: Pack) -> Answer:
    body = pack.final_body
    last = pack.stages[-1]
    return Answer(f"{last.title} goes to {body.name}. {_sentence(body.does)} {_sentence(body.decides)}", (last.source, body.source))


def _themes(pack: Pack) -> Answer:
    if pack.themes_review:
        return Answer(_sentence(pack.themes_review.text), (pack.themes_review.source,))
    for stage in pack.stages:
        for fact in stage.record:
            if "themat" in fact.text.lower() or "theme" in fact.text.lower():
                return Answer(_sentence(fact.text), (fact.source,))
    return _unknown(pack, "how themes are reviewed")


def _stages(pack: Pack) -> Answer:
    titles = "; ".join(s.title for s in pack.stages)
    return Answer(
        f"The {pack.short_name} procedure has {len(pack.stages)} {pack.stage_term.lower()}s: {titles}.",
        tuple(s.source for s in pack.stages),
    )


def _background(pack: Pack) -> Answer:
    if not pack.background:
        return _unknown(pack, "why it was written")
    first = pack.background[0]
    return Answer(_sentence(first.text), (first.source,))


def _categories(pack: Pack) -> Answer:
    return Answer(
        f"Disagreements most often arise over {_join(c.text for c in pack.categories)}.",
        tuple(c.source for c in pack.categories),
    )


def _not_covered(pack: Pack, text: str = "") -> Answer:
    conduct = [Fact(text=d.text, source=d.source) for d in pack.diversions.conduct]
    others = [f for f in pack.not_covered if f.text not in {c.text for c in conduct}]
    about_conduct = re.search(r"conduct|behaviou?r|allegation|pipot|lado|whistle|worker|teacher|carer|colleague|staff", text.lower())
    facts = conduct + others if about_conduct else others + conduct
    if about_conduct and not conduct:
        return Answer(
            f"The {pack.short_name} procedure does not deal with concerns about a professional's "
            "conduct: those go to allegations management (the LADO) for a child, or PIPOT for an "
            "adult, and your agency's whistleblowing policy (general guidance).",
            (),
        )
    if not facts:
        return _unknown(pack, "what it does not cover")
    return Answer(" ".join(_sentence(f.text) for f in facts[:2]), tuple(f.source for f in facts[:2]))


def _immediate_risk(pack: Pack) -> Answer:
    own = pack.diversions.immediate_risk
    if not own:
        return _unknown(pack, "immediate risk")
    return Answer(" ".join(_sentence(d.text) for d in own), tuple(d.source for d in own))


def _unknown(pack: Pack, what: str) -> Answer:
    contacts = [c for c in pack.contacts if c.email]
    ask = f" Ask {contacts[0].name} ({contacts[0].email})." if contacts else " Ask your agency's safeguarding lead."
    return Answer(f"The {pack.short_name} procedure does not say {what}.{ask}", (), answered=False)


ANSWERS = {
    Topic.TIMESCALE: lambda pack, q: _timescale(pack, q.stage, _words(q.text)),
    Topic.WHO: lambda pack, q: _who(pack, q.stage),
    Topic.ACTIONS: lambda pack, q: _actions(pack, q.stage),
    Topic.RECORD: lambda pack, q: _record(pack, q.stage, q.text),
    Topic.FORM: lambda pack, q: _form(pack),
    Topic.CONTACT: lambda pack, q: _contact(pack),
    Topic.FINAL: lambda pack, q: _final(pack),
    Topic.THEMES: lambda pack, q: _themes(pack),
    Topic.STAGES: lambda pack, q: _stages(pack),
    Topic.CATEGORIES: lambda pack, q: _categories(pack),
    Topic.NOT_COVERED: lambda pack, q: _not_covered(pack, q.text),
    Topic.IMMEDIATE_RISK: lambda pack, q: _immediate_risk(pack),
    Topic.BACKGROUND: lambda pack, q: _background(pack),
}


# Answering by meaning ---------------------------------------------------------------------------


def facts_of(pack: Pack) -> list[tuple[str, Source]]:
    """Every statement of the pack, as (text, source), for matching a question by meaning."""
    found: list[tuple[str, Source]] = [(pack.resolve_quickly.text, pack.resolve_quickly.source)]
    found += [(f.text, f.source) for f in (*pack.principles, *pack.record_keeping, *pack.not_covered)]
    for stage in pack.stages:
        found += [(f"{stage.title}: {action}", stage.source) for action in stage.actions]
        found += [(f"{stage.title}: {fact.text}", fact.source) for fact in stage.record]
        found.append((f"{stage.title}: {stage.raised_by} raises it with {stage.raised_with}.", stage.source))
    body = pack.final_body
    found.append((f"{body.name}: {body.does} {body.decides}", body.source))
    found += [(f"{c.name}: {c.email or ''} {c.purpose}", c.source) for c in pack.contacts]
    found += [(d.text, d.source) for d in (*pack.diversions.immediate_risk, *pack.diversions.conduct)]
    if pack.themes_review:
        found.append((pack.themes_review.text, pack.themes_review.source))
    return found


@functools.lru_cache(maxsize=16)
def _fact_vectors(pack_id: str, texts: tuple[str, ...]):
    from bot.nlp.encoder import shared_encoder

    return shared_encoder().encode(list(texts))


def by_meaning(pack: Pack, question: str) -> Answer:
    """The pack's statement closest in meaning to the question, if close enough."""
    from bot.nlp.encoder import shared_encoder

    facts = facts_of(pack)
    vectors = _fact_vectors(pack.id, tuple(text for text, _ in facts))
    scores = vectors @ shared_encoder().encode([question])[0]
    best = int(scores.argmax())
    if float(scores[best]) < RELEVANT:
        return _unknown(pack, "that")
    text, source = facts[best]
    return Answer(_sentence(text), (source,))


# Answering in the seed's own words ---------------------------------------------------------------


def _content_words(text: str) -> set[str]:
    words = re.findall(r"[a-z0-9]+", text.lower().replace("’", "'").replace("'", ""))
    return {_stem(w) for w in words if w not in STOPWORDS and len(w) > 1}


def _stem(word: str) -> str:
    for ending in ("ing", "ed", "es", "s"):
        if word.endswith(ending) and len(word) - len(ending) >= 4:
            return word[: -len(ending)]
    return word


def _stage_mentions(text: str) -> set[int]:
    found = set()
    for match in STAGE_NUMBER.finditer(text.lower()):
        word = match.group(1) or match.group(2)
        found.add(int(word) if word.isdigit() else NUMBER_WORDS[word])
    for match in re.finditer(rf"\b{STAGE_WORDS}\s+(one|two|three|four|five)\b", text.lower()):
        found.add(NUMBER_WORDS[match.group(1)])
    return found


@functools.lru_cache(maxsize=16)
def _passage_vectors(pack_id: str, texts: tuple[str, ...]):
    from bot.nlp.encoder import shared_encoder

    return shared_encoder().encode(list(texts))


def ranked_passages(pack: Pack, question: Question) -> list[tuple[float, Passage]]:
    """The pack's passages, best first, scored by meaning, shared words and the stage named."""
    if not pack.passages:
        return []
    from bot.nlp.encoder import shared_encoder

    texts = tuple(f"{p.source.section}: {p.said}" for p in pack.passages)
    scores = _passage_vectors(pack.id, texts) @ shared_encoder().encode([question.text])[0]
    asked = _content_words(question.text)
    stages = {question.stage}
    if question.stage and UNRESOLVED.search(question.text.lower()):
        stages.add(question.stage - 1)  # what the stage named says to do when it fails
    numbers = {n for n, i in stage_numbers(pack).items() if question.stage is not None and i in stages}
    ranked = []
    for score, passage, text in zip(scores, pack.passages, texts):
        score = float(score)
        if asked:
            score += KEYWORD_WEIGHT * len(asked & _content_words(text)) / len(asked)
        if numbers & _stage_mentions(passage.source.section):
            score += STAGE_BONUS
        elif numbers & _stage_mentions(passage.text):
            score += STAGE_BONUS / 2
        ranked.append((score, passage))
    ranked.sort(key=lambda pair: -pair[0])
    return ranked


def _said_already(passage: Passage, text: str) -> bool:
    """Whether ``text`` already quotes the passage (the seed's words, not a paraphrase)."""

    def plain(said: str) -> str:
        return re.sub(r"[^a-z0-9]+", " ", said.lower()).strip()

    return plain(passage.text) in plain(text)


def answer(pack: Pack, question: Question, *, use_meaning: bool = True) -> Answer:
    """The answer to ``question`` from ``pack``: the structured fact its topic names, with the
    seed's own sentence that answers it best; a question no topic fits, from that sentence."""
    structured = ANSWERS[question.topic](pack, question) if question.topic is not None else None
    if not use_meaning:
        return structured or _unknown(pack, "that")
    ranked = ranked_passages(pack, question)
    if structured is not None and structured.answered:
        if question.topic is not Topic.STAGES and ranked and ranked[0][0] >= PASSAGE_EXTRA and not _said_already(ranked[0][1], structured.text):
            best = ranked[0][1]
            return Answer(f"{structured.text} {_sentence(best.said)}", (*structured.sources, best.source))
        return structured
    if ranked and ranked[0][0] >= PASSAGE_RELEVANT:
        best = ranked[0][1]
        return Answer(_sentence(best.said), (best.source,))
    if structured is not None:
        return structured
    return by_meaning(pack, question.text)


def other_partnership(library: Library, text: str, current: str | None) -> str | None:
    """A second partnership a "compare" question names ("is it the same in Warrington?")."""
    for candidate in library.find_all_in(text):
        if candidate != current:
            return candidate
    return None

