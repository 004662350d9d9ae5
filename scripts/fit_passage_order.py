"""Fit the order in which seed passages are offered as answers (``ORDER_*`` in questions.py).

``python scripts/fit_passage_order.py`` reads the development question sets (questions written
from the seeds, each with the verbatim phrases a right answer holds), computes each passage's
``Evidence`` for each question exactly as the assistant does, labels a passage right when it holds
one of the expected phrases, and fits a logistic regression of right-or-not on the evidence.
It prints, for each set held out in turn, how often the first passage is a right one under the
relevance score alone, under the order in questions.py, and under the refitted order; then the
refitted weights scaled so the sentence's own meaning weighs 1, for copying into questions.py.
Sets measured as unseen after the fit must not be added to ``DEVELOPMENT_SETS``.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np
import yaml

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.procedure_questions import answered  # noqa: E402
from bot.procedures import questions  # noqa: E402
from bot.procedures.loader import load_library  # noqa: E402

DEVELOPMENT_SETS = [
    "procedure_questions",
    "procedure_questions_heldout",
    "procedure_questions_final",
    "procedure_questions_unseen_d",
    "procedure_questions_unseen_e",
    "procedure_questions_unseen_f",
    "procedure_questions_unseen_g",
    "procedure_questions_unseen_h",
]
FEATURES = ("alone", "keywords", "bonus", "aspects")


def examples(set_name: str, library) -> list[tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]]:
    """Per question with a right passage: features, labels, relevance scores, current order."""
    found = []
    for item in yaml.safe_load((ROOT / "bench" / "data" / f"{set_name}.yml").read_text())["questions"]:
        pack = library[item["partnership"]]
        evidence = questions.passage_evidence(pack, questions.read_question(item["question"], pack))
        labels = np.array([answered(p.said, item["expect"]) or answered(p.text, item["expect"]) for p in pack.passages])
        if not labels.any():
            continue  # the fact is in the pack's structured fields, not one passage
        features = np.array([[getattr(e, name) for name in FEATURES] for e in evidence], dtype=float)
        found.append((features, labels, np.array([e.score for e in evidence]), np.array([e.order for e in evidence])))
    return found


def first_is_right(ranking: list[np.ndarray], labels: list[np.ndarray]) -> int:
    return sum(int(label[int(np.argmax(scores))]) for scores, label in zip(ranking, labels))


def fit(rows):
    from sklearn.linear_model import LogisticRegression

    features = np.concatenate([row[0] for row in rows])
    labels = np.concatenate([row[1] for row in rows])
    return LogisticRegression(C=1.0, max_iter=2000, class_weight="balanced").fit(features, labels)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.parse_args(argv)
    library = load_library(ROOT / "bot" / "procedures" / "packs")
    by_set = {}
    for name in DEVELOPMENT_SETS:
        print(f"reading {name} …", file=sys.stderr, flush=True)
        by_set[name] = examples(name, library)
    print(f"{'held out':<34} {'questions':>9} {'score':>6} {'order':>6} {'refit':>6}")
    totals = np.zeros(4, dtype=int)
    for held, rows in by_set.items():
        model = fit([row for name, each in by_set.items() if name != held for row in each])
        labels = [row[1] for row in rows]
        counts = (
            len(rows),
            first_is_right([row[2] for row in rows], labels),
            first_is_right([row[3] for row in rows], labels),
            first_is_right([model.decision_function(row[0]) for row in rows], labels),
        )
        totals += counts
        print(f"{held:<34} {counts[0]:>9} {counts[1]:>6} {counts[2]:>6} {counts[3]:>6}")
    print(f"{'all':<34} {totals[0]:>9} {totals[1]:>6} {totals[2]:>6} {totals[3]:>6}")
    model = fit([row for rows in by_set.values() for row in rows])
    weights = model.coef_[0] / model.coef_[0][0]
    print("weights (alone = 1): " + ", ".join(f"{name} {weight:.2f}" for name, weight in zip(FEATURES, weights)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
