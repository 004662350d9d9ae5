"""How long the answers to procedure questions are, and whether they still hold the seed's fact.

``python bench/answer_lengths.py`` answers every question of every set in ``bench/data``
(``procedure_questions*.yml``) with ``bot.procedures.questions`` directly, with no NLU and no
server, for the question's partnership: the same answer the assistant gives once a message has
been read as a question. It counts each answer's sentences as the assistant says them
(``questions.answer_sentences``) and checks the answer for one of the question's expected phrases,
as ``bench/procedure_questions.py`` does through the API. Figures go to
``bench/results/answer_lengths.{md,json}``: the issue asks for answers of one to three sentences.
"""

from __future__ import annotations

import argparse
import collections
import json
import statistics
import sys
import time
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.procedure_questions import answered  # noqa: E402
from bot.procedures import questions  # noqa: E402
from bot.procedures.loader import load_library  # noqa: E402

MOST = questions.MOST_SENTENCES


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "results")
    args = parser.parse_args(argv)
    library = load_library(ROOT / "bot" / "procedures" / "packs")
    sets = sorted((ROOT / "bench" / "data").glob("procedure_questions*.yml"))
    started = time.monotonic()
    sentences: collections.Counter[int] = collections.Counter()
    characters, right, total = [], 0, 0
    for number, path in enumerate(sets, 1):
        for item in yaml.safe_load(path.read_text())["questions"]:
            pack = library[item["partnership"]]
            said = questions.answer(pack, questions.read_question(item["question"], pack))
            sentences[len(questions.answer_sentences(said.text))] += 1
            characters.append(len(said.text))
            right += answered(said.text, item["expect"])
            total += 1
        print(f"{number}/{len(sets)} {path.name}: {total} questions so far", file=sys.stderr, flush=True)
    short = sum(count for length, count in sentences.items() if length <= MOST)
    figures = {
        "sets": len(sets),
        "questions": total,
        "answered_with_the_seed_fact": right / total,
        "at_most_three_sentences": short / total,
        "sentences": {str(length): sentences[length] for length in sorted(sentences)},
        "mean_sentences": sum(length * count for length, count in sentences.items()) / total,
        "median_characters": statistics.median(characters),
        "p90_characters": sorted(characters)[int(0.9 * len(characters))],
        "seconds": round(time.monotonic() - started, 1),
    }
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "answer_lengths.json").write_text(json.dumps(figures, indent=2) + "\n")
    rows = "\n".join(f"| {length} | {count:,} | {count / total:.1%} |" for length, count in sorted(sentences.items()))
    (args.out / "answer_lengths.md").write_text(
        f"# How long the answers to procedure questions are\n\n"
        f"{total:,} questions of {len(sets)} sets (`bench/data/procedure_questions*.yml`), answered offline "
        f"by `bot.procedures.questions` for their partnership (no NLU, no server) in {figures['seconds']} s.\n\n"
        f"- answers of one to three sentences: **{short / total:.1%}** ({short:,})\n"
        f"- mean sentences {figures['mean_sentences']:.2f}; characters: median {figures['median_characters']:.0f}, "
        f"90th percentile {figures['p90_characters']}\n"
        f"- answered with the seed's fact (offline; the sets measured once through the API are in "
        f"`procedure_questions_*.md`): {right / total:.1%} ({right:,})\n\n"
        f"| sentences | answers | share |\n| --: | --: | --: |\n{rows}\n\n"
        f"Command: `python bench/answer_lengths.py`.\n"
    )
    print(json.dumps(figures, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
