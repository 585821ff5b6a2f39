"""``shopbridge drift`` (B1): what the ERP says a shop should show, against what the shop has.

The ERP kind builds the product payloads its producer would publish, a page at a time
(``CatalogueProducer.product_payloads``); the shop kind maps each page with the mapping its
consumer applies and reads the same page's rows from the shop (``ShopSink.drift``), so
neither side is ever loaded whole. Then the shop's linked products, a page at a time, that
the ERP no longer selects: one the shop still shows is a difference too. Each difference is
one line: entity, field, what the ERP says, what the shop has. ``--repair`` republishes
exactly the differing products into the shop's queue the way ``shopbridge sync`` does
(``CatalogueProducer.republish``): their state, or their deletion.
"""

from __future__ import annotations

import argparse
import time
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field

from . import config as cfg
from . import kinds
from .cli_common import TENANT_HELP
from .errors import ConfigError

PAGE = 1000                     # articles per page: one ERP read and one shop read each
ENTITIES = ("product",)         # what drift compares today (--entity)
SUPPORTED = ("oscommerce", "virtuemart")    # the shop kinds with a drift reader today
SHOWN_LIMIT = 200               # difference lines printed by default; the summary counts all
VALUE_WIDTH = 60                # a value longer than this is cut in the table


@dataclass(frozen=True, slots=True)
class Difference:
    """One field of one entity that the shop shows otherwise than the ERP says."""

    entity: str                 # "product"
    key: str                    # the ERP key (entity_key of its events)
    label: str                  # how a person finds it: "SKU AB-1"
    field: str                  # "price", "name[de]", "visible", "categories"...
    erp: str                    # what the ERP says the shop should show
    shop: str                   # what the shop has


@dataclass
class DriftReport:
    compared: int = 0
    differences: list[Difference] = field(default_factory=list)
    by_field: Counter[str] = field(default_factory=Counter)
    keys: set[str] = field(default_factory=set)
    total: int = 0
    seconds: float = 0.0
    limit: int | None = SHOWN_LIMIT     # differences kept for the table; None: all

    def add(self, found: Sequence[Difference]) -> None:
        for diff in found:
            self.total += 1
            self.by_field[diff.field] += 1
            self.keys.add(diff.key)
            if self.limit is None or len(self.differences) < self.limit:
                self.differences.append(diff)


def add_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = sub.add_parser(
        "drift", help="compare what the ERP says a shop should show with the shop's database",
        description="Builds, from the ERP and with the mapping the shop's consumer uses, what "
                    "the shop should show of each selected product (visibility, name per "
                    "language, price per level or shopper group, special offer and its "
                    "window, stock, category links, images) and compares it with the shop's "
                    "database, a page at a time. Prints one line per difference (entity, "
                    "field, ERP says, shop has) and a summary. --repair republishes exactly "
                    "the differing products into the shop's queue, as 'shopbridge sync' does; "
                    "the shop's consumer applies them.")
    parser.add_argument("--shop", required=True, help="the shop")
    parser.add_argument("--tenant", help=TENANT_HELP)
    parser.add_argument("--entity", choices=ENTITIES, default="product",
                        help="what to compare (default and today only: product)")
    parser.add_argument("--repair", action="store_true",
                        help="republish the differing products to the shop")
    parser.add_argument("--limit", type=int, default=SHOWN_LIMIT, metavar="N",
                        help=f"print at most N difference lines (default {SHOWN_LIMIT}; 0: "
                             f"all); the summary counts every difference")


