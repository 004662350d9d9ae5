"""Routes measured on messages the model never saw.

``python bench/nlu_routes.py`` loads the trained model (``models/safeguarding.tar.gz``), parses:

* ``tests/data/route_evaluation.yml``: realistic practitioner messages written independently of the
  training data (never trained on), each labelled with its route;
* ``../shared/data/clinc150/test_sample.jsonl``: CLINC150 test utterances, all of which must route
  to ``other`` (evaluation only, never trained on),

applies the assistant's own triage decision (``bot.triage``) to each parse, and writes the figures
to ``bench/results/nlu_routes.md`` and ``.json``: per-route precision / recall / F1, macro-F1, the
immediate-risk recall, the CLINC share routed to ``other``, and every miss.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import time
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bot.config import Settings  # noqa: E402
from bot.evaluation import macro_f1  # noqa: E402
from bot.triage import OTHER, Thresholds, triage  # noqa: E402

ROUTE_SET = ROOT / "tests" / "data" / "route_evaluation.yml"
CLINC = ROOT.parent / "shared" / "data" / "clinc150" / "test_sample.jsonl"


async def _parse_all(model: Path, texts: list[str]) -> list[dict]:
    import logging

    from rasa.core.agent import Agent
    from rasa.utils.log_utils import configure_structlog

    configure_structlog(logging.WARNING)  # Rasa logs each parsed text at debug level
    logging.getLogger("rasa").setLevel(logging.WARNING)
    agent = Agent.load(str(model))
    return [await agent.parse_message(text) for text in texts]


def routes(parses: list[dict], thresholds: Thresholds) -> list[str]:
    return [triage(p.get("intent"), p.get("intent_ranking") or [], thresholds).route for p in parses]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", type=Path, default=ROOT / "models" / "safeguarding.tar.gz")
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "results")
    args = parser.parse_args(argv)

    settings = Settings.from_env()
    thresholds = Thresholds(
        settings.triage_min_confidence,
        settings.triage_min_margin,
        settings.risk_alert_confidence,
        settings.risk_route_confidence,
    )
    labelled = yaml.safe_load(ROUTE_SET.read_text(encoding="utf-8"))["messages"]
    clinc = [json.loads(line)["text"] for line in CLINC.read_text(encoding="utf-8").splitlines() if line.strip()] if CLINC.is_file() else []

    started = time.perf_counter()
    parses = asyncio.run(_parse_all(args.model, [m["text"] for m in labelled] + clinc))
    elapsed = time.perf_counter() - started
    predicted = routes(parses, thresholds)
    own, clinc_routes = predicted[: len(labelled)], predicted[len(labelled) :]

    pairs = [(m["route"], p) for m, p in zip(labelled, own)]
    f1, scores = macro_f1(pairs)
    risk = scores.get("immediate_risk", {})
    clinc_other = sum(r == OTHER for r in clinc_routes) / len(clinc_routes) if clinc_routes else None
    misses = [
        {"text": m["text"], "expected": m["route"], "predicted": p}
        for m, p in zip(labelled, own)
        if m["route"] != p
    ]
    clinc_misses = [{"text": t, "predicted": r} for t, r in zip(clinc, clinc_routes) if r != OTHER]
    summary = {
        "model": str(args.model.relative_to(ROOT) if args.model.is_relative_to(ROOT) else args.model),
        "messages": len(labelled),
        "route_macro_f1": round(f1, 4),
        "routes": scores,
        "immediate_risk_recall": risk.get("recall"),
        "clinc_messages": len(clinc_routes),
        "clinc_share_other": clinc_other,
        "seconds_parsing": round(elapsed, 1),
        "misses": misses,
        "clinc_misses": clinc_misses,
    }
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "nlu_routes.json").write_text(json.dumps(summary, indent=2), encoding="utf-8")
    lines = [
        "# Routes on unseen messages",
        "",
        f"Model `{summary['model']}`; {len(labelled)} independent practitioner messages "
        f"(`tests/data/route_evaluation.yml`) and {len(clinc_routes)} CLINC150 test utterances.",
        "",
        "| route | precision | recall | F1 | n |",
        "| --- | --- | --- | --- | --- |",
    ]
    for route, score in scores.items():
        lines.append(f"| {route} | {score['precision']:.3f} | {score['recall']:.3f} | {score['f1']:.3f} | {score['support']} |")
    lines += [
        "",
        f"- route macro-F1: **{f1:.4f}** (target 0.95)",
        f"- immediate-risk recall: **{risk.get('recall', 0):.3f}** (target 1.0)",
    ]
    if clinc_other is not None:
        lines.append(f"- CLINC150 test sample routed to `other`: **{clinc_other:.2%}** (target ≥ 98%)")
    lines += ["", "## Misses", ""] + [f"- {m['expected']} → {m['predicted']}: {m['text']}" for m in misses]
    lines += [f"- CLINC → {m['predicted']}: {m['text']}" for m in clinc_misses]
    (args.out / "nlu_routes.md").write_text("\n".join(lines) + "\n", encoding="utf-8")
    print("\n".join(lines[:14]))
    return 0


if __name__ == "__main__":
    sys.exit(main())
