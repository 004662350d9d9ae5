"""Operators' commands: ``python -m bot nudges due|sweep|run`` and ``python -m bot people
manager|contact`` (who is nudged: a practitioner's line manager, a partnership contact)."""

from __future__ import annotations

import argparse
import sys
from typing import TextIO

from sqlalchemy import select

from bot.clock import LONDON, clock_for
from bot.config import Settings
from bot.nudges import plan
from bot.records import store
from bot.records.cli import OPERATOR
from bot.records.db import open_database
from bot.records.models import Nudge, Person


def _person(session, who: str) -> Person:
    channel, _, identity = who.partition(":")
    if not channel or not identity:
        raise store.InvalidValue(f"{who!r}: give a person as channel:identity, e.g. telegram:123456789.")
    person = session.scalars(select(Person).where(Person.channel == channel, Person.channel_id == identity)).first()
    if person is None:
        raise store.RecordError(f"No one is registered as {who}: they appear once they have talked to the assistant.")
    return person


def due(args: argparse.Namespace, settings: Settings, out: TextIO) -> int:
    """What a sweep would send now, and why (nothing is sent or stored)."""
    now = clock_for(settings.frozen_now)()
    database = open_database(settings)
    with database.session() as session:
        stored = {
            (n.escalation_id, n.stage_index, n.kind, n.due_on): n.status
            for n in session.scalars(select(Nudge))
        }
        owed = list(plan.owed(session, now=now, hours=settings.nudge_hours,
                              overdue_after_days=settings.nudge_overdue_after_days))  # fmt: skip
        recipients = {p.id: f"{p.channel}:{p.channel_id}" for p in session.scalars(select(Person))}
    local = now.astimezone(LONDON)
    start, end = settings.nudge_hours
    out.write(f"At {local:%a %d %b %Y %H:%M} (Europe/London; nudges on working days {start:%H:%M}-{end:%H:%M}):\n")
    waiting = [w for w in owed if stored.get(w.key) != "sent"]
    if not waiting:
        out.write("Nothing to send.\n")
        return 0
    for wanted in waiting:
        to = recipients.get(wanted.recipient_id) if wanted.recipient_id else None
        state = stored.get(wanted.key, "to send")
        out.write(
            f"  {wanted.reference} {wanted.kind:<16} to {to or '(no one registered: not sent)'}: "
            f"{wanted.why} [{state}]\n"
        )
    return 0


def sweep_once(args: argparse.Namespace, settings: Settings, out: TextIO) -> int:
    from bot.nudges import sweeper_for

    report = sweeper_for(settings, clock_for(settings.frozen_now)).sweep()
    out.write(f"Sweep: {report}.\n")
    return 0


def run(args: argparse.Namespace, settings: Settings) -> int:
    from bot.nudges import run as run_scheduler

    return run_scheduler(settings, clock_for(settings.frozen_now))


def set_manager(args: argparse.Namespace, settings: Settings, out: TextIO) -> int:
    database = open_database(settings)
    now = clock_for(settings.frozen_now)()
    with database.session() as session:
        person = _person(session, args.person)
        manager = None if args.manager == "none" else _person(session, args.manager)
        store.set_line_manager(session, person=person, manager=manager, now=now, actor=OPERATOR)
    out.write(f"{args.person}'s line manager is now {args.manager}.\n")
    return 0


def set_contact(args: argparse.Namespace, settings: Settings, out: TextIO) -> int:
    from bot.procedures.loader import load_library

    pack = load_library(settings.packs_dir).get(args.partnership)
    if pack is None:
        raise store.InvalidValue(f"There is no partnership {args.partnership!r}.")
    contact_ids = [c.id for c in pack.contacts]
    if args.contact not in contact_ids:
        raise store.InvalidValue(f"{args.partnership} has no contact {args.contact!r}; its contacts: {', '.join(contact_ids)}.")
    database = open_database(settings)
    with database.session() as session:
        person = _person(session, args.person)
        store.set_contact(session, partnership=args.partnership, contact_id=args.contact, person=person,
                          now=clock_for(settings.frozen_now)(), actor=OPERATOR)  # fmt: skip
    out.write(f"{args.person} now receives {args.partnership}'s {args.contact} notifications.\n")
    return 0


def add_commands(commands: argparse._SubParsersAction) -> None:
    nudges = commands.add_parser("nudges", help="follow-ups when a stage reaches its timescale")
    actions = nudges.add_subparsers(dest="nudges_command", required=True, metavar="ACTION")
    actions.add_parser("due", help="what a sweep would send now, and why").set_defaults(
        handler=lambda a, s: due(a, s, sys.stdout))
    actions.add_parser("sweep", help="sweep once now: record, claim and deliver what is owed").set_defaults(
        handler=lambda a, s: sweep_once(a, s, sys.stdout))
    actions.add_parser("run", help="the scheduler: sweep every BOT_NUDGE_INTERVAL_SECONDS (make serve runs it)").set_defaults(
        handler=run)

    people = commands.add_parser("people", help="who is nudged: line managers, partnership contacts")
    people_actions = people.add_subparsers(dest="people_command", required=True, metavar="ACTION")
    manager = people_actions.add_parser("manager", help="set a practitioner's line manager")
    manager.add_argument("person", help="the practitioner, as channel:identity")
    manager.add_argument("manager", help="their line manager, as channel:identity, or 'none'")
    manager.set_defaults(handler=lambda a, s: set_manager(a, s, sys.stdout))
    contact = people_actions.add_parser("contact", help="who receives a partnership contact's notifications")
    contact.add_argument("partnership", help="partnership id, e.g. south-tyneside")
    contact.add_argument("contact", help="the pack's contact id, e.g. partnership")
    contact.add_argument("person", help="as channel:identity")
    contact.set_defaults(handler=lambda a, s: set_contact(a, s, sys.stdout))
