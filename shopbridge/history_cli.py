"""``shopbridge history``: every event that touched one entity of a shop, what became of it,
and the entity's link row now (B4). Reads through the shop's kind (``ShopSink.history``)."""

from __future__ import annotations

import argparse
from collections.abc import Iterator

from . import config as cfg
from . import kinds
from .cli_common import TENANT_HELP
from .history import History, HistoryEntry, HistoryQuery, LinkState

ORDER_STATUS = "order_status"     # the link entity of order.status_changed: '<shop>:<order id>'


def add_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = sub.add_parser(
        "history", help="what became of every event of one product, entity or order in a shop",
        description="Lists the events the shop's consumer took for one entity, oldest first: "
                    "type, version, when it arrived and what happened (applied; skipped and "
                    "why; coalesced by a newer version in the same batch; retried or "
                    "dead-lettered with the error), then the entity's link row. Kept for the "
                    "shop's history_days (default 30).")
    parser.add_argument("--shop", required=True, help="the shop")
    parser.add_argument("--tenant", help=TENANT_HELP)
    which = parser.add_mutually_exclusive_group(required=True)
    which.add_argument("--sku", help="a product by its SKU (article number)")
    which.add_argument("--key", help="any entity by its ERP key (entity_key of its events)")
    which.add_argument("--order", metavar="N", help="the status changes of shop order N")


def run(settings: cfg.Settings, args: argparse.Namespace) -> tuple[History, list[str]]:
    """The entity's history and the lines to print.

    Raises:
        ConfigError: no such shop; TargetUnavailable: its database is away.
    """
    shop = settings.find_shop(args.shop, args.tenant)
    if args.sku is not None:
        query = HistoryQuery(sku=args.sku)
        what = f"SKU {args.sku}"
    elif args.order is not None:
        query = HistoryQuery(entity_type=ORDER_STATUS, entity_key=f"{shop.name}:{args.order}")
        what = f"order {args.order}"
    else:
        query = HistoryQuery(entity_key=args.key)
        what = f"key {args.key}"
    found = kinds.shop_sink(shop.kind).history(shop, query)
    return found, list(render(found, f"{shop.tenant}/{shop.name} {what}"))


def render(found: History, what: str) -> Iterator[str]:
    if not found.entries and not found.links:
        yield (f"{what}: no events in the history (kept for the shop's history_days; none "
               f"with history_days = 0)")
        return
    for entry in found.entries:
        yield _entry_line(entry)
    for link in found.links:
        yield _link_line(link)
    if not found.links:
        yield f"{what}: no link row (never applied to the shop)"


def _entry_line(e: HistoryEntry) -> str:
    detail = f": {e.detail}" if e.detail else ""
    return (f"{e.arrived_at:%Y-%m-%d %H:%M:%S} {e.event_type} {e.entity_key} v{e.version} "
            f"[{e.event_id}] {e.outcome}{detail}")


def _link_line(link: LinkState) -> str:
    target = "none" if link.target_id is None else str(link.target_id)
    applied = "never" if link.applied_at is None else f"{link.applied_at:%Y-%m-%d %H:%M:%S}"
    return (f"link {link.entity_type} {link.entity_key}: shop id {target}, version "
            f"{link.version}, stock version {link.stock_version}, last event "
            f"{link.event_id or '-'}, applied {applied}")
