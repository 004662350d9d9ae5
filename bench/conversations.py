"""Whole conversations through the REST channel: latency, throughput and the Rasa server's memory,
for this assistant and, in the same run, Rasa's own starter bot (``rasa init``) as the baseline.

``python bench/conversations.py`` does, on this machine and in this order:

1. **The baseline.** ``python -m rasa init --no-prompt`` in a temporary directory (which trains
   the starter bot's model with its default recipe) and keeps the project and its model under
   ``build/bench/baseline/rasa-<version>/``, so a second run reuses it (``--retrain-baseline``
   trains again). It is served as ``rasa run --enable-api`` with the REST channel twice:
   ``baseline`` with its default tracker store (**in memory**: what ``rasa init`` gives, and
   what the targets compare against) and ``baseline-sql``, the same bot on a SQLite tracker
   store like ours, so the cost of storing conversations is visible on both sides.
2. **This assistant**, exactly as ``python -m bot serve`` runs it: the action server, the Rasa
   server on its SQLite tracker store, the nudge scheduler and the web app, on a fresh
   ``BOT_VAR_DIR`` with the clock frozen (``BOT_NOW``, as ``tests/serving.py``) so due dates
   are stable.
3. **Memory after loading**: the resident set (``VmRSS``, the process and any children) of each
   Rasa server once ``/status`` answers, before any message.
4. **Latency and throughput** at 1, 10 and 50 concurrent practitioners, the bots taking turns at
   each level: each practitioner (an asyncio task on one ``aiohttp`` session) runs whole
   conversations, each as a new sender, until the level has sent ``--level-messages`` messages
   (and at least two conversations per practitioner). Every ``POST /webhooks/rest/webhook`` is
   timed from send to the last byte of the answer; the median, p90 and p99 per message and the
   messages per second over the level's wall time are reported, with the CPU time the Rasa
   server (and our action server) used per message, from ``/proc``: on a shared machine other
   work changes latency a lot and CPU per message little.
5. **Memory after ``--messages`` messages**: each bot is sent whole conversations at 10
   concurrent until it has answered that many in total (the levels included), then its Rasa
   server's resident set is read again.

Our conversation (16 messages) is the one a practitioner with a disagreement has: the worry,
the partnership button, opening an escalation record (a made-up agency case reference such as
``ASC-100042``, never a name) with every question of the form answered, "not resolved" with the
stage's outcome and the other agency's position recorded, the record moved to the next stage,
and "my escalations". The action server writes to the records database at the opening and at
the move. Every answer is checked, so a conversation that went wrong is counted as failed, never
timed as if it had worked. The baseline's conversation (6 messages) is the starter bot's own
stories: greeting, mood, "did that help?", "are you a bot?", goodbye.

Results: ``bench/results/conversations.md`` (tables, targets met or not, errors in the servers'
logs), ``.json`` and ``conversations.png``. The client runs on the same 2 cores as the servers, equally for all bots.
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import json
import os
import platform
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Awaitable, Callable

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import aiohttp  # noqa: E402
import yaml  # noqa: E402

from bot.serve import MODEL, wait_until_ready  # noqa: E402
from tests.serving import FROZEN_NOW  # noqa: E402

# Ports of this benchmark (5600-5699): ours, its action server and web app; the two baselines.
OUR_RASA_PORT, OUR_ACTIONS_PORT, OUR_WEB_PORT = 5601, 5651, 5691
BASELINE_PORTS = {"baseline": 5611, "baseline-sql": 5612}
LEVELS = (1, 10, 50)
MEMORY_CONCURRENCY = 10
PARTNERSHIPS = ["bury-adults", "bury-children", "warrington-adults", "cambs-peterborough-adults", "south-tyneside"]
CHILDREN = {"bury-children", "south-tyneside"}
BASELINE_CACHE = ROOT / "build" / "bench" / "baseline"

# Targets, from the issue: against the starter bot as `rasa init` makes it, in the same run.
THROUGHPUT_FACTOR_AT_10 = 2.0
ALONE_MEDIAN_MS = 50.0
MEMORY_ABOVE_BASELINE = 0.15
MEMORY_GROWTH = 0.05


class ConversationWentWrong(RuntimeError):
    """An answer was not what the conversation expects at that step."""


# Talking to a bot ---------------------------------------------------------------------------


@dataclass
class Client:
    """Sends messages through a bot's REST channel and times each one."""

    session: aiohttp.ClientSession
    url: str
    latencies_ms: list[float] = field(default_factory=list)

    async def say(self, sender: str, message: str) -> str:
        """The bot's answer to ``message`` as one text (replies joined by newlines)."""
        started = time.perf_counter()
        async with self.session.post(
            f"{self.url}/webhooks/rest/webhook", json={"sender": sender, "message": message}
        ) as response:
            body = await response.read()
        self.latencies_ms.append((time.perf_counter() - started) * 1000)
        if response.status != 200:
            raise ConversationWentWrong(f"HTTP {response.status} for step {len(self.latencies_ms)}")
        return "\n".join(reply.get("text") or "" for reply in json.loads(body or b"[]"))


