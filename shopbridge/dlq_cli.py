"""``shopbridge dlq``: list, show, export, replay and purge a target's dead letters (P6).

Every subcommand takes the same selection (``--type``, ``--key``, ``--error``, ``--since``,
``--until``), so what ``list`` shows is what ``replay``, ``purge`` or ``export`` then act on.
"""

from __future__ import annotations

import argparse
import re
import sys
from collections.abc import Callable, Sequence
from datetime import UTC, datetime, timedelta
from typing import IO, TYPE_CHECKING

import orjson

from . import config as cfg
from . import kinds, topology
from .cli_common import TENANT_HELP, confirmed
from .errors import ConfigError

if TYPE_CHECKING:
    from . import dlq
    from .events import Event

_AGO = re.compile(r"^(\d+)\s*([smhd])$")
_UNIT = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days"}


def moment(text: str) -> datetime:
    """An ISO date/time (naive: UTC) or an age like ``30m``, ``2h``, ``7d`` (that long ago)."""
    ago = _AGO.match(text.strip())
    if ago:
        return datetime.now(UTC) - timedelta(**{_UNIT[ago[2]]: int(ago[1])})
    try:
        parsed = datetime.fromisoformat(text.strip())
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"{text!r} is neither an ISO date/time (2026-12-06T14:00) nor an age (30m, 2h, "
            f"7d)") from None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def add_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = sub.add_parser(
        "dlq", help="dead letters of a shop or the ERP: list, show, export, replay, purge")
    commands = parser.add_subparsers(dest="dlq_command", required=True)

    def command(name: str, text: str, description: str | None = None
                ) -> argparse.ArgumentParser:
        one = commands.add_parser(name, help=text, description=description or text)
        which = one.add_mutually_exclusive_group(required=True)
        which.add_argument("--shop", help="the shop whose dead letters to take")
        which.add_argument("--erp", action="store_true", help="the tenant's ERP queue")
        one.add_argument("--tenant", help=TENANT_HELP)
        one.add_argument("--type", dest="event_type", help="only this event type")
        one.add_argument("--key", dest="entity_key", help="only this entity key")
        one.add_argument("--error", metavar="TEXT",
                         help="only letters whose error contains TEXT (case-insensitive)")
        one.add_argument("--since", type=moment, metavar="WHEN",
                         help="only letters that last failed at or after WHEN (ISO date/time, "
                              "UTC unless it names an offset, or an age: 30m, 2h, 7d)")
        one.add_argument("--until", type=moment, metavar="WHEN",
                         help="only letters that last failed at or before WHEN")
        return one

    listing = command("list", "list dead letters with their reasons")
    listing.add_argument("--json", action="store_true", help="full events as JSON lines")
    show = command("show", "one dead letter: its event, error, attempts, first and last failure")
    show.add_argument("event_id", help="the event id ('dlq list' shows it)")
    export = command("export", "write dead letters as JSON lines (nothing is removed)")
    export.add_argument("--output", "-o", metavar="FILE",
                        help="write to FILE instead of standard output")
    command("replay", "move dead letters back to the work queue",
            "Move the selected dead letters present now back to the work queue, each once "
            "(letters that fail again meanwhile wait for the next replay). Letters whose every "
            "event is superseded by a newer applied version would change nothing: they stay, "
            "counted, for 'dlq purge'.")
    purge = command("purge", "delete dead letters, after a confirmation",
                    "Delete the selected dead letters. Lists them and asks first; --yes "
                    "skips the question (needed when not on a terminal).")
    purge.add_argument("--yes", action="store_true", help="do not ask")


def _selection(args: argparse.Namespace, event_id: str | None = None) -> dlq.Filter:
    from . import dlq

    return dlq.Filter(event_type=args.event_type, entity_key=args.entity_key, error=args.error,
                      since=args.since, until=args.until, event_id=event_id)


def _line(letter: dlq.DeadLetter) -> str:
    return (f"{letter.event_type} {letter.entity_key} [{letter.event_id}]: "
            f"{letter.error_class}: {letter.error} (attempts {letter.attempts}, "
            f"last {letter.last_failure})")


def _superseded(settings: cfg.Settings, args: argparse.Namespace
                ) -> Callable[[Sequence[Event]], list[str]]:
    """Asks the target's own applier (read only) which events a newer version supersedes."""
    def judge(events: Sequence[Event]) -> list[str]:
        applier: kinds.Applier
        if args.erp:
            tenant = settings.tenant(args.tenant)
            applier = kinds.erp_sink(tenant.erp.kind).applier(tenant)
        else:
            shop = settings.find_shop(args.shop, args.tenant)
            applier = kinds.shop_sink(shop.kind).applier(shop)
        try:
            return list(applier.superseded(events))
        finally:
            applier.close()
    return judge


def run(settings: cfg.Settings, args: argparse.Namespace, target: topology.Target,
        *, ok: int, problems: int) -> int:
    from . import dlq  # here, not at the top: every other command starts without it

    where = f"{target.tenant}/{target.name}"
    command = args.dlq_command
    if command == "list":
        letters = dlq.list_dead(settings.broker, target, _selection(args))
        for letter in letters:
            if args.json:
                sys.stdout.buffer.write(orjson.dumps(letter.as_dict()) + b"\n")
            else:
                print(_line(letter))
        if not args.json:
            print(f"{len(letters)} dead letter(s) in {where}")
        return ok
    if command == "show":
        found = dlq.list_dead(settings.broker, target, _selection(args, args.event_id))
        if not found:
            print(f"no dead letter with event id {args.event_id} in {where}", file=sys.stderr)
            return problems
        for letter in found:
            data = letter.as_dict()
            event = data.pop("event")
            for key, value in data.items():
                print(f"{key:>14}: {value}")
            print(orjson.dumps(event, option=orjson.OPT_INDENT_2).decode())
        return ok
    if command == "export":
        letters = dlq.list_dead(settings.broker, target, _selection(args))
        out: IO[bytes]
        try:
            with (open(args.output, "wb") if args.output else
                  open(sys.stdout.fileno(), "wb", closefd=False)) as out:
                for letter in letters:
                    out.write(orjson.dumps(letter.as_dict()) + b"\n")
        except OSError as err:
            raise ConfigError(f"dlq export: cannot write {args.output or 'standard output'}: "
                              f"{err.strerror or err}") from None
        print(f"exported {len(letters)} dead letter(s) of {where}"
              + (f" to {args.output}" if args.output else ""), file=sys.stderr)
        return ok
    if command == "replay":
        report = dlq.replay(settings.broker, target, selected=_selection(args),
                            superseded=_superseded(settings, args))
        print(f"replayed {report.moved} dead letter(s) into {where}'s work queue; "
              f"{report.superseded} skipped: superseded by a newer applied version (they "
              f"stay; 'shopbridge dlq purge' removes them)")
        return ok
    letters = dlq.list_dead(settings.broker, target, _selection(args))
    if not letters:
        print(f"purged 0 dead letter(s) from {where}: none matches")
        return ok
    if not confirmed(yes=args.yes, action=f"dlq purge would delete {len(letters)} dead "
                                          f"letter(s) from {where}",
                     question=f"delete these {len(letters)} dead letter(s) from {where}? [y/N] ",
                     listing=map(_line, letters)):
        print(f"purged 0 dead letter(s) from {where}: not confirmed")
        return ok
    removed = dlq.purge(settings.broker, target, letters)
    print(f"purged {removed} dead letter(s) from {where}")
    return ok
