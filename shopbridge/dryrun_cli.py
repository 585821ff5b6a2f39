"""``consume --dry-run`` and ``sync --dry-run`` (B2): what would change in a shop, row by row,
with nothing written and nothing acknowledged. The shop's kind does the work
(``kinds.ShopDryRun``, consumers/dryrun.py); the sync's events come from the ERP's kind
(``kinds.ResyncPreview``)."""

from __future__ import annotations

import argparse
import json
from collections.abc import Collection
from typing import TYPE_CHECKING

from . import config as cfg
from . import kinds
from .errors import DryRunRefused

if TYPE_CHECKING:
    from .rowdiff import DryRunReport

DEFAULT_LIMIT = 10_000


def add_options(parser: argparse.ArgumentParser, *, queue: bool) -> None:
    parser.add_argument("--dry-run", action="store_true", help=(
        "show what would change in the shop, row by row (table, key, column: before -> "
        "after), and write nothing" + (": the queue's messages stay in the queue, their "
                                       "delivery counts unchanged" if queue else
                                       ": nothing is published")))
    parser.add_argument("--format", choices=["text", "json"], default="text",
                        help="with --dry-run: text lines (default), or one JSON document "
                             "(one line) per shop")
    if queue:
        parser.add_argument("--limit", type=int, default=DEFAULT_LIMIT, metavar="MESSAGES",
                            help=f"with --dry-run: read at most this many messages "
                                 f"(default {DEFAULT_LIMIT})")


def consume(settings: cfg.Settings, args: argparse.Namespace) -> tuple[list[str], bool]:
    """The lines to print for ``consume --shop S --dry-run``, and whether an event would
    fail (be retried or dead-lettered).

    Raises:
        DryRunRefused: the ERP side, an inactive shop, a kind without dry run, a shop
            database a rollback cannot undo.
    """
    if args.erp:
        raise DryRunRefused("consume --erp has no dry run (CAO's MyISAM tables cannot be "
                            "rolled back)")
    shop = settings.find_shop(args.shop, args.tenant)
    if not shop.active:
        raise DryRunRefused(f"shop {shop.name!r} is inactive (active = false)")
    report = kinds.shop_dry_run(shop.kind).dry_run(broker=settings.broker, shop=shop,
                                                    limit=max(args.limit, 1))
    return render(report, f"{shop.tenant}/{shop.name}", args.format), bool(report.failed)


def sync(settings: cfg.Settings, args: argparse.Namespace,
         entities: Collection[str]) -> tuple[list[str], bool]:
    """The lines to print for ``sync --dry-run`` (every active shop of the tenant without
    ``--shop``), and whether an event would fail or be rejected."""
    if args.shop:
        shops = [settings.find_shop(args.shop, args.tenant)]
    else:
        shops = [s for s in settings.tenant(args.tenant).shops if s.active]
    lines: list[str] = []
    failing = False
    for shop in shops:
        tenant = settings.tenant(shop.tenant)
        runner = kinds.shop_dry_run(shop.kind)
        events, rejected = kinds.resync_preview(tenant.erp.kind).resync_preview(
            broker=settings.broker, tenant=tenant, shop=shop, entities=entities)
        report = runner.dry_run(broker=settings.broker, shop=shop, events=events,
                                resync=True)
        report.failed += [f"rejected by the producer: {line}" for line in rejected]
        report.notes.append("the regular producer cycle a sync runs first (to every shop) is "
                            "not included: new ERP entities never published and deletions "
                            "come with 'shopbridge produce'")
        lines += render(report, f"{shop.tenant}/{shop.name} (sync)", args.format)
        failing = failing or bool(report.failed)
    return lines, failing


def render(report: DryRunReport, where: str, fmt: str) -> list[str]:
    if fmt == "json":
        return [json.dumps(report.as_dict(where), ensure_ascii=False)]
    return report.text(where)