def expect(answer: str, *wanted: str) -> str:
    if not any(text in answer for text in wanted):
        raise ConversationWentWrong(f"expected {wanted[0]!r}, got {answer[:120]!r}")
    return answer


async def our_conversation(client: Client, sender: str, number: int) -> None:
    """A disagreement taken to an escalation record that moves on a stage (16 messages)."""
    partnership = PARTNERSHIPS[number % len(PARTNERSHIPS)]
    say = client.say
    expect(await say(sender, "the other agency has closed the case and I disagree with their decision"), "Which safeguarding partnership")
    await say(sender, '/choose_partnership{"partnership": "%s"}' % partnership)
    asked = await say(sender, "/open_record")
    if "child (under 18) or an adult" in asked:
        asked = await say(sender, '/inform_subject{"subject": "%s"}' % ("children" if partnership in CHILDREN else "adults"))
    expect(asked, "case reference")
    expect(await say(sender, f"ASC-{100000 + number % 900000}"), "Which agency or team")
    expect(await say(sender, "children's social care assessment team"), "Which is it mostly about?")
    expect(await say(sender, '/inform_category{"category": "step-up-step-down"}'), "what is the disagreement")
    expect(await say(sender, "the case was closed although the home conditions have not changed"), "What outcome do you want")
    expect(await say(sender, "the case to stay open with a plan"), "What evidence supports")
    opened = await say(sender, "two home visits in November found the same conditions")
    if "Which agency and team" in opened:
        await say(sender, "health visiting")
        opened = await say(sender, "health visitor")
    expect(opened, "Opened ESC-")
    reference = opened.split()[1]
    expect(await say(sender, "not resolved"), "What happened at")
    expect(await say(sender, "we talked, they will not reopen it"), "other agency's position")
    expect(await say(sender, "they say the threshold for reopening is not met"), "confirmed in writing")
    expect(await say(sender, "/affirm"), f"{reference} moved to")
    expect(await say(sender, "my escalations"), reference)


async def baseline_conversation(client: Client, sender: str, number: int) -> None:
    """The starter bot's stories: greeting, mood, help, bot challenge, goodbye (6 messages)."""
    say = client.say
    expect(await say(sender, "hello there"), "How are you?")
    expect(await say(sender, "I am sad"), "Did that help you?")
    expect(await say(sender, "yes"), "Great, carry on!")
    expect(await say(sender, "are you a bot?"), "I am a bot")
    expect(await say(sender, "I am great"), "Great, carry on!")
    expect(await say(sender, "bye"), "Bye")


Conversation = Callable[[Client, str, int], Awaitable[None]]


@dataclass
class Run:
    """What one bot answered at one concurrency level."""

    concurrency: int
    latencies_ms: list[float]
    seconds: float
    conversations: int
    failed: list[str]

    def figures(self) -> dict:
        ordered = sorted(self.latencies_ms)
        return {
            "concurrency": self.concurrency,
            "messages": len(ordered),
            "conversations": self.conversations,
            "failed_conversations": len(self.failed),
            "seconds": round(self.seconds, 2),
            "p50_ms": round(statistics.median(ordered), 1),
            "p90_ms": round(percentile(ordered, 0.90), 1),
            "p99_ms": round(percentile(ordered, 0.99), 1),
            "max_ms": round(ordered[-1], 1),
            "messages_per_second": round(len(ordered) / self.seconds, 1),
        }


