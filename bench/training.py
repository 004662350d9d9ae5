"""How long ``rasa train`` takes: cold, cached, and ``--finetune`` after one new NLU example.

``python bench/training.py`` copies this project's training inputs (``config.yml``,
``domain.yml``, ``data/``, and a link to the spaCy pipeline under ``build/nlp/``) into a temporary
directory and times, wall clock, each ``python -m rasa train`` as a person runs it (the Python and
TensorFlow start-up included):

* **cold**: a fresh output directory and an empty training cache (Rasa keeps its cache in
  ``.rasa/cache`` of the working directory, or in ``RASA_CACHE_DIRECTORY``: here a fresh temporary
  directory), so every component is trained;
* **cached**: the same command again with nothing changed: Rasa's cache answers every component
  and only the model archive is written;
* **finetune**: one NLU example added (a new file, ``data/nlu/zz_bench_finetune.yml``, for an
  existing intent), then ``rasa train --finetune <the cold model>``: Rasa loads each trainable
  component from that model (``load`` with ``execution_context.is_finetuning``) and trains it on
  the changed data. The finetuned model is then loaded and asked to classify the new example, so a
  finetune that "worked" but left the classifier untrained would be caught.

With ``--baseline`` the same is done for Rasa's starter bot (``rasa init``; the project cached
by ``bench/conversations.py`` under ``build/bench/baseline/``). Results go to
``bench/results/training.md`` and ``.json``. Target: a cold ``rasa train`` of this assistant in
at most 3 minutes.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.conversations import baseline_project, bench_environment, rasa_version  # noqa: E402

TARGET_COLD_SECONDS = 180.0
NEW_EXAMPLE_INTENT = "professional_disagreement"
NEW_EXAMPLE = "the other agency will not move on their decision and I think they have the risk wrong"
BASELINE_NEW_EXAMPLE = ("greet", "hiya, good to see you")


def copy_project(source: Path, target: Path, spacy_pipeline: Path | None) -> Path:
    """The training inputs of ``source`` in ``target``; the spaCy pipeline linked, not copied."""
    target.mkdir(parents=True)
    for name in ("config.yml", "domain.yml"):
        shutil.copy2(source / name, target / name)
    shutil.copytree(source / "data", target / "data")
    if spacy_pipeline is not None:
        (target / "build" / "nlp").mkdir(parents=True)
        (target / "build" / "nlp" / spacy_pipeline.name).symlink_to(spacy_pipeline)
    return target


def add_example(project: Path, intent: str, text: str) -> None:
    """One more NLU example for an existing intent, in a file of its own."""
    nlu = project / "data" / "nlu" if (project / "data" / "nlu").is_dir() else project / "data"
    (nlu / "zz_bench_finetune.yml").write_text(
        f'version: "3.1"\nnlu:\n- intent: {intent}\n  examples: |\n    - {text}\n', encoding="utf-8"
    )


def train(project: Path, out: Path, cache: Path, log: Path, *extra: str) -> float:
    """Seconds of one ``rasa train`` in ``project``; raises with the log's end if it fails."""
    env = {**bench_environment(), "RASA_CACHE_DIRECTORY": str(cache), "PYTHONPATH": str(ROOT)}
    command = [sys.executable, "-m", "rasa", "train", "--out", str(out), *extra]
    started = time.perf_counter()
    with log.open("w") as output:
        code = subprocess.call(command, cwd=project, env=env, stdout=output, stderr=subprocess.STDOUT, start_new_session=True)
    seconds = time.perf_counter() - started
    if code != 0:
        raise RuntimeError(f"`{' '.join(command[1:])}` failed (exit {code}):\n" + log.read_text()[-4000:])
    return seconds


def classify(model: Path, project: Path, text: str) -> dict:
    """The intent the model gives ``text``, in a fresh process (as the Rasa server would load it)."""
    program = (
        "import asyncio, json, sys\n"
        "from rasa.core.agent import Agent\n"
        "agent = Agent.load(sys.argv[1])\n"
        "parsed = asyncio.run(agent.parse_message(sys.argv[2]))\n"
        "print(json.dumps(parsed['intent']))\n"
    )
    env = {**bench_environment(), "PYTHONPATH": str(ROOT)}
    done = subprocess.run(
        [sys.executable, "-c", program, str(model), text], cwd=project, env=env, capture_output=True, text=True
    )  # fmt: skip
    if done.returncode != 0:
        raise RuntimeError("the finetuned model could not be loaded:\n" + done.stderr[-3000:])
    return json.loads(done.stdout.strip().splitlines()[-1])


