"""Loading and validating procedure packs.

A pack is ``<partnership id>.yml`` in the packs directory; ``_general.yml`` beside them holds the
general guidance used where a partnership's seed says nothing. Errors name the file and the field.
"""

from __future__ import annotations

import dataclasses
import functools
import re
from pathlib import Path
from typing import Iterator, Mapping

import yaml
from pydantic import ValidationError

from bot.procedures.schema import GeneralGuidance, Pack

GENERAL_FILE = "_general.yml"


class PackError(ValueError):
    """A pack file that cannot be used; the message names the file and the field."""

    def __init__(self, path: Path, problems: list[str]) -> None:
        self.path = path
        self.problems = problems
        listed = "\n".join(f"  - {problem}" for problem in problems)
        super().__init__(f"{path}: invalid procedure pack:\n{listed}")


def _read_yaml(path: Path) -> object:
    try:
        with path.open(encoding="utf-8") as handle:
            return yaml.safe_load(handle)
    except OSError as error:
        raise PackError(path, [f"cannot be read: {error.strerror}"]) from None
    except yaml.YAMLError as error:
        mark = getattr(error, "problem_mark", None)
        where = f"line {mark.line + 1}, column {mark.column + 1}: " if mark else ""
        problem = getattr(error, "problem", None) or str(error)
        raise PackError(path, [f"{where}not valid YAML ({problem})"]) from None


def _problems(error: ValidationError) -> list[str]:
    problems = []
    for item in error.errors():
        field = ".".join(str(part) for part in item["loc"] if part != "__root__") or "(top level)"
        problems.append(f"{field}: {item['msg']}")
    return problems


def load_pack(path: Path) -> Pack:
    """Read and validate one pack; its file name must be its id."""
    raw = _read_yaml(path)
    if not isinstance(raw, dict):
        raise PackError(path, ["(top level): must be a mapping of fields, e.g. 'id: ...'"])
    try:
        pack = Pack.parse_obj(raw)
    except ValidationError as error:
        raise PackError(path, _problems(error)) from None
    if path.stem != pack.id:
        raise PackError(path, [f"id: '{pack.id}' must match the file name '{path.stem}'"])
    return pack


def load_general(path: Path) -> GeneralGuidance:
    raw = _read_yaml(path)
    try:
        return GeneralGuidance.parse_obj(raw)
    except ValidationError as error:
        raise PackError(path, _problems(error)) from None


@dataclasses.dataclass(frozen=True)
class Library:
    """Every partnership's pack, by id, and the general guidance."""

    packs: Mapping[str, Pack]
    general: GeneralGuidance

    def __iter__(self) -> Iterator[Pack]:
        return iter(self.packs.values())

    def __contains__(self, partnership: object) -> bool:
        return partnership in self.packs

    def get(self, partnership: str | None) -> Pack | None:
        return self.packs.get(partnership) if partnership else None

    def find(self, text: str, subject: str | None = None) -> list[str]:
        """Ids of the partnerships that ``text`` names (an id, a name or an alias), narrowed to
        those covering ``subject`` when that leaves any. "Bury" names two; "Bury" about a child
        names one."""
        wanted = _normalise(text)
        if not wanted:
            return []
        names = {pack.id: {_normalise(n) for n in (pack.id, pack.name, pack.short_name, *pack.aliases)} for pack in self}
        found = [pid for pid, known in names.items() if wanted in known]
        if not found:
            # The longest name contained in the text, e.g. "we're in warrington adults".
            best = max(
                ((len(name), pid) for pid, known in names.items() for name in known if re.search(rf"\b{re.escape(name)}\b", wanted)),
                default=None,
            )
            if best is not None:
                found = [pid for pid, known in names.items() if any(len(n) == best[0] and re.search(rf"\b{re.escape(n)}\b", wanted) for n in known)]
        if subject and len(found) > 1:
            covering = [pid for pid in found if subject in {s.value for s in self.packs[pid].covers}]
            found = covering or found
        return found

    def find_all_in(self, text: str) -> list[str]:
        """Ids of every partnership a text names anywhere, in order of first mention."""
        wanted = f" {_normalise(text)} "
        found: list[tuple[int, str]] = []
        for pack in self:
            names = {_normalise(n) for n in (pack.id, pack.name, pack.short_name, *pack.aliases)}
            positions = [wanted.find(f" {name} ") for name in names if name and f" {name} " in wanted]
            if positions:
                found.append((min(positions), pack.id))
        return [pid for _, pid in sorted(found)]

    def without_names(self, text: str) -> str:
        """``text`` with every partnership name in it taken out ("step 2 bury adults?" -> "step 2
        ?"), and the spaces and dashes left behind tidied."""
        text = self._any_name.sub(" ", text)
        return re.sub(r"\s+", " ", re.sub(r"(^|\s)[-:,;](?=\s|$)", " ", text)).strip()

    @functools.cached_property
    def _any_name(self) -> re.Pattern:
        """Any partnership's id, name or alias as words, longest first (so "bury adults" goes
        whole before "bury" could)."""
        names = sorted(
            {n.strip() for pack in self for n in (pack.id, pack.name, pack.short_name, *pack.aliases) if n.strip()},
            key=len,
            reverse=True,
        )
        spelt = (r"[\s&-]+".join(re.escape(word) for word in re.split(r"[\s&-]+", name) if word) for name in names)
        return re.compile(rf"(?<![\w-])(?:{'|'.join(spelt)})(?![\w-])", re.IGNORECASE)

    def __getitem__(self, partnership: str) -> Pack:
        try:
            return self.packs[partnership]
        except KeyError:
            known = ", ".join(sorted(self.packs))
            raise KeyError(f"no partnership '{partnership}'; known: {known}") from None


def _normalise(text: str) -> str:
    text = text.lower().replace("’", "'").replace("&", " and ")
    text = re.sub(r"[^a-z0-9' -]+", " ", text)
    return re.sub(r"\s+", " ", text).strip()


def load_library(directory: Path) -> Library:
    """Load every pack in ``directory``; a broken pack stops the load with its error."""
    if not directory.is_dir():
        raise PackError(directory, ["the packs directory does not exist"])
    packs = {}
    for path in sorted(directory.glob("*.yml")):
        if path.name == GENERAL_FILE:
            continue
        pack = load_pack(path)
        packs[pack.id] = pack
    if not packs:
        raise PackError(directory, ["holds no '<partnership id>.yml' pack"])
    general_path = directory / GENERAL_FILE
    if not general_path.is_file():
        raise PackError(general_path, ["the general guidance file is missing"])
    return Library(packs=packs, general=load_general(general_path))


@functools.lru_cache(maxsize=4)
def cached_library(directory: Path) -> Library:
    """``load_library`` once per directory for a long-running process."""
    return load_library(directory)