def percentile(ordered: list[float], share: float) -> float:
    """Nearest-rank percentile of sorted values (as the other benchmarks here)."""
    return ordered[min(len(ordered) - 1, int(round(share * (len(ordered) - 1))))]


async def drive(url: str, conversation: Conversation, concurrency: int, messages: int, prefix: str, first: int = 0) -> Run:
    """``concurrency`` practitioners run whole conversations until ``messages`` are sent, each
    practitioner at least two (one when ``messages`` is 0: a warm-up)."""
    timeout = aiohttp.ClientTimeout(total=300)
    connector = aiohttp.TCPConnector(limit=concurrency)
    minimum = 2 if messages else 1
    async with aiohttp.ClientSession(timeout=timeout, connector=connector) as session:
        client = Client(session, url)
        failed: list[str] = []
        numbers = itertools.count(first)  # each conversation a new sender

        async def practitioner() -> int:
            runs = 0
            while runs < minimum or len(client.latencies_ms) < messages:
                number = next(numbers)
                try:
                    await conversation(client, f"{prefix}-{number}", number)
                except (ConversationWentWrong, aiohttp.ClientError, asyncio.TimeoutError) as error:
                    failed.append(f"{prefix}-{number}: {error}")
                runs += 1
            return runs

        started = time.perf_counter()
        runs = await asyncio.gather(*(practitioner() for _ in range(concurrency)))
        seconds = time.perf_counter() - started
    return Run(concurrency, client.latencies_ms, seconds, sum(runs), failed)


# Serving the bots -----------------------------------------------------------------------------


def descendants(pid: int) -> list[int]:
    """``pid`` and every process under it."""
    found, pending = [], [pid]
    while pending:
        current = pending.pop()
        found.append(current)
        for task in Path(f"/proc/{current}/task").glob("*"):
            try:
                pending.extend(int(child) for child in (task / "children").read_text().split())
            except OSError:
                continue
    return found


def command_line(pid: int) -> list[str]:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().decode(errors="replace").split("\0")
    except OSError:
        return []