def measure(name: str, source: Path, spacy_pipeline: Path | None, example: tuple[str, str], work: Path) -> dict:
    project = copy_project(source, work / name / "project", spacy_pipeline)
    out, cache, logs = work / name / "models", work / name / "cache", work / name
    print(f"{name}: cold rasa train…", flush=True)
    cold = train(project, out, cache, logs / "cold.log", "--fixed-model-name", "cold")
    print(f"  {cold:.1f} s\n{name}: cached (nothing changed)…", flush=True)
    cached = train(project, out, cache, logs / "cached.log", "--fixed-model-name", "cached")
    print(f"  {cached:.1f} s\n{name}: --finetune after one new NLU example…", flush=True)
    add_example(project, *example)
    figures = {"cold_seconds": round(cold, 1), "cached_seconds": round(cached, 1), "new_example_intent": example[0]}
    try:
        finetune = train(project, out, cache, logs / "finetune.log", "--fixed-model-name", "finetuned", "--finetune", str(out / "cold.tar.gz"))
    except RuntimeError as error:  # a failed finetune is a result too (Rasa's own policies can fail it)
        last = [line for line in str(error).splitlines() if line.strip()][-1]
        print(f"  failed: {last}", flush=True)
        return {**figures, "finetune_seconds": None, "finetune_error": last}
    print(f"  {finetune:.1f} s", flush=True)
    intent = classify(out / "finetuned.tar.gz", project, example[1])
    return {
        **figures,
        "finetune_seconds": round(finetune, 1),
        "finetuned_model_classifies_new_example_as": intent.get("name"),
        "finetuned_confidence": round(float(intent.get("confidence") or 0.0), 3),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--baseline", action="store_true", help="also time Rasa's starter bot (rasa init)")
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "results")
    args = parser.parse_args(argv)
    spacy_pipeline = ROOT / "build" / "nlp" / "en_safeguarding"
    if not (spacy_pipeline / "meta.json").is_file():
        print(f"No spaCy pipeline at {spacy_pipeline}: run `make nlp` first.", file=sys.stderr)
        return 2

    results: dict[str, dict] = {}
    with tempfile.TemporaryDirectory(prefix="bench-training-") as temporary:
        work = Path(temporary)
        results["ours"] = measure("ours", ROOT, spacy_pipeline, (NEW_EXAMPLE_INTENT, NEW_EXAMPLE), work)
        if args.baseline:
            project = baseline_project(False, work)
            results["baseline"] = measure("baseline", project, None, BASELINE_NEW_EXAMPLE, work)

    ours = results["ours"]
    report = {
        "conditions": {"cores": os.cpu_count(), "rasa": rasa_version(), "python": platform.python_version()},
        "bots": results,
        "target_cold_seconds": TARGET_COLD_SECONDS,
        "cold_target_met": ours["cold_seconds"] <= TARGET_COLD_SECONDS,
        "command": "python bench/training.py" + (" --baseline" if args.baseline else ""),
    }
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "training.json").write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
    lines = [
        "# Training time",
        "",
        f"`python -m rasa train`, wall clock including start-up; {os.cpu_count()} cores, Rasa {rasa_version()}. "
        "Cold: empty cache (`RASA_CACHE_DIRECTORY`) and output directory. Cached: the same again, nothing changed. "
        "Finetune: one NLU example added, `--finetune` the cold model.",
        "",
        "| bot | cold | cached | `--finetune` | finetuned model on the new example |",
        "| --- | --- | --- | --- | --- |",
    ]
    for name, row in results.items():
        if row["finetune_seconds"] is None:
            lines.append(f"| {name} | {row['cold_seconds']} s | {row['cached_seconds']} s | failed | `{row['finetune_error']}` |")
            continue
        lines.append(
            f"| {name} | {row['cold_seconds']} s | {row['cached_seconds']} s | {row['finetune_seconds']} s | "
            f"`{row['finetuned_model_classifies_new_example_as']}` ({row['finetuned_confidence']}; added as `{row['new_example_intent']}`) |"
        )
    met = "met" if report["cold_target_met"] else "**not met**"
    lines += ["", f"Target: a cold `rasa train` of this assistant ≤ {TARGET_COLD_SECONDS:.0f} s: {ours['cold_seconds']} s, {met}.", "",
              f"Command: `{report['command']}`.", ""]  # fmt: skip
    (args.out / "training.md").write_text("\n".join(lines), encoding="utf-8")
    print("\n".join(lines))
    return 0 if report["cold_target_met"] else 1


if __name__ == "__main__":
    sys.exit(main())
