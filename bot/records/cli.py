"""Operators' commands on the records: ``python -m bot records list|show|export|purge`` and
``python -m bot db upgrade``. Free text (what practitioners wrote about a case) is left out unless
``--free-text`` is asked for and the partnership permits it (``BOT_ALLOW_FREE_TEXT_EXPORT=1``);
every export, view with free text and purge is written to the audit trail.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import sys
from typing import Any, Iterable, TextIO

from sqlalchemy import select

from bot.clock import clock_for
from bot.config import Settings
from bot.records import store
from bot.records.db import open_database
from bot.records.models import Escalation

OPERATOR = "operator:cli"
FREE_TEXT_FIELDS = ("summary", "evidence", "desired_outcome", "outcome", "outcome_for_person")
COLUMNS = (
    "reference", "partnership", "procedure_version", "subject", "case_reference", "status",
    "category", "other_agency", "opened_at", "current_stage", "current_stage_due_on",
    "stages_reached", "closed_at",
)  # fmt: skip


class NotPermitted(RuntimeError):
    pass


def _iso(value: Any) -> Any:
    return value.isoformat() if hasattr(value, "isoformat") else value


def row(escalation: Escalation, *, free_text: bool) -> dict[str, Any]:
    """One escalation as a flat row: identifiers, stage and dates; free text only if asked."""
    seen = store.view(escalation)
    current = seen.current_stage
    data = {
        "reference": seen.reference,
        "partnership": seen.partnership,
        "procedure_version": seen.procedure_version,
        "subject": seen.subject,
        "case_reference": seen.case_reference,
        "status": seen.status,
        "category": seen.category,
        "other_agency": seen.other_agency,
        "opened_at": _iso(seen.opened_at),
        "current_stage": current.title if current else None,
        "current_stage_due_on": _iso(current.due_on) if current else None,
        "stages_reached": len(seen.stages),
        "closed_at": _iso(seen.closed_at),
    }
    if free_text:
        data.update({field: getattr(seen, field) for field in FREE_TEXT_FIELDS})
    return data


def _check_permitted(free_text: bool, environ: dict[str, str]) -> None:
    if free_text and environ.get("BOT_ALLOW_FREE_TEXT_EXPORT", "").strip() not in ("1", "true", "yes"):
        raise NotPermitted(
            "Free text is not exported unless the partnership permits it: set "
            "BOT_ALLOW_FREE_TEXT_EXPORT=1 for this command if it does."
        )


def _select(partnership: str | None, status: str | None):
    query = select(Escalation).order_by(Escalation.opened_at, Escalation.id)
    if partnership:
        query = query.where(Escalation.partnership == partnership)
    if status:
        query = query.where(Escalation.status == status)
    return query


def list_records(args: argparse.Namespace, settings: Settings, out: TextIO) -> int:
    database = open_database(settings)
    with database.session() as session:
        rows = [row(e, free_text=False) for e in session.scalars(_select(args.partnership, args.status))]
    if not rows:
        out.write("No escalations.\n")
        return 0
    out.write(f"{'reference':<11} {'partnership':<26} {'status':<9} {'stage':<40} {'due':<10} opened\n")
    for r in rows:
        out.write(
            f"{r['reference']:<11} {r['partnership']:<26} {r['status']:<9} "
            f"{(r['current_stage'] or '')[:40]:<40} {r['current_stage_due_on'] or '-':<10} {r['opened_at'][:10]}\n"
        )
    return 0


def show_record(args: argparse.Namespace, settings: Settings, out: TextIO, environ: dict[str, str]) -> int:
    _check_permitted(args.free_text, environ)
    database = open_database(settings)
    now = clock_for(settings.frozen_now)()
    with database.session() as session:
        escalation = store.find(session, reference=args.reference, person=None)
        data = row(escalation, free_text=args.free_text)
        seen = store.view(escalation)
        if args.free_text:
            store.audit(session, actor=OPERATOR, action="escalation.viewed", at=now, reference=seen.reference, free_text=True)
        trail = store.audit_trail(session, reference=seen.reference)
    for key, value in data.items():
        out.write(f"{key:<22} {value if value is not None else '-'}\n")
    out.write("\nstages:\n")
    for stage in seen.stages:
        state = "resolved" if stage.resolved else ("not resolved" if stage.resolved is False else "open")
        out.write(
            f"  {stage.title}: started {stage.started_at:%Y-%m-%d}, due {stage.due_on or '-'}, {state}, "
            f"key points in writing: {'-' if stage.key_points_in_writing is None else ('yes' if stage.key_points_in_writing else 'no')}\n"
        )
    out.write("\naudit trail:\n")
    for entry in trail:
        out.write(f"  {entry.at:%Y-%m-%d %H:%M} {entry.actor:<14} {entry.action} {json.dumps(entry.detail, sort_keys=True)}\n")
    return 0


def export_records(args: argparse.Namespace, settings: Settings, out: TextIO, environ: dict[str, str]) -> int:
    _check_permitted(args.free_text, environ)
    database = open_database(settings)
    now = clock_for(settings.frozen_now)()
    with database.session() as session:
        rows = [row(e, free_text=args.free_text) for e in session.scalars(_select(args.partnership, args.status))]
        store.audit(
            session, actor=OPERATOR, action="records.exported", at=now,
            format=args.format, rows=len(rows), free_text=args.free_text, partnership=args.partnership,
        )  # fmt: skip
    write_rows(rows, args.format, out, free_text=args.free_text)
    return 0


def write_rows(rows: Iterable[dict[str, Any]], format: str, out: TextIO, *, free_text: bool) -> None:
    if format == "jsonl":
        for r in rows:
            out.write(json.dumps(r, ensure_ascii=False) + "\n")
        return
    columns = list(COLUMNS) + (list(FREE_TEXT_FIELDS) if free_text else [])
    writer = csv.DictWriter(out, fieldnames=columns, lineterminator="\n")
    writer.writeheader()
    for r in rows:
        writer.writerow(r)


def purge_records(args: argparse.Namespace, settings: Settings, out: TextIO) -> int:
    database = open_database(settings)
    now = clock_for(settings.frozen_now)()
    days = args.retention_days or settings.retention_days
    with database.session() as session:
        purged = store.purge_closed(session, retention_days=days, now=now, actor=OPERATOR)
    out.write(f"Purged {len(purged)} escalation(s) closed more than {days} days ago.\n")
    for reference in purged:
        out.write(f"  {reference}\n")
    return 0


def list_training(args: argparse.Namespace, settings: Settings, out: TextIO) -> int:
    """Training completions (who, when, partnership, score), for training compliance."""
    database = open_database(settings)
    with database.session() as session:
        manager = None
        if args.manager:
            channel, _, identity = args.manager.partition(":")
            manager = session.scalars(
                select(store.Person).where(store.Person.channel == channel, store.Person.channel_id == identity)
            ).first()
            if manager is None:
                raise store.RecordError(f"No one is registered as {args.manager} (give channel:identity).")
        rows = [
            (c.completed_at, c.person.channel, c.person.channel_id, c.person.role or "-", c.partnership, c.score, c.total)
            for c in store.completions(session, partnership=args.partnership, manager=manager)
        ]
    if not rows:
        out.write("No training completed yet.\n")
        return 0
    out.write(f"{'completed':<17} {'who':<32} {'role':<20} {'partnership':<26} score\n")
    for at, channel, identity, role, partnership, score, total in rows:
        out.write(f"{at:%Y-%m-%d %H:%M} {channel + ':' + identity:<32} {role[:20]:<20} {partnership:<26} {score}/{total}\n")
    return 0


def db_upgrade(args: argparse.Namespace, settings: Settings, out: TextIO) -> int:
    database = open_database(settings)
    database.dispose()
    out.write("The records database is at the latest schema.\n")
    return 0


def add_commands(commands: argparse._SubParsersAction) -> None:
    """The ``records`` and ``db`` commands of ``python -m bot``."""
    records = commands.add_parser("records", help="escalation records: list, show, export, purge")
    actions = records.add_subparsers(dest="records_command", required=True, metavar="ACTION")

    def filters(parser: argparse.ArgumentParser) -> None:
        parser.add_argument("--partnership", help="only this partnership id")
        parser.add_argument("--status", choices=["open", "resolved", "cancelled"], help="only this status")

    listing = actions.add_parser("list", help="every escalation, one line each (no free text)")
    filters(listing)
    listing.set_defaults(handler=lambda a, s: list_records(a, s, sys.stdout))

    show = actions.add_parser("show", help="one escalation with its stages and audit trail")
    show.add_argument("reference", help="e.g. ESC-7K2P9Q")
    show.add_argument("--free-text", action="store_true", help="include what practitioners wrote (if permitted)")
    show.set_defaults(handler=lambda a, s: show_record(a, s, sys.stdout, dict(os.environ)))

    export = actions.add_parser("export", help="the register as CSV or JSON lines on standard output")
    filters(export)
    export.add_argument("--format", choices=["csv", "jsonl"], default="csv")
    export.add_argument("--free-text", action="store_true", help="include what practitioners wrote (if permitted)")
    export.set_defaults(handler=lambda a, s: export_records(a, s, sys.stdout, dict(os.environ)))

    purge = actions.add_parser("purge", help="delete escalations closed longer ago than the retention period")
    purge.add_argument("--retention-days", type=int, help="default: BOT_RETENTION_DAYS")
    purge.set_defaults(handler=lambda a, s: purge_records(a, s, sys.stdout))

    training = commands.add_parser("training", help="Level 3 training completions")
    training_actions = training.add_subparsers(dest="training_command", required=True, metavar="ACTION")
    completions = training_actions.add_parser("list", help="who completed the quiz, when, with what score")
    completions.add_argument("--partnership", help="only this partnership id")
    completions.add_argument("--manager", help="only this manager's team, as channel:identity")
    completions.set_defaults(handler=lambda a, s: list_training(a, s, sys.stdout))

    db = commands.add_parser("db", help="the records database")
    db_actions = db.add_subparsers(dest="db_command", required=True, metavar="ACTION")
    upgrade = db_actions.add_parser("upgrade", help="create or migrate the schema to the latest version")
    upgrade.set_defaults(handler=lambda a, s: db_upgrade(a, s, sys.stdout))

