"""Factual questions about each partnership's procedure, asked through the running assistant.

``python bench/procedure_questions.py`` starts the assistant as ``make serve`` does (its own
``var/`` in a temporary directory, test ports), and for each question in
``bench/data/procedure_questions.yml`` (written from the seed documents only, by someone who had
not seen the packs or the training data) opens a new conversation, chooses the partnership with
the ``/choose_partnership`` payload, asks the question over the REST channel and checks that the
reply contains one of the question's ``expect`` phrases (verbatim seed facts; case and whitespace
ignored) and cites a source. It writes ``bench/results/procedure_questions.md`` and ``.json``:
the share answered with the seed's fact, per partnership, and every miss with the reply given.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
import tempfile
import time
import uuid
from collections import Counter
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bot.chat import post_message  # noqa: E402
from tests.serving import serving  # noqa: E402

QUESTIONS = ROOT / "bench" / "data" / "procedure_questions.yml"
TARGET = 0.95


def _normal(text: str) -> str:
    return re.sub(r"\s+", " ", text.replace("’", "'").replace("–", "-")).strip().lower()


def ask(url: str, partnership: str, question: str) -> str:
    sender = f"bench-{uuid.uuid4().hex[:10]}"
    post_message(url, sender, f'/choose_partnership{{"partnership": "{partnership}"}}')
    return "\n".join(reply.get("text") or "" for reply in post_message(url, sender, question))


def answered(reply: str, expect: list[str]) -> bool:
    return any(_normal(phrase) in _normal(reply) for phrase in expect)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--questions", type=Path, default=QUESTIONS)
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "results")
    parser.add_argument("--name", default="procedure_questions", help="results file name (without extension)")
    parser.add_argument("--rasa-port", type=int, default=5205)
    parser.add_argument("--actions-port", type=int, default=5255)
    args = parser.parse_args(argv)

    questions = yaml.safe_load(args.questions.read_text())["questions"]
    results = []
    started = time.perf_counter()
    with tempfile.TemporaryDirectory() as var, serving(Path(var) / "var", args.rasa_port, args.actions_port) as url:
        print(f"assistant ready after {time.perf_counter() - started:.0f} s; asking {len(questions)} questions")
        for number, item in enumerate(questions, 1):
            reply = ask(url, item["partnership"], item["question"])
            results.append({**item, "reply": reply, "right": answered(reply, item["expect"]), "cited": "Source:" in reply})
            if number % 20 == 0:
                print(f"  {number}/{len(questions)}")

    right = sum(r["right"] for r in results)
    per = Counter(r["partnership"] for r in results)
    per_right = Counter(r["partnership"] for r in results if r["right"])
    summary = {
        "questions": len(results),
        "answered_with_the_seed_fact": round(right / len(results), 4),
        "cited": round(sum(r["cited"] for r in results) / len(results), 4),
        "per_partnership": {p: round(per_right[p] / n, 4) for p, n in sorted(per.items())},
        "target": TARGET,
    }
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / f"{args.name}.json").write_text(json.dumps({**summary, "results": results}, indent=2) + "\n")
    lines = [
        "# Procedure questions through the API", "",
        f"{len(results)} questions written from the seeds only (`{args.questions.resolve().relative_to(ROOT)}`), "
        f"asked over the REST channel after choosing the partnership.", "",
        "| partnership | answered with the seed's fact |", "| --- | --- |",
        *[f"| {p} | {per_right[p]}/{n} ({per_right[p] / n:.1%}) |" for p, n in sorted(per.items())],
        f"| **all** | **{right}/{len(results)} ({right / len(results):.1%})** |", "",
        f"Replies citing a source: {summary['cited']:.1%}. Target: {TARGET:.0%}.", "", "## Misses", "",
    ]  # fmt: skip
    for r in results:
        if not r["right"]:
            lines += [f"- **{r['partnership']}**: {r['question']!r} (expected one of {r['expect']}; {r['source']})",
                      "  > " + r["reply"].replace("\n", "\n  > "), ""]  # fmt: skip
    (args.out / f"{args.name}.md").write_text("\n".join(lines) + "\n")
    print(json.dumps(summary, indent=2))
    return 0 if summary["answered_with_the_seed_fact"] >= TARGET else 1


if __name__ == "__main__":
    raise SystemExit(main())
