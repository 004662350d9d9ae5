"""NLU evaluation on a held-out split of the project's own examples.

``python -m bot.evaluation`` splits the examples written for this project (``data/nlu/``, not
the CLINC150 import) 80/20 per intent with a fixed seed, trains an NLU model on the 80% plus the
CLINC150 out-of-scope examples, tests it on the 20%, and reports macro-F1 over the intents and
over the four routes (disagreement, immediate risk, conduct, other). It fails when the intents'
macro-F1 is below ``--min-macro-f1``.
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
from collections import Counter
from pathlib import Path

from bot.config import PROJECT_ROOT
from bot.triage import OTHER, ROUTE_OF_INTENT

NLU_DIR = PROJECT_ROOT / "data" / "nlu"
IMPORTED = {"out_of_scope_clinc150.yml"}  # not our own examples: always training data


def route_of(intent: str | None) -> str:
    return ROUTE_OF_INTENT.get(intent or "", OTHER)


def macro_f1(pairs: list[tuple[str, str]]) -> tuple[float, dict[str, dict[str, float]]]:
    """Macro-averaged F1 over the labels of (expected, predicted) pairs, and per-label scores."""
    labels = sorted({expected for expected, _ in pairs})
    true_positive = Counter(e for e, p in pairs if e == p)
    predicted = Counter(p for _, p in pairs)
    expected = Counter(e for e, _ in pairs)
    scores = {}
    for label in labels:
        precision = true_positive[label] / predicted[label] if predicted[label] else 0.0
        recall = true_positive[label] / expected[label] if expected[label] else 0.0
        f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
        scores[label] = {"precision": precision, "recall": recall, "f1": f1, "support": expected[label]}
    return sum(s["f1"] for s in scores.values()) / len(scores), scores


def _rasa(*arguments: str) -> None:
    command = [sys.executable, "-m", "rasa", *arguments]
    print("+", " ".join(command), flush=True)
    subprocess.run(command, cwd=PROJECT_ROOT, check=True)


def evaluate(out: Path, seed: int, config: Path = PROJECT_ROOT / "config.yml") -> dict:
    """Split, train, test; returns the figures (also written to ``out/summary.json``)."""
    if out.exists():
        shutil.rmtree(out)
    own, split, model = out / "own", out / "split", out / "model"
    own.mkdir(parents=True)
    for path in sorted(NLU_DIR.glob("*.yml")):
        if path.name not in IMPORTED:
            shutil.copy(path, own / path.name)
    _rasa("data", "split", "nlu", "--nlu", str(own), "--training-fraction", "0.8",
          "--random-seed", str(seed), "--out", str(split))  # fmt: skip
    training = out / "training"
    training.mkdir()
    shutil.copy(split / "training_data.yml", training / "training_data.yml")
    for name in IMPORTED:
        shutil.copy(NLU_DIR / name, training / name)
    _rasa("train", "nlu", "--nlu", str(training), "--config", str(config), "--out", str(model),
          "--fixed-model-name", "nlu-heldout")  # fmt: skip
    _rasa("test", "nlu", "--nlu", str(split / "test_data.yml"), "--model",
          str(model / "nlu-heldout.tar.gz"), "--out", str(out / "report"), "--successes",
          "--no-plot")  # fmt: skip

    predictions = []
    for name in ("intent_successes.json", "intent_errors.json"):
        path = out / "report" / name
        if path.is_file():
            predictions.extend(json.loads(path.read_text(encoding="utf-8")))
    intents = [(p["intent"], (p.get("intent_prediction") or {}).get("name") or "") for p in predictions]
    routes = [(route_of(expected), route_of(predicted)) for expected, predicted in intents]
    intent_f1, intent_scores = macro_f1(intents)
    route_f1, route_scores = macro_f1(routes)
    summary = {
        "examples_tested": len(intents),
        "intent_macro_f1": round(intent_f1, 4),
        "route_macro_f1": round(route_f1, 4),
        "intents": intent_scores,
        "routes": route_scores,
        "misrouted": [
            {"text": p["text"], "expected": route_of(p["intent"]),
             "predicted": route_of((p.get("intent_prediction") or {}).get("name"))}
            for p in predictions
            if route_of(p["intent"]) != route_of((p.get("intent_prediction") or {}).get("name"))
        ],  # fmt: skip
    }
    (out / "summary.json").write_text(json.dumps(summary, indent=2), encoding="utf-8")
    return summary


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bot.evaluation", description=__doc__)
    parser.add_argument("--out", type=Path, default=PROJECT_ROOT / "build" / "results" / "nlu")
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--min-macro-f1", type=float, default=0.90)
    parser.add_argument("--config", type=Path, default=PROJECT_ROOT / "config.yml")
    args = parser.parse_args(argv)
    summary = evaluate(args.out, args.seed, args.config)
    print(f"\nHeld-out NLU evaluation ({summary['examples_tested']} examples):")
    for label, score in summary["routes"].items():
        print(f"  route {label:<15} P {score['precision']:.3f}  R {score['recall']:.3f}  F1 {score['f1']:.3f}  (n={score['support']})")
    print(f"  intents macro-F1 {summary['intent_macro_f1']:.4f}   routes macro-F1 {summary['route_macro_f1']:.4f}")
    for miss in summary["misrouted"]:
        print(f"  misrouted: expected {miss['expected']}, got {miss['predicted']}")
    if summary["intent_macro_f1"] < args.min_macro_f1:
        print(f"FAILED: intents macro-F1 {summary['intent_macro_f1']:.4f} < {args.min_macro_f1}", file=sys.stderr)
        return 1
    print(f"passed: intents macro-F1 >= {args.min_macro_f1}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
