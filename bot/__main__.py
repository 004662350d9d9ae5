"""The operators' command line: ``python -m bot <command>`` (``--help`` on each)."""

from __future__ import annotations

import argparse
import logging
import os
import signal
import subprocess
import sys
from pathlib import Path

from bot.config import PROJECT_ROOT, Settings, SettingsError

DEFAULT_NLP_DIR = PROJECT_ROOT / "build" / "nlp" / "en_safeguarding"


def _nlp_build(args: argparse.Namespace, settings: Settings) -> int:
    import shutil
    import tempfile

    import spacy

    from bot.nlp.pipeline import build_to_disk
    from bot.procedures.loader import load_library

    library = load_library(settings.packs_dir)
    target: Path = args.out
    with tempfile.TemporaryDirectory(dir=target.parent if target.parent.exists() else None) as tmp:
        built = build_to_disk(library, Path(tmp) / "pipeline")
        fingerprint = spacy.load(built).meta["fingerprint"]
        current = None
        if (target / "meta.json").is_file():
            current = spacy.load(target).meta.get("fingerprint")
        if current == fingerprint:
            print(f"spaCy pipeline at {target} is up to date ({fingerprint}).")
            return 0
        if target.exists():
            shutil.rmtree(target)
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.move(str(built), str(target))
    print(f"spaCy pipeline built at {target} ({fingerprint}).")
    return 0


def _packs_check(args: argparse.Namespace, settings: Settings) -> int:
    from bot.procedures.loader import load_library

    library = load_library(args.dir or settings.packs_dir)
    for pack in library:
        print(f"{pack.id}: {len(pack.stages)} {pack.stage_term.lower()}s, covers {', '.join(s.value for s in pack.covers)}")
    return 0


def _serve(args: argparse.Namespace, settings: Settings) -> int:
    from bot.serve import serve

    return serve(settings)


def _endpoints(args: argparse.Namespace, settings: Settings) -> int:
    from bot.serve import write_credentials, write_endpoints

    print(write_endpoints(settings))
    print(write_credentials(settings))
    return 0


def _chat(args: argparse.Namespace, settings: Settings) -> int:
    from bot.chat import chat

    chat(args.url or settings.rasa_url, sender=args.sender)
    return 0


def _web(args: argparse.Namespace, settings: Settings) -> int:
    from bot.dashboard.app import main as serve_web

    return serve_web(settings)


def _run(args: argparse.Namespace, settings: Settings) -> int:
    """Serve in the background, wait until the assistant answers, chat in this terminal."""
    from bot.chat import chat
    from bot.serve import wait_until_ready

    log_path = settings.var_dir / "serve.log"
    settings.var_dir.mkdir(parents=True, exist_ok=True)
    with log_path.open("a", encoding="utf-8") as log:
        server = subprocess.Popen(
            [sys.executable, "-m", "bot", "serve"],
            cwd=PROJECT_ROOT,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    print(f"Starting the assistant (its log: {log_path}); loading the model takes about a minute…", flush=True)
    try:
        if not wait_until_ready(f"{settings.rasa_url}/status", timeout=300):
            print(f"The assistant did not start; see {log_path}.", file=sys.stderr)
            return 1
        chat(settings.rasa_url)
        return 0
    finally:
        if server.poll() is None:
            os.killpg(server.pid, signal.SIGTERM)
            try:
                server.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(server.pid, signal.SIGKILL)


def parser() -> argparse.ArgumentParser:
    main = argparse.ArgumentParser(prog="python -m bot", description=__doc__)
    commands = main.add_subparsers(dest="command", required=True, metavar="COMMAND")

    nlp = commands.add_parser("nlp", help="the project's spaCy pipeline")
    nlp_commands = nlp.add_subparsers(dest="nlp_command", required=True, metavar="ACTION")
    build = nlp_commands.add_parser("build", help="build it from bot/nlp/patterns.yml and the packs")
    build.add_argument("--out", type=Path, default=DEFAULT_NLP_DIR, help="directory (default: %(default)s)")
    build.set_defaults(handler=_nlp_build)

    packs = commands.add_parser("packs", help="procedure packs")
    packs_commands = packs.add_subparsers(dest="packs_command", required=True, metavar="ACTION")
    check = packs_commands.add_parser("check", help="validate every pack and list them")
    check.add_argument("--dir", type=Path, help="packs directory (default: BOT_PACKS_DIR)")
    check.set_defaults(handler=_packs_check)

    serve = commands.add_parser("serve", help="run the Rasa server and the action server until stopped")
    serve.set_defaults(handler=_serve)

    endpoints = commands.add_parser(
        "endpoints", help="write Rasa's endpoints.yml and credentials.yml from the settings into BOT_VAR_DIR"
    )
    endpoints.set_defaults(handler=_endpoints)

    chat = commands.add_parser("chat", help="chat with the running assistant in this terminal")
    chat.add_argument("--url", help="Rasa server URL (default: from BOT_RASA_HOST/BOT_RASA_PORT)")
    chat.add_argument("--sender", help="conversation id (default: a new one)")
    chat.set_defaults(handler=_chat)

    web = commands.add_parser(
        "web", help="serve the web app (web chat at /, dashboard at /dashboard/) on 127.0.0.1:BOT_WEBCHAT_PORT"
    )
    web.set_defaults(handler=_web)

    run = commands.add_parser("run", help="serve in the background and chat in this terminal")
    run.set_defaults(handler=_run)

    from bot.records.cli import add_commands

    add_commands(commands)
    from bot.nudges.cli import add_commands as add_nudge_commands

    add_nudge_commands(commands)
    return main


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    try:
        settings = Settings.from_env()
    except SettingsError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    logging.basicConfig(level=settings.log_level, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    from sqlalchemy.exc import OperationalError

    from bot.procedures.loader import PackError
    from bot.records.cli import NotPermitted
    from bot.records.crypto import RecordsKeyError
    from bot.records.store import RecordError

    try:
        return args.handler(args, settings)
    except (PackError, RecordError, NotPermitted, RecordsKeyError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    except OperationalError as error:
        print(f"error: the records database cannot be used: {error.orig}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
