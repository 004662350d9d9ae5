"""Running the real assistant for tests: `python -m bot serve` on test ports, a frozen clock, its
own `var/` (conversations, records, key), and helpers to talk to it over the REST channel."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import urllib.request
import uuid
from pathlib import Path
from typing import Iterator

from bot.chat import post_message
from bot.config import PROJECT_ROOT
from bot.serve import MODEL, wait_until_ready

# The session's assistant (the ``server`` fixture); BOT_TEST_RASA_PORT moves it (actions: +50), for
# a second checkout's tests on the same machine.
RASA_PORT = int(os.environ.get("BOT_TEST_RASA_PORT", "5105"))
ACTIONS_PORT = RASA_PORT + 50
URL = f"http://127.0.0.1:{RASA_PORT}"
FROZEN_NOW = "2026-11-23T10:00:00+00:00"  # Monday 23 November 2026, 10:00


class ServerDidNotStart(RuntimeError):
    pass


@contextlib.contextmanager
def serving(
    var: Path, rasa_port: int = RASA_PORT, actions_port: int = ACTIONS_PORT, env: dict[str, str] | None = None
) -> Iterator[str]:
    """The assistant's processes, as `make serve` runs them, until the block ends; ``env`` adds
    settings (a channel's token and its fake server's URL, for example)."""
    if not MODEL.is_file():
        raise ServerDidNotStart(f"no trained model at {MODEL}: run `make train` first")
    var.mkdir(parents=True, exist_ok=True)
    env = {
        **os.environ,
        "BOT_VAR_DIR": str(var),
        "BOT_RASA_PORT": str(rasa_port),
        "BOT_ACTIONS_PORT": str(actions_port),
        "BOT_NOW": FROZEN_NOW,
        "BOT_WEBCHAT_PORT": str(rasa_port + 3000),
        **(env or {}),
    }
    log_path = var / f"serve-{rasa_port}.log"
    with log_path.open("a") as log:
        process = subprocess.Popen(
            [sys.executable, "-m", "bot", "serve"], cwd=PROJECT_ROOT, env=env,
            stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
        )  # fmt: skip
    url = f"http://127.0.0.1:{rasa_port}"
    try:
        for _ in range(60):  # up to 300 s, but give up as soon as a process has died
            if wait_until_ready(f"{url}/status", timeout=5):
                break
            if process.poll() is not None:
                raise ServerDidNotStart("the assistant exited:\n" + log_path.read_text()[-3000:])
        else:
            raise ServerDidNotStart("the assistant did not start:\n" + log_path.read_text()[-3000:])
        yield url
    finally:
        os.killpg(process.pid, signal.SIGTERM)
        process.wait(timeout=60)


@contextlib.contextmanager
def processes(commands: dict[str, list[str]], env: dict[str, str], logs: Path, ready: dict[str, str]) -> Iterator[None]:
    """Start every command at once (each logging to ``logs/<name>.log``), wait until every URL in
    ``ready`` answers 200, and stop them all when the block ends. ``ServerDidNotStart`` with the
    log's tail if one exits or is not ready within 300 s."""
    logs.mkdir(parents=True, exist_ok=True)
    started: dict[str, subprocess.Popen] = {}
    try:
        for name, command in commands.items():
            with (logs / f"{name}.log").open("a") as log:
                started[name] = subprocess.Popen(
                    command, cwd=PROJECT_ROOT, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
                )
        waiting = dict(ready)
        for _ in range(300):
            for name, url in list(waiting.items()):
                if wait_until_ready(url, timeout=0.5):
                    del waiting[name]
            if not waiting:
                break
            for name, process in started.items():
                if process.poll() is not None:
                    raise ServerDidNotStart(f"{name} exited:\n" + (logs / f"{name}.log").read_text()[-3000:])
        else:
            name = next(iter(waiting))
            raise ServerDidNotStart(f"{name} did not start:\n" + (logs / f"{name}.log").read_text()[-3000:])
        yield
    finally:
        for process in started.values():
            if process.poll() is None:
                os.killpg(process.pid, signal.SIGTERM)
        for process in started.values():
            try:
                process.wait(timeout=60)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait()


def new_sender() -> str:
    return f"test-{uuid.uuid4().hex[:10]}"


def replies(sender: str, message: str, url: str = URL) -> list[dict]:
    return post_message(url, sender, message)


def say(sender: str, message: str, url: str = URL) -> str:
    return "\n".join(reply.get("text") or "" for reply in post_message(url, sender, message))


def slots(sender: str, url: str = URL) -> dict:
    with urllib.request.urlopen(f"{url}/conversations/{sender}/tracker") as response:
        return json.loads(response.read())["slots"]