def run(settings: cfg.Settings, args: argparse.Namespace,
        say: Callable[[str], object] = lambda line: None) -> tuple[DriftReport, list[str]]:
    """Compare (and with ``--repair`` republish); returns the report and its lines, each
    also handed to ``say`` as soon as it is known (the table before a repair that may fail).

    Raises:
        ConfigError: no such shop, or its kind has no drift report yet;
        TargetUnavailable, BrokerUnavailable: a database or the broker is away.
    """
    shop = settings.find_shop(args.shop, args.tenant)
    tenant = settings.tenant(shop.tenant)
    sink = kinds.shop_sink(shop.kind)
    if not shop.active:
        raise ConfigError(f"shop {shop.name!r} is inactive (active = false): nothing is "
                          f"synced to it, so there is nothing to compare")
    producer = kinds.erp_source(tenant.erp.kind).producer(broker=settings.broker,
                                                          tenant=tenant)
    lines: list[str] = []

    def emit(line: str) -> None:
        lines.append(line)
        say(line)

    report = DriftReport(limit=getattr(args, "limit", SHOWN_LIMIT) or None)
    started = time.monotonic()
    try:
        producer.prepare()
        reader = _reader(sink, shop)
        try:
            for page in producer.product_payloads(page=PAGE):
                report.compared += len(page)
                report.add(reader.compare(page))
            # Then what the shop links that the ERP no longer selects (a deletion lost, or a
            # product shown again by hand): by the shop's links, a page at a time.
            after = ""
            while keys := reader.linked_keys(after=after, limit=PAGE):
                after = keys[-1]
                withdrawn = sorted(set(keys) - producer.selected_keys(keys))
                if withdrawn:
                    report.add(reader.compare_withdrawn(withdrawn))
        finally:
            reader.close()
        report.seconds = time.monotonic() - started
        where = f"{tenant.name}/{shop.name}"
        for line in table(report.differences):
            emit(line)
        if report.total > len(report.differences):
            emit(f"... and {report.total - len(report.differences)} more difference(s), "
                 f"counted below")
        summary = ", ".join(f"{n} {name}" for name, n in sorted(report.by_field.items()))
        emit(f"drift of {where}: {report.compared} product(s) compared in "
             f"{report.seconds:.1f} s, {report.total} difference(s) in "
             f"{len(report.keys)} product(s)" + (f" ({summary})" if summary else ""))
        if args.repair and report.keys:
            cycle, skipped = producer.republish(shop, sorted(report.keys))
            emit(_repaired(where, len(report.keys), skipped, len(cycle.rejected)))
    finally:
        producer.close()
    return report, lines


def _repaired(where: str, keys: int, skipped: Sequence[str], rejected: int) -> str:
    line = f"repair of {where}: {keys - len(skipped)} product event(s) republished to the " \
           f"shop's queue"
    if skipped:
        shown = ", ".join(skipped[:20]) + (" ..." if len(skipped) > 20 else "")
        line += (f"; {len(skipped)} not yet published by 'shopbridge produce' (or no longer "
                 f"selected), left to its next cycle: {shown}")
    return line + (f"; {rejected} rejected" if rejected else "")


def _reader(sink: kinds.ShopSink, shop: cfg.ShopConfig) -> kinds.DriftReader:
    """The kind's drift reader.

    Raises:
        ConfigError: the kind has none yet (a kind registered by another package may not).
    """
    make = getattr(sink, "drift", None)
    if make is None:
        raise ConfigError(f"shop kind {shop.kind!r} (shop {shop.name!r}) has no drift "
                          f"report yet: 'shopbridge drift' supports "
                          f"{', '.join(SUPPORTED)}")
    reader: kinds.DriftReader = make(shop)
    return reader


def table(differences: Sequence[Difference]) -> Iterator[str]:
    """The differences as aligned columns: entity, field, ERP says, shop has."""
    if not differences:
        return
    rows = [("ENTITY", "FIELD", "ERP SAYS", "SHOP HAS")] + [
        (f"{d.entity} {d.key} ({d.label})", d.field, _cut(d.erp), _cut(d.shop))
        for d in differences]
    widths = [max(len(r[i]) for r in rows) for i in range(3)]
    for row in rows:
        yield "  ".join(v.ljust(w) for v, w in zip(row, widths, strict=False)) + "  " + row[3]


def _cut(value: str) -> str:
    value = value.replace("\n", "\\n")
    return value if len(value) <= VALUE_WIDTH else value[:VALUE_WIDTH - 3] + "..."
