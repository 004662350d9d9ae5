"""The NLU by 5-fold cross-validation of its training data, and CLINC150's share routed to ``other``.

``python bench/nlu.py`` does, on this machine:

1. **Cross-validation.** Loads the NLU training data as ``rasa train`` does (``data/nlu/``, the
   CLINC150 out-of-scope import included: it is training data too) and splits its examples into
   ``--folds`` stratified folds (scikit-learn's ``StratifiedKFold``, shuffled with ``--seed``).
   Each fold is classified by a ``SentenceIntentClassifier`` (``bot/nlp/classifier.py``) trained
   on the other folds with the settings of ``config.yml``, through the component's own ``train``
   and ``process``: its TF-IDF vectorisers and logistic regression are fitted per fold, exactly as
   in ``rasa train``. Only the sentence embeddings (``bot/nlp/encoder.py``, which do not depend on
   the training data) are computed once for every text and looked up per fold, instead of five
   times over: ``bot.nlp.encoder.shared_encoder`` is replaced, in this process only, by a cache
   in front of the real encoder. ``rasa train`` is not run: the rest of the pipeline (spaCy,
   entities) does not touch the intents.
2. **Figures over the pooled out-of-fold predictions** (each example predicted once, by the model
   that did not see it): per intent support, precision, recall and F1; macro and weighted
   averages; accuracy; the confusion matrix normalised by row (``nlu_confusion.png``); and at the
   level of routes both ``bot.evaluation.route_of`` of the top intent (as ``python -m
   bot.evaluation`` counts) and the assistant's own decision, ``bot.triage`` applied to the
   intent ranking after Rasa's ``FallbackClassifier`` (threshold from ``config.yml``), with the
   thresholds of ``Settings.from_env()``, as ``bench/nlu_routes.py`` does on a parse. Per-fold
   accuracy and macro-F1 show the spread.
3. **CLINC150.** One classifier trained on all the training data classifies
   ``../shared/data/clinc150/test_sample.jsonl`` (CLINC's test splits, never trained on); the
   share routed to ``other`` by the same triage decision is reported, with every miss.

Results: ``bench/results/nlu.md`` (tables), ``nlu.json`` and ``nlu_confusion.png``.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import logging
import os
import platform
import statistics
import sys
import tempfile
import time
import warnings
from collections import Counter
from datetime import datetime
from pathlib import Path

import numpy as np
import yaml

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")  # Rasa imports TensorFlow, which is not used here

from bot.config import Settings  # noqa: E402
from bot.evaluation import macro_f1, route_of  # noqa: E402
from bot.triage import IMMEDIATE_RISK, OTHER, Thresholds, triage  # noqa: E402

NLU_DIR = ROOT / "data" / "nlu"
CONFIG = ROOT / "config.yml"
CLINC = ROOT.parent / "shared" / "data" / "clinc150" / "test_sample.jsonl"
CLASSIFIER = "bot.nlp.classifier.SentenceIntentClassifier"
FALLBACK = "FallbackClassifier"


class CachedEncoder:
    """The real encoder behind a text → embedding cache (an embedding depends on its text only)."""

    def __init__(self, encoder) -> None:
        self.encoder = encoder
        self.vectors: dict[str, np.ndarray] = {}

    def add(self, texts: list[str], batch: int = 512) -> None:
        missing = list(dict.fromkeys(t for t in texts if t not in self.vectors))
        for start in range(0, len(missing), batch):
            chunk = missing[start : start + batch]
            self.vectors.update(zip(chunk, self.encoder.encode(chunk)))
            print(f"  embedded {min(start + batch, len(missing))}/{len(missing)}", flush=True)

    def encode(self, texts) -> np.ndarray:
        self.add(list(texts))
        if not texts:
            return np.zeros((0, self.encoder.dimension), dtype=np.float32)
        return np.stack([self.vectors[t] for t in texts])


def pipeline_config() -> tuple[dict, dict]:
    """The classifier's and the fallback's settings in ``config.yml``."""
    pipeline = yaml.safe_load(CONFIG.read_text(encoding="utf-8"))["pipeline"]
    found = {step["name"]: {k: v for k, v in step.items() if k != "name"} for step in pipeline}
    return found[CLASSIFIER], found[FALLBACK]


class Model:
    """The classifier and the fallback as Rasa runs them: fit on examples, parse texts."""

    def __init__(self, classifier_config: dict, fallback_config: dict, storage_dir: Path) -> None:
        from rasa.engine.graph import ExecutionContext, GraphSchema
        from rasa.engine.storage.local_model_storage import LocalModelStorage
        from rasa.engine.storage.resource import Resource
        from rasa.nlu.classifiers.fallback_classifier import FallbackClassifier

        from bot.nlp.classifier import SentenceIntentClassifier

        storage_dir.mkdir(parents=True)
        self.classifier = SentenceIntentClassifier.create(
            classifier_config, LocalModelStorage(storage_dir), Resource("classifier"),
            ExecutionContext(GraphSchema({})),
        )  # fmt: skip
        self.fallback = FallbackClassifier({**FallbackClassifier.get_default_config(), **fallback_config})

    def train(self, examples: list) -> None:
        from rasa.shared.nlu.training_data.training_data import TrainingData

        self.classifier.train(TrainingData(training_examples=examples))

    def parse(self, texts: list[str]) -> list[dict]:
        """What a parse gives triage: ``intent`` and ``intent_ranking``, after the fallback."""
        from rasa.shared.nlu.training_data.message import Message

        messages = self.fallback.process(self.classifier.process([Message(data={"text": t}) for t in texts]))
        return [{"intent": m.get("intent"), "intent_ranking": m.get("intent_ranking") or []} for m in messages]

    def top_intents(self, parses: list[dict]) -> list[str]:
        """The classifier's top intent (the fallback's ``nlu_fallback`` set aside)."""
        return [next(e["name"] for e in p["intent_ranking"] if e["name"] != "nlu_fallback") for p in parses]


def assistant_route(parse: dict, thresholds: Thresholds) -> str:
    return triage(parse.get("intent"), parse.get("intent_ranking") or [], thresholds).route


def summarise(pairs: list[tuple[str, str]]) -> dict:
    f1, scores = macro_f1(pairs)
    total = sum(s["support"] for s in scores.values())
    weighted = {k: sum(s[k] * s["support"] for s in scores.values()) / total for k in ("precision", "recall", "f1")}
    macro = {k: sum(s[k] for s in scores.values()) / len(scores) for k in ("precision", "recall", "f1")}
    return {
        "accuracy": sum(e == p for e, p in pairs) / len(pairs),
        "macro": macro,
        "weighted": weighted,
        "labels": scores,
    }


def confusion_png(labels: list[str], pairs: list[tuple[str, str]], path: Path, title: str) -> None:
    with warnings.catch_warnings():  # matplotlib's use of pyparsing's deprecated names, not ours
        warnings.simplefilter("ignore")
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt

    index = {label: i for i, label in enumerate(labels)}
    counts = np.zeros((len(labels), len(labels)))
    for expected, predicted in pairs:
        counts[index[expected], index[predicted]] += 1
    rates = counts / np.maximum(counts.sum(axis=1, keepdims=True), 1)
    size = max(8.0, 0.42 * len(labels) + 3)
    fig, ax = plt.subplots(figsize=(size + 1.5, size))
    image = ax.imshow(rates, cmap="Blues", vmin=0, vmax=1)
    ax.set_xticks(range(len(labels)), labels, rotation=90, fontsize=9)
    ax.set_yticks(range(len(labels)), [f"{label} ({int(counts[i].sum())})" for i, label in enumerate(labels)], fontsize=9)
    ax.set_xlabel("predicted intent")
    ax.set_ylabel("true intent (examples)")
    ax.set_title(title, fontsize=11)
    for i in range(len(labels)):
        for j in range(len(labels)):
            if counts[i, j]:
                value = rates[i, j]
                ax.text(j, i, f"{value * 100:.0f}" if value >= 0.005 else "·", ha="center", va="center",
                        fontsize=7, color="white" if value > 0.6 else "black")  # fmt: skip
    fig.colorbar(image, ax=ax, fraction=0.04, pad=0.02, label="share of the true intent's examples")
    fig.tight_layout()
    fig.savefig(path, dpi=130)
    plt.close(fig)


def machine() -> dict:
    cpu = ""
    try:
        cpu = next(line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines() if line.startswith("model name"))
    except (OSError, StopIteration):
        pass
    import rasa
    import sklearn

    return {
        "host": platform.node(), "cores": os.cpu_count(), "cpu": cpu, "python": platform.python_version(),
        "rasa": rasa.__version__, "scikit_learn": sklearn.__version__,
    }  # fmt: skip


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--folds", type=int, default=5)
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "results")
    args = parser.parse_args(argv)
    command = " ".join(["python bench/nlu.py", *(sys.argv[1:] if argv is None else argv)])
    started_at = datetime.now().astimezone()
    started = time.perf_counter()

    logging.basicConfig(level=logging.WARNING)
    logging.getLogger("matplotlib").setLevel(logging.ERROR)
    from rasa.shared.nlu.training_data.loading import load_data
    from sklearn.model_selection import StratifiedKFold

    import bot.nlp.encoder as encoder_module

    settings = Settings.from_env()
    thresholds = Thresholds(
        settings.triage_min_confidence, settings.triage_min_margin,
        settings.risk_alert_confidence, settings.risk_route_confidence,
    )  # fmt: skip
    classifier_config, fallback_config = pipeline_config()
    examples = [m for m in load_data(str(NLU_DIR)).intent_examples if m.get("text") and m.get("intent")]
    texts = [m.get("text") for m in examples]
    intents = [m.get("intent") for m in examples]
    labels = sorted(set(intents))
    clinc = [json.loads(line)["text"] for line in CLINC.read_text(encoding="utf-8").splitlines() if line.strip()] if CLINC.is_file() else []
    normalised = Counter(t.strip().lower() for t in texts)
    duplicates = sum(n - 1 for n in normalised.values() if n > 1)
    print(f"{len(examples)} examples, {len(labels)} intents; {len(clinc)} CLINC150 test utterances", flush=True)

    phase = time.perf_counter()
    print("Embedding every text once (all-MiniLM-L6-v2)...", flush=True)
    cache = CachedEncoder(encoder_module.shared_encoder())
    cache.add(texts + clinc)
    encoder_module.shared_encoder = lambda: cache  # the classifier imports it at each call
    seconds_embedding = time.perf_counter() - phase
    print(f"  {len(cache.vectors)} embeddings in {seconds_embedding:.1f} s", flush=True)

    import bot.nlp.classifier  # noqa: F401  imported now, so the first fold's time is the fold's own
    import rasa.nlu.classifiers.fallback_classifier  # noqa: F401
    import skops.io  # noqa: F401  (the classifier persists with it)

    folds = StratifiedKFold(n_splits=args.folds, shuffle=True, random_state=args.seed)
    predicted: list[str | None] = [None] * len(examples)
    triaged: list[str | None] = [None] * len(examples)
    per_fold = []
    with tempfile.TemporaryDirectory(prefix="bench-nlu-") as scratch:
        for fold, (train, test) in enumerate(folds.split(texts, intents), start=1):
            phase = time.perf_counter()
            model = Model(classifier_config, fallback_config, Path(scratch) / f"fold{fold}")
            model.train([examples[i] for i in train])
            fitted = time.perf_counter() - phase
            parses = model.parse([texts[i] for i in test])
            for i, intent, parse in zip(test, model.top_intents(parses), parses):
                predicted[i], triaged[i] = intent, assistant_route(parse, thresholds)
            pairs = [(intents[i], predicted[i]) for i in test]
            f1, _ = macro_f1(pairs)
            row = {
                "fold": fold, "train": len(train), "test": len(test),
                "accuracy": sum(e == p for e, p in pairs) / len(pairs), "intent_macro_f1": f1,
                "route_macro_f1": macro_f1([(route_of(e), route_of(p)) for e, p in pairs])[0],
                "seconds_fit": round(fitted, 1), "seconds": round(time.perf_counter() - phase, 1),
            }  # fmt: skip
            per_fold.append(row)
            print(
                f"fold {fold}/{args.folds}: train {len(train)}, test {len(test)}: accuracy {row['accuracy']:.4f}, "
                f"intent macro-F1 {f1:.4f}, route macro-F1 {row['route_macro_f1']:.4f} "
                f"(fit {fitted:.1f} s, total {row['seconds']:.1f} s)",
                flush=True,
            )

        phase = time.perf_counter()
        print("CLINC150: training on all the training data...", flush=True)
        model = Model(classifier_config, fallback_config, Path(scratch) / "all")
        model.train(examples)
        clinc_parses = model.parse(clinc) if clinc else []
        seconds_clinc = time.perf_counter() - phase
    clinc_routes = [assistant_route(p, thresholds) for p in clinc_parses]
    clinc_top = model.top_intents(clinc_parses) if clinc_parses else []
    clinc_other = sum(r == OTHER for r in clinc_routes) / len(clinc_routes) if clinc_routes else None
    clinc_other_top = sum(route_of(i) == OTHER for i in clinc_top) / len(clinc_top) if clinc_top else None
    clinc_fallback = sum(p["intent"]["name"] == "nlu_fallback" for p in clinc_parses)
    print(f"  CLINC150 routed to other: {clinc_other:.2%} ({seconds_clinc:.1f} s)" if clinc_routes else "  no CLINC150 file", flush=True)

    intent_pairs = list(zip(intents, predicted))
    intent_summary = summarise(intent_pairs)
    route_pairs = [(route_of(e), route_of(p)) for e, p in intent_pairs]
    route_summary = summarise(route_pairs)
    triage_pairs = [(route_of(e), r) for e, r in zip(intents, triaged)]
    triage_summary = summarise(triage_pairs)
    confusions = Counter((e, p) for e, p in intent_pairs if e != p)
    args.out.mkdir(parents=True, exist_ok=True)
    confusion_png(labels, intent_pairs, args.out / "nlu_confusion.png",
                  f"Intents, {args.folds}-fold cross-validation (seed {args.seed}), "
                  f"{len(examples)} examples: % of each true intent's examples")  # fmt: skip
    seconds = time.perf_counter() - started

    def spread(key: str) -> dict:
        values = [row[key] for row in per_fold]
        return {"mean": statistics.mean(values), "sd": statistics.stdev(values) if len(values) > 1 else 0.0,
                "min": min(values), "max": max(values)}  # fmt: skip

    summary = {
        "command": command,
        "date": started_at.isoformat(timespec="seconds"),
        "machine": machine(),
        "seconds": round(seconds, 1),
        "seconds_embedding": round(seconds_embedding, 1),
        "seconds_clinc": round(seconds_clinc, 1),
        "seed": args.seed,
        "folds": args.folds,
        "classifier_config": classifier_config,
        "fallback_config": fallback_config,
        "thresholds": dataclasses.asdict(thresholds),
        "examples": len(examples),
        "intents_count": len(labels),
        "duplicate_texts": duplicates,
        "intents": intent_summary,
        "routes_top_intent": route_summary,
        "routes_triage": triage_summary,
        "immediate_risk_recall_top_intent": route_summary["labels"][IMMEDIATE_RISK]["recall"],
        "immediate_risk_recall_triage": triage_summary["labels"][IMMEDIATE_RISK]["recall"],
        "per_fold": per_fold,
        "per_fold_spread": {k: spread(k) for k in ("accuracy", "intent_macro_f1", "route_macro_f1")},
        "immediate_risk_missed_by_triage": [
            {"text": t, "route": r, "top_intent": p}
            for t, e, p, r in zip(texts, intents, predicted, triaged)
            if e == IMMEDIATE_RISK and r != IMMEDIATE_RISK
        ],
        "confusions": [{"expected": e, "predicted": p, "count": n} for (e, p), n in confusions.most_common()],
        "clinc_messages": len(clinc),
        "clinc_share_other": clinc_other,
        "clinc_share_other_top_intent": clinc_other_top,
        "clinc_nlu_fallback": clinc_fallback,
        "clinc_misses": [
            {"text": t, "route": r, "top_intent": i} for t, r, i in zip(clinc, clinc_routes, clinc_top) if r != OTHER
        ],
    }
    (args.out / "nlu.json").write_text(json.dumps(summary, indent=2), encoding="utf-8")
    (args.out / "nlu.md").write_text(markdown(summary), encoding="utf-8")
    print(
        f"\naccuracy {intent_summary['accuracy']:.4f}, intent macro-F1 {intent_summary['macro']['f1']:.4f}, "
        f"route macro-F1 {route_summary['macro']['f1']:.4f} (triage {triage_summary['macro']['f1']:.4f}), "
        f"immediate-risk recall {summary['immediate_risk_recall_top_intent']:.3f} "
        f"(triage {summary['immediate_risk_recall_triage']:.3f}), CLINC150 to other "
        + (f"{clinc_other:.2%}" if clinc_other is not None else "n/a")
        + f"; {seconds / 60:.1f} min. Written: {args.out}/nlu.md, nlu.json, nlu_confusion.png",
        flush=True,
    )
    return 0


def _table(scores: dict, summary: dict, name: str) -> list[str]:
    lines = [f"| {name} | n | precision | recall | F1 |", "| --- | --: | --: | --: | --: |"]
    for label, s in scores.items():
        lines.append(f"| {label} | {s['support']} | {s['precision']:.3f} | {s['recall']:.3f} | {s['f1']:.3f} |")
    total = sum(s["support"] for s in scores.values())
    for kind in ("macro", "weighted"):
        a = summary[kind]
        lines.append(f"| *{kind} average* | {total} | {a['precision']:.3f} | {a['recall']:.3f} | {a['f1']:.3f} |")
    lines.append(f"| *accuracy* | {total} | | | {summary['accuracy']:.3f} |")
    return lines


def markdown(s: dict) -> str:
    m, intents = s["machine"], s["intents"]
    routes, triaged = s["routes_top_intent"], s["routes_triage"]
    t = s["thresholds"]
    lines = [
        "# NLU: cross-validation of the training data, and CLINC150",
        "",
        f"`{s['command']}`, run {s['date']} on {m['host'] or 'this machine'} ({m['cores']} cores, {m['cpu'] or 'CPU unknown'}; "
        f"shared with other work), Python {m['python']}, Rasa {m['rasa']}, scikit-learn {m['scikit_learn']}: "
        f"**{s['seconds'] / 60:.1f} min** in all ({s['seconds_embedding']:.0f} s embedding every text once, "
        f"{sum(f['seconds'] for f in s['per_fold']):.0f} s for the {s['folds']} folds, {s['seconds_clinc']:.0f} s training on "
        "everything and classifying CLINC150).",
        "",
        f"Stratified {s['folds']}-fold cross-validation (scikit-learn `StratifiedKFold`, shuffled, seed **{s['seed']}**) of the "
        f"{s['examples']} intent examples of `data/nlu/` ({s['intents_count']} intents; the CLINC150 out-of-scope import "
        "included, as in `rasa train`). Each fold is classified by `SentenceIntentClassifier` trained on the other folds "
        f"through its own `train` and `process`, configured as in `config.yml` ({json.dumps(s['classifier_config'])}); "
        "the sentence embeddings are computed once and looked up per fold, everything else is fitted per fold. "
        "Figures are over the pooled out-of-fold predictions (every example predicted once, by a model that did not see it). "
        + (f"{s['duplicate_texts']} examples repeat another's text (case and surrounding spaces ignored)."
           if s["duplicate_texts"] else "No two examples have the same text (case and surrounding spaces ignored)."),
        "",
        "## Headline",
        "",
        f"- intent accuracy: **{intents['accuracy']:.4f}**",
        f"- intent macro-F1: **{intents['macro']['f1']:.4f}** (weighted {intents['weighted']['f1']:.4f})",
        f"- route macro-F1, route of the top intent (`bot.evaluation.route_of`): **{routes['macro']['f1']:.4f}**",
        f"- immediate-risk recall, route of the top intent: **{s['immediate_risk_recall_top_intent']:.4f}** "
        f"(precision {routes['labels'][IMMEDIATE_RISK]['precision']:.4f})",
        f"- the assistant's decision (`bot.triage` on the ranking after the FallbackClassifier): route macro-F1 "
        f"**{triaged['macro']['f1']:.4f}**, immediate-risk recall **{s['immediate_risk_recall_triage']:.4f}** "
        f"(precision {triaged['labels'][IMMEDIATE_RISK]['precision']:.4f})",
    ]
    if s["clinc_share_other"] is not None:
        lines.append(
            f"- CLINC150 test sample ({s['clinc_messages']} utterances) routed to `other` by the assistant's decision, "
            f"model trained on all the training data: **{s['clinc_share_other']:.2%}** "
            f"({s['clinc_messages'] - len(s['clinc_misses'])} of {s['clinc_messages']}); by the top intent's route: "
            f"{s['clinc_share_other_top_intent']:.2%}"
        )
    spread = s["per_fold_spread"]
    lines += [
        "",
        "## Folds",
        "",
        "| fold | train | test | accuracy | intent macro-F1 | route macro-F1 (top intent) | fit s | total s |",
        "| --: | --: | --: | --: | --: | --: | --: | --: |",
    ]
    for f in s["per_fold"]:
        lines.append(
            f"| {f['fold']} | {f['train']} | {f['test']} | {f['accuracy']:.4f} | {f['intent_macro_f1']:.4f} | "
            f"{f['route_macro_f1']:.4f} | {f['seconds_fit']} | {f['seconds']} |"
        )
    lines.append(
        "| mean ± sd | | | " + " | ".join(f"{spread[k]['mean']:.4f} ± {spread[k]['sd']:.4f}" for k in ("accuracy", "intent_macro_f1", "route_macro_f1")) + " | | |"
    )
    lines += ["", "## Intents", "", "Confusion matrix normalised by row: `nlu_confusion.png`.", ""]
    lines += _table(intents["labels"], intents, "intent")
    weak = [(label, sc) for label, sc in intents["labels"].items() if sc["f1"] < 0.8]
    lines += ["", "## Routes", "", "Route of the top intent (`bot.evaluation.route_of`):", ""]
    lines += _table(routes["labels"], routes, "route")
    lines += [
        "",
        "The assistant's decision: `bot.triage` on the intent ranking as a parse gives it (the classifier's top "
        f"{s['classifier_config'].get('ranking_length', 10)} after Rasa's `FallbackClassifier`, {json.dumps(s['fallback_config'])}; "
        "triage sets `nlu_fallback` aside and reads the ranking, so the fallback does not change the route), with "
        f"thresholds min confidence {t['min_confidence']}, min margin {t['min_margin']}, risk alert {t['risk_alert']}, "
        f"risk route {t['risk_route']} (`Settings.from_env()`). When triage is not confident it still returns a route "
        "(the one it then asks the practitioner to confirm); that route is the one counted.",
        "",
    ]
    lines += _table(triaged["labels"], triaged, "route")
    lines += ["", "## Most frequent confusions", "", "| true intent | predicted | examples |", "| --- | --- | --: |"]
    lines += [f"| {c['expected']} | {c['predicted']} | {c['count']} |" for c in s["confusions"][:25]]
    if weak:
        lines += ["", "Intents with F1 below 0.8:", ""]
        for label, sc in weak:
            mixed = [c for c in s["confusions"] if label in (c["expected"], c["predicted"])][:4]
            lines.append(
                f"- {label} (F1 {sc['f1']:.3f}): "
                + ", ".join(f"{c['expected']} → {c['predicted']} ×{c['count']}" for c in mixed)
            )
    lines += [
        "",
        "## Immediate-risk examples the assistant's decision did not route to immediate risk",
        "",
    ]
    lines += [f"- → {c['route']} (top intent {c['top_intent']}): {c['text']}" for c in s["immediate_risk_missed_by_triage"]] or ["- none"]
    if s["clinc_share_other"] is not None:
        lines += [
            "",
            "## CLINC150 test sample",
            "",
            f"`../shared/data/clinc150/test_sample.jsonl`: {s['clinc_messages']} utterances of CLINC's test splits, never "
            f"trained on. Routed to `other`: **{s['clinc_share_other']:.2%}**. The FallbackClassifier fired on "
            f"{s['clinc_nlu_fallback']} of them. Not routed to `other`:",
            "",
        ]
        lines += [f"- → {c['route']} (top intent {c['top_intent']}): {c['text']}" for c in s["clinc_misses"]] or ["- none"]
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    sys.exit(main())