def cpu_seconds(pid: int) -> float:
    """User and system CPU time used so far by ``pid`` and its children (from /proc)."""
    ticks = 0
    for process in descendants(pid):
        try:
            fields = Path(f"/proc/{process}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        ticks += int(fields[11]) + int(fields[12])  # utime, stime
    return ticks / os.sysconf("SC_CLK_TCK")


def rss_mib(pid: int) -> float:
    """Resident set of ``pid`` and its children, in MiB (VmRSS, from /proc)."""
    total_kib = 0
    for process in descendants(pid):
        try:
            for line in Path(f"/proc/{process}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    total_kib += int(line.split()[1])
        except OSError:
            continue
    return round(total_kib / 1024, 1)


@dataclass
class Served:
    """A bot being served: its URL, the process group to stop, and its Rasa server's pid."""

    name: str
    url: str
    process: subprocess.Popen
    rasa_pid: int
    conversation: Conversation
    log: Path
    action_server_pid: int | None = None

    def stop(self) -> None:
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout=60)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait()


def wait_for(process: subprocess.Popen, url: str, log: Path, timeout: float = 600) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if wait_until_ready(f"{url}/status", timeout=5):
            return
        if process.poll() is not None:
            raise RuntimeError(f"{url} exited before answering:\n" + log.read_text()[-3000:])
    raise RuntimeError(f"{url} did not answer within {timeout:.0f} s:\n" + log.read_text()[-3000:])


def bench_environment() -> dict[str, str]:
    env = dict(os.environ)
    env.update({"RASA_TELEMETRY_ENABLED": "false", "TF_CPP_MIN_LOG_LEVEL": "2", "SQLALCHEMY_SILENCE_UBER_WARNING": "1"})
    return env


def rasa_version() -> str:
    from importlib.metadata import version

    return version("rasa")


def baseline_project(retrain: bool, work: Path) -> Path:
    """The starter bot's project with its trained model, made once per Rasa version."""
    cached = BASELINE_CACHE / f"rasa-{rasa_version()}"
    if retrain:
        shutil.rmtree(cached, ignore_errors=True)
    if list(cached.glob("models/*.tar.gz")):
        return cached
    project = work / "starter"
    project.mkdir()
    env = {**bench_environment(), "RASA_CACHE_DIRECTORY": str(work / "rasa-cache")}
    print("Creating and training the starter bot (rasa init --no-prompt)…", flush=True)
    started = time.perf_counter()
    with (work / "rasa-init.log").open("w") as log:
        code = subprocess.call(
            [sys.executable, "-m", "rasa", "init", "--no-prompt", "--init-dir", str(project)],
            cwd=project, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
        )  # fmt: skip
    if code != 0 or not list(project.glob("models/*.tar.gz")):
        raise RuntimeError("rasa init failed:\n" + (work / "rasa-init.log").read_text()[-3000:])
    print(f"  trained in {time.perf_counter() - started:.0f} s", flush=True)
    cached.parent.mkdir(parents=True, exist_ok=True)
    shutil.copytree(project, cached, ignore=shutil.ignore_patterns(".rasa", "__pycache__"))
    return cached


def serve_baseline(name: str, project: Path, work: Path) -> Served:
    """The starter bot as ``rasa run --enable-api`` serves it (REST channel on)."""
    port = BASELINE_PORTS[name]
    model = sorted(project.glob("models/*.tar.gz"))[-1]
    command = [
        sys.executable, "-m", "rasa", "run", "--enable-api", "--interface", "127.0.0.1", "--port", str(port),
        "--model", str(model), "--credentials", str(project / "credentials.yml"),
    ]  # fmt: skip
    if name == "baseline-sql":
        endpoints = work / f"{name}-endpoints.yml"
        store = {"type": "SQL", "dialect": "sqlite", "db": str(work / f"{name}-conversations.db")}
        endpoints.write_text(yaml.safe_dump({"tracker_store": store}), encoding="utf-8")
        command += ["--endpoints", str(endpoints)]
    log = work / f"{name}.log"
    with log.open("w") as out:
        process = subprocess.Popen(
            command, cwd=project, env=bench_environment(), stdout=out, stderr=subprocess.STDOUT, start_new_session=True
        )
    served = Served(name, f"http://127.0.0.1:{port}", process, process.pid, baseline_conversation, log)
    try:
        wait_for(process, served.url, log)
    except BaseException:
        served.stop()
        raise
    return served


def serve_ours(work: Path) -> Served:
    """This assistant as ``python -m bot serve`` runs it, on a fresh var/ and a frozen clock."""
    var = work / "var"
    env = {
        **bench_environment(), "PYTHONPATH": str(ROOT), "BOT_VAR_DIR": str(var), "BOT_NOW": FROZEN_NOW,
        "BOT_RASA_PORT": str(OUR_RASA_PORT), "BOT_ACTIONS_PORT": str(OUR_ACTIONS_PORT), "BOT_WEBCHAT_PORT": str(OUR_WEB_PORT),
    }  # fmt: skip
    var.mkdir()
    log = work / "ours.log"
    with log.open("w") as out:
        process = subprocess.Popen(
            [sys.executable, "-m", "bot", "serve"], cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True
        )
    url = f"http://127.0.0.1:{OUR_RASA_PORT}"
    served = Served("ours", url, process, 0, our_conversation, log)
    try:
        wait_for(process, url, log)
        for pid in descendants(process.pid):
            arguments = command_line(pid)
            if arguments[1:4] in (["-m", "rasa", "run"], ["-m", "bot.rasa_server", "run"]):
                served.rasa_pid = pid
            elif arguments[1:3] == ["-m", "rasa_sdk"]:
                served.action_server_pid = pid
        if not served.rasa_pid:
            raise RuntimeError("the Rasa server's process was not found under `python -m bot serve`")
    except BaseException:
        served.stop()
        raise
    return served


# The run ------------------------------------------------------------------------------------


def run_benchmark(bots: list[Served], level_messages: int, total_messages: int) -> dict:
    results: dict[str, dict] = {bot.name: {"levels": {}, "memory": {}, "failures": []} for bot in bots}
    for bot in bots:
        results[bot.name]["memory"]["loaded_mib"] = rss_mib(bot.rasa_pid)
        if bot.action_server_pid:
            results[bot.name]["memory"]["action_server_loaded_mib"] = rss_mib(bot.action_server_pid)
    sent = {bot.name: 0 for bot in bots}
    for bot in bots:  # one conversation each first: the first answer of a server loads lazily
        warm = asyncio.run(drive(bot.url, bot.conversation, 1, 0, f"warm-{bot.name}"))
        results[bot.name]["failures"] += warm.failed
        sent[bot.name] += len(warm.latencies_ms)
        results[bot.name]["messages_per_conversation"] = len(warm.latencies_ms)
        results[bot.name]["memory"]["warm_mib"] = rss_mib(bot.rasa_pid)
    for concurrency in LEVELS:
        for bot in bots:
            used = {"rasa": cpu_seconds(bot.rasa_pid), "actions": cpu_seconds(bot.action_server_pid) if bot.action_server_pid else 0.0}
            run = asyncio.run(drive(bot.url, bot.conversation, concurrency, level_messages, f"c{concurrency}-{bot.name}", first=sent[bot.name]))
            figures = run.figures()
            # CPU per message, by process: what the machine's other load does not change much.
            figures["rasa_cpu_ms_per_message"] = round((cpu_seconds(bot.rasa_pid) - used["rasa"]) * 1000 / figures["messages"], 1)
            if bot.action_server_pid:
                figures["action_server_cpu_ms_per_message"] = round((cpu_seconds(bot.action_server_pid) - used["actions"]) * 1000 / figures["messages"], 1)
            results[bot.name]["levels"][str(concurrency)] = figures
            results[bot.name]["failures"] += run.failed
            sent[bot.name] += figures["messages"]
            print(
                f"{bot.name:>12} × {concurrency:>2}: p50 {figures['p50_ms']:>7} ms  p99 {figures['p99_ms']:>7} ms  "
                f"{figures['messages_per_second']:>6} msg/s  Rasa CPU {figures['rasa_cpu_ms_per_message']:>5} ms/msg  "
                f"({figures['messages']} messages, {len(run.failed)} failed)",
                flush=True,
            )
    for bot in bots:
        remaining = total_messages - sent[bot.name]
        if remaining > 0:
            print(f"{bot.name}: {remaining} more messages at {MEMORY_CONCURRENCY} concurrent for the memory figure…", flush=True)
            run = asyncio.run(drive(bot.url, bot.conversation, MEMORY_CONCURRENCY, remaining, f"m-{bot.name}", first=sent[bot.name]))
            results[bot.name]["failures"] += run.failed
            sent[bot.name] += len(run.latencies_ms)
        memory = results[bot.name]["memory"]
        memory["messages"] = sent[bot.name]
        memory["after_messages_mib"] = rss_mib(bot.rasa_pid)
        memory["growth_percent"] = round((memory["after_messages_mib"] / memory["loaded_mib"] - 1) * 100, 1)
        memory["growth_from_warm_percent"] = round((memory["after_messages_mib"] / memory["warm_mib"] - 1) * 100, 1)
        if bot.action_server_pid:
            memory["action_server_after_messages_mib"] = rss_mib(bot.action_server_pid)
    return results


def targets(results: dict) -> list[dict]:
    """Each target of the issue with the measured value and whether it is met."""
    ours, base = results.get("ours"), results.get("baseline")
    if not ours or not base:
        return []
    o10, b10 = ours["levels"]["10"], base["levels"]["10"]
    rows = [
        {"target": f"throughput at 10 concurrent ≥ {THROUGHPUT_FACTOR_AT_10:g}× the starter bot's",
         "measured": f"{o10['messages_per_second']} vs {b10['messages_per_second']} msg/s ({o10['messages_per_second'] / b10['messages_per_second']:.2f}×)",
         "met": o10["messages_per_second"] >= THROUGHPUT_FACTOR_AT_10 * b10["messages_per_second"]},
        {"target": "p99 at 10 concurrent no worse than the starter bot's",
         "measured": f"{o10['p99_ms']} vs {b10['p99_ms']} ms", "met": o10["p99_ms"] <= b10["p99_ms"]},
        {"target": f"median ≤ {ALONE_MEDIAN_MS:g} ms for one practitioner alone",
         "measured": f"{ours['levels']['1']['p50_ms']} ms", "met": ours["levels"]["1"]["p50_ms"] <= ALONE_MEDIAN_MS},
        {"target": f"Rasa server memory after loading ≤ {1 + MEMORY_ABOVE_BASELINE:.2f}× the starter bot's",
         "measured": f"{ours['memory']['loaded_mib']} vs {base['memory']['loaded_mib']} MiB ({ours['memory']['loaded_mib'] / base['memory']['loaded_mib']:.2f}×)",
         "met": ours["memory"]["loaded_mib"] <= (1 + MEMORY_ABOVE_BASELINE) * base["memory"]["loaded_mib"]},
        {"target": f"memory growth over {ours['memory']['messages']:,} messages < {MEMORY_GROWTH:.0%}",
         "measured": f"{ours['memory']['growth_percent']}% from loaded ({ours['memory']['growth_from_warm_percent']}% from after the first conversation)",
         "met": ours["memory"]["growth_percent"] < MEMORY_GROWTH * 100},
    ]  # fmt: skip
    return rows


LABELS = {
    "ours": "this assistant (SQLite tracker store, action server writing records)",
    "baseline": "starter bot, `rasa init` as made (in-memory tracker store)",
    "baseline-sql": "starter bot on a SQLite tracker store",
}


def write_markdown(path: Path, report: dict) -> None:
    results, conditions = report["bots"], report["conditions"]
    lines = [
        "# Whole conversations through the REST channel",
        "",
        f"{conditions['cores']} cores, Rasa {conditions['rasa']}, Python {conditions['python']}; client (aiohttp) on the same machine. "
        f"Each level sends at least {conditions['level_messages']:,} messages per bot (whole conversations, each a new sender); "
        "the bots take turns at each level. Latency is per message, send to last byte of the answer. "
        f"Load average (1, 5, 15 min) before: {conditions['load_average_before']}, after: {conditions['load_average_after']} "
        "(the machine is shared: other work running at the same time slows every bot).",
        "",
        "| bot | concurrent | messages | p50 | p90 | p99 | msg/s | Rasa server CPU per message | action server CPU per message | failed conversations |",
        "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |",
    ]
    for name, bot in results.items():
        for level in bot["levels"].values():
            actions = f"{level['action_server_cpu_ms_per_message']} ms" if "action_server_cpu_ms_per_message" in level else "-"
            lines.append(
                f"| {name} | {level['concurrency']} | {level['messages']:,} | {level['p50_ms']} ms | {level['p90_ms']} ms | "
                f"{level['p99_ms']} ms | {level['messages_per_second']} | {level['rasa_cpu_ms_per_message']} ms | {actions} | "
                f"{level['failed_conversations']} |"
            )
    lines += [
        "",
        "## The Rasa server's memory (VmRSS, with children)",
        "",
        "| bot | after loading | after the first conversation | after messages | messages | growth from loaded |",
        "| --- | --- | --- | --- | --- | --- |",
    ]
    for name, bot in results.items():
        memory = bot["memory"]
        lines.append(
            f"| {name} | {memory['loaded_mib']} MiB | {memory['warm_mib']} MiB | {memory['after_messages_mib']} MiB | "
            f"{memory['messages']:,} | {memory['growth_percent']}% |"
        )
    if "ours" in results and "action_server_loaded_mib" in results["ours"]["memory"]:
        memory = results["ours"]["memory"]
        lines += ["", f"Our action server (a separate process, not in the figures above): {memory['action_server_loaded_mib']} MiB after loading, "
                  f"{memory['action_server_after_messages_mib']} MiB after {memory['messages']:,} messages."]  # fmt: skip
    lines += ["", "## Targets", "", "| target | measured | met |", "| --- | --- | --- |"]
    lines += [f"| {row['target']} | {row['measured']} | {'met' if row['met'] else '**not met**'} |" for row in report["targets"]]
    lines += ["", "## The bots", ""]
    lines += [
        f"- **{name}**: {LABELS[name]}; {bot['messages_per_conversation']} messages a conversation; "
        f"{bot.get('server_log_errors', 0)} errors in its servers' log."
        for name, bot in results.items()
    ]
    lines += [
        "",
        "![latency and throughput](conversations.png)",
        "",
        f"Command: `{conditions['command']}`.",
        "",
    ]
    path.write_text("\n".join(lines), encoding="utf-8")


def write_plot(path: Path, results: dict) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    names = list(results)
    figure, (latency, throughput) = plt.subplots(1, 2, figsize=(11, 4))
    width = 0.8 / len(names)
    for offset, name in enumerate(names):
        levels = results[name]["levels"]
        x = [index + offset * width for index in range(len(levels))]
        latency.bar(x, [level["p50_ms"] for level in levels.values()], width, label=f"{name} p50")
        latency.scatter(x, [level["p99_ms"] for level in levels.values()], marker="_", s=200, color="black", zorder=3)
        throughput.bar(x, [level["messages_per_second"] for level in levels.values()], width, label=name)
    latency.set_yscale("log")  # 1 and 50 concurrent differ a hundredfold
    for axes, title, unit in ((latency, "latency per message (bar p50, dash p99)", "ms, log scale"), (throughput, "throughput", "messages / s")):
        axes.set_xticks([index + width * (len(names) - 1) / 2 for index in range(len(LEVELS))])
        axes.set_xticklabels([f"{level} concurrent" for level in LEVELS])
        axes.set_title(title)
        axes.set_ylabel(unit)
        axes.legend(fontsize="small")
    figure.tight_layout()
    figure.savefig(path, dpi=90)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--messages", type=int, default=10_000, help="messages each bot has answered when memory is read again")
    parser.add_argument("--level-messages", type=int, default=1_000, help="messages per bot at each concurrency level (at least)")
    parser.add_argument("--baselines", default="baseline,baseline-sql", help="which baselines to serve: baseline, baseline-sql, or none")
    parser.add_argument("--retrain-baseline", action="store_true", help="train the starter bot again instead of reusing build/bench/baseline/")
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "results")
    args = parser.parse_args(argv)
    baselines = [name for name in args.baselines.split(",") if name in BASELINE_PORTS]
    # Stopped by a signal: leave through the `finally` that stops the servers.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    load_before = os.getloadavg()
    if not MODEL.is_file():
        print(f"No trained model at {MODEL}: run `make train` first.", file=sys.stderr)
        return 2

    with tempfile.TemporaryDirectory(prefix="bench-conversations-") as temporary:
        work = Path(temporary)
        project = baseline_project(args.retrain_baseline, work) if baselines else None
        bots: list[Served] = []
        try:
            for name in baselines:
                print(f"Starting {name}…", flush=True)
                bots.append(serve_baseline(name, project, work))
            print("Starting this assistant (python -m bot serve)…", flush=True)
            bots.insert(0, serve_ours(work))
            results = run_benchmark(bots, args.level_messages, args.messages)
        finally:
            for bot in bots:
                bot.stop()
        for bot in bots:  # before the temporary directory goes: what the servers logged as errors
            errors = [line for line in bot.log.read_text(errors="replace").splitlines() if " ERROR " in line]
            results[bot.name]["server_log_errors"] = len(errors)
            for line in errors[:5]:
                print(f"{bot.name} logged: {line[:300]}", file=sys.stderr)

    for name, bot in results.items():
        bot["label"] = LABELS[name]
        for failure in bot["failures"][:5]:
            print(f"{name}: failed conversation {failure}", file=sys.stderr)
    report = {
        "conditions": {
            "cores": os.cpu_count(), "rasa": rasa_version(), "python": platform.python_version(),
            "load_average_before": [round(x, 2) for x in load_before], "load_average_after": [round(x, 2) for x in os.getloadavg()],
            "level_messages": args.level_messages, "messages": args.messages, "levels": list(LEVELS),
            "command": "python bench/conversations.py" + "".join(f" {arg}" for arg in (argv if argv is not None else sys.argv[1:])),
        },  # fmt: skip
        "bots": results,
        "targets": [],
    }
    report["targets"] = targets(results)
    for bot in results.values():
        bot["failures"] = bot["failures"][:20]
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "conversations.json").write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
    write_markdown(args.out / "conversations.md", report)
    write_plot(args.out / "conversations.png", results)
    print((args.out / "conversations.md").read_text(encoding="utf-8"))
    return 1 if any(bot["failures"] for bot in results.values()) else 0


if __name__ == "__main__":
    sys.exit(main())
