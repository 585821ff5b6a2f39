"""``shopbridge check``: everything that would stop the pipeline, one line each, and the exit
status a deploy can gate on.

Loads nothing lazily: connects to the broker and to every database of every tenant, checks
the tables and columns the adapters need, and checks the mappings against the shop's own
data (languages, tax classes) and the ERP's (tax codes in use).

For the order import (O5) it checks, per shop, what CAO needs (the shop's cao_shop_id, the
tables and columns, the number ranges) and the mappings against the shop's recent orders
(payment and shipping methods, countries) and against CAO (payment method ids, LAND, VAT
rates), and notes the shop's shipping modules whose tax class disagrees with
orders.shipping_tax_code. A shop with an ``[orders]`` table, or with orders to send, is
checked for it; one with neither is taken not to import orders.

Every line is one of three kinds, and only the first fails the check (exit 1; else exit 0):

- ``PROBLEM``: the sync cannot run correctly until the setup is fixed: a broker or database
  that does not answer, a table or column missing, a mapping that is missing or points at
  nothing (languages, tax classes, currency, payment and shipping methods, countries, number
  ranges, order statuses, shipping tax code, variant option names), an image folder that
  does not answer. Every event or order of that kind would fail or be dead-lettered.
- ``note``: the sync runs, and the merchant's data deserves a look: one record that
  shopbridge handles in a defined way (an ARTNUM used by several articles, an article
  without ARTNUM that is not published, an order whose country the shop cannot name),
  what the shop system cannot show (tier prices, customer price levels), orders imported
  with import notes, shipping modules taxed otherwise than orders.shipping_tax_code.
- ``ok``: what was checked and found right.

Each line names its subject once ("shop web: ...", "tenant acme: ..."), also when a
database error already names it.

This module is the shop-neutral frame: the broker, the loop over tenants and shops, and the
config's order mappings against the facts the kinds report. What reads one system's own
tables is that kind's probe (``shopbridge.probes``), found through the kind registry
(``shopbridge.kinds``).
"""

from __future__ import annotations

from collections.abc import Iterator
from functools import partial

from sqlalchemy.engine import Connection as DbConnection

from . import brokers, kinds, needs
from .config import OrderImportConfig, Settings, ShopConfig, TenantConfig
from .db import create_engine, translated
from .probes import (
    CheckReport,
    ErpOrderFacts,
    ErpProbes,
    ErpSinkProbe,
    ErpSourceProbe,
    FolderProbe,
    OrderUsage,
    ShopFacts,
    ShopOrders,
    ShopProbes,
    ShopSinkProbe,
    ShopSourceProbe,
)

__all__ = ["CheckReport", "ErpOrderFacts", "ErpSinkProbe", "ErpSourceProbe", "FolderProbe",
           "OrderUsage", "ShopFacts", "ShopOrders", "ShopSinkProbe", "ShopSourceProbe", "run"]

# Only the most recent orders are read for their payment, shipping and countries: enough to
# see every method and country in use, and quick on a shop with a long history.
ORDER_SAMPLE = 1000


def run(settings: Settings) -> CheckReport:
    report = CheckReport()
    _check_broker(settings, report)
    for tenant in settings.tenants:
        tax_codes, erp = _check_erp(tenant, report)
        for shop in tenant.shops:
            if shop.active:
                _check_shop(shop, tax_codes, erp, report, currency=tenant.erp.currency)
            else:
                report.ok.append(f"shop {shop.name}: inactive, not checked")
    return report


def _erp_probes(kind: str) -> ErpProbes:
    """An ERP kind's probes, from its registered roles (``shopbridge.kinds``).

    Raises:
        ConfigError: the kind is not registered for both roles.
    """
    return ErpProbes(source=kinds.erp_source(kind).check, sink=kinds.erp_sink(kind).check)


def _shop_probes(kind: str) -> ShopProbes:
    """A shop kind's probes, from its registered roles (``shopbridge.kinds``); ``source``
    is None for a kind that sends no orders.

    Raises:
        ConfigError: the kind is not registered as a shop sink.
    """
    sink = kinds.shop_sink(kind)
    # A shop kind may apply the catalogue before it can send orders (no shop source yet).
    sends_orders = kind in kinds.registry.names(kinds.SHOP_SOURCES)
    return ShopProbes(sink=sink.check,
                      source=kinds.shop_source(kind).check if sends_orders else None,
                      image_folder=sink.probe_folder)


def _check_broker(settings: Settings, report: CheckReport) -> None:
    def probe() -> None:
        brokers.probe(settings.broker)
        report.ok.append(f"broker {settings.broker.safe}: reachable")
        if settings.broker.embedded:
            _check_embedded_broker(settings, report)

    report.guard("broker", probe)


def _check_embedded_broker(settings: Settings, report: CheckReport) -> None:
    """The embedded broker's tables and grants in its database (B5)."""
    from .embedded import Store

    store = Store(settings.broker)
    try:
        with store.translated(), store.engine.connect() as conn:
            report.needs(f"broker {settings.broker.safe}", needs.embedded_broker, conn, None)
    finally:
        store.close()


def _check_erp(tenant: TenantConfig, report: CheckReport
               ) -> tuple[set[int], ErpOrderFacts | None]:
    """The tenant's ERP database, once: the order import's facts, then the catalogue side."""
    found: tuple[set[int], ErpOrderFacts | None] = (set(), None)
    what = f"tenant {tenant.name}: CAO database {tenant.erp.db.safe}"

    def probe() -> None:
        nonlocal found
        probes = _erp_probes(tenant.erp.kind)
        engine = create_engine(tenant.erp.db)
        try:
            with translated(what), engine.connect() as conn:
                facts = report.guard(f"tenant {tenant.name}: order import",
                                     lambda: probes.sink(conn, tenant))
                if facts is not None:
                    report.notes += [f"tenant {tenant.name}: {n}" for n in facts.notes]
                found = (set(), facts)      # kept when the catalogue side fails
                found = (probes.source(conn, tenant, report), facts)
        finally:
            engine.dispose()

    report.guard(f"tenant {tenant.name}", probe)
    return found


def _check_shop(shop: ShopConfig, tax_codes: set[int], erp: ErpOrderFacts | None,
                report: CheckReport, *, currency: str = "EUR") -> None:
    what = f"shop {shop.name}: database {shop.db.safe}"
    probes = report.guard(f"shop {shop.name}", lambda: _shop_probes(shop.kind))
    if probes is None:
        return

    def probe() -> None:
        engine = create_engine(shop.db)
        try:
            with translated(what), engine.connect() as conn:
                facts = probes.sink(conn, shop, report, tax_codes=tax_codes, currency=currency)
                source = probes.source
                if source is None:
                    _no_order_source(shop, report)
                else:
                    report.guard(f"shop {shop.name}: order import",
                                 lambda: _check_orders(conn, shop, source, erp, report))
                if facts.order_status_ids is not None:
                    _check_statuses(shop, facts.order_status_ids, report)
        finally:
            engine.dispose()

    report.guard(f"shop {shop.name}", probe)
    _check_images(shop, probes.image_folder, report)


def _check_images(shop: ShopConfig, probe: FolderProbe, report: CheckReport) -> None:
    """C9: both image folders answer; without images_url the shop gets file names only."""
    if shop.images is None:
        report.ok.append(f"shop {shop.name}: images: file names only, no file copy "
                         "(no images_url)")
        return
    for folder in (shop.images.source, shop.images.target):
        if report.guard(f"shop {shop.name}: image folder {folder.url}", partial(probe, folder)):
            report.ok.append(f"shop {shop.name}: image folder {folder.url} reachable")


def _no_order_source(shop: ShopConfig, report: CheckReport) -> None:
    """A kind without a shop source sends no orders: a problem only where the config
    expects it to (an ``[orders]`` table)."""
    if shop.orders.configured:
        report.problems.append(
            f"shop {shop.name}: [orders] is set, but kind {shop.kind!r} sends no orders to "
            "the ERP yet (no shop producer): no order would be imported")
    else:
        report.notes.append(f"shop {shop.name}: kind {shop.kind!r} sends no orders to the "
                            "ERP yet (no shop producer): order import not checked")


def _check_statuses(shop: ShopConfig, known: set[int], report: CheckReport) -> None:
    """O5, order statuses: CAO keeps the shop's own status ids, so they must exist there."""
    status = shop.orders.imported_status
    if status is None:
        return
    if status not in known:
        report.problems.append(
            f"shop {shop.name}: orders.imported_status {status} is not an order status of the "
            f"shop (it has {', '.join(map(str, sorted(known)))})")


# -- order import: the shop's orders against the config and the ERP's facts ------------------

def _check_orders(conn: DbConnection, shop: ShopConfig, source: ShopSourceProbe,
                  erp: ErpOrderFacts | None, report: CheckReport) -> None:
    settings = shop.orders
    orders = source(conn, shop, erp, sample=ORDER_SAMPLE)
    usage = orders.usage
    report.problems += [f"shop {shop.name}: {p}" for p in orders.problems]
    if usage.orders == 0 and not settings.configured:
        report.ok.append(f"shop {shop.name}: no orders from orders_id {settings.first_order_id} "
                         "on and no [orders] settings: order import not checked")
        return
    problems = [*_import_prerequisites(shop, erp), *_unmapped(settings, usage, erp),
                *_unknown_in_erp(settings, erp), *_shipping_tax(settings, erp),
                *needs.shop_order_producer(conn, shop)]
    report.problems += [f"shop {shop.name}: {p}" for p in problems]
    report.notes += [f"shop {shop.name}: {n}" for n in (*_nameless(usage),
                                                         *_import_notes(shop, erp))]
    if not problems:
        report.ok.append(f"shop {shop.name}: order import ready ({usage.orders} recent "
                         "order(s) checked)")
    report.notes += [f"shop {shop.name}: {n}" for n in orders.notes]
    report.ok += [f"shop {shop.name}: {line}" for line in orders.ok]


def _import_notes(shop: ShopConfig, erp: ErpOrderFacts | None) -> Iterator[str]:
    notes = erp.import_notes.get(shop.name) if erp is not None else None
    if notes is None or not notes.orders:
        return
    order_id, number, text = notes.newest[0]
    first = text.splitlines()[0]
    yield (f"{_orders(notes.orders)} imported with import notes (free-text positions, fitted "
           f"text, ...), newest: order {order_id} (CAO {number}): {first}; all: "
           f"'shopbridge orders count --shop {shop.name}'")


def _orders(count: int) -> str:
    return f"{count} order{'' if count == 1 else 's'}"


def _import_prerequisites(shop: ShopConfig, erp: ErpOrderFacts | None) -> Iterator[str]:
    if shop.filter.cao_shop_id is None:
        yield ("no filter.cao_shop_id: CAO tags each imported order with it "
               "(JOURNAL.SHOP_ID), so no order can be imported")
    if erp is not None:
        yield from erp.import_problems.get(shop.name, ())


def _unmapped(settings: OrderImportConfig, usage: OrderUsage,
              erp: ErpOrderFacts | None) -> Iterator[str]:
    for title, count in sorted(usage.payments.items()):
        if title not in settings.payment_methods:
            yield (f"payment method {title!r} ({_orders(count)}) has no entry in "
                   "orders.payment_methods")
    for title, count in sorted(usage.shippings.items()):
        if title not in settings.shipping_methods:
            yield (f"shipping method {title!r} ({_orders(count)}) has no entry in "
                   "orders.shipping_methods")
    lands = erp.lands if erp is not None else None
    if lands is not None:
        for iso, count in sorted(usage.countries.items()):
            if iso not in settings.countries and iso not in lands:
                yield (f"country {iso} ({_orders(count)}) is neither in orders.countries "
                       "nor a CAO LAND.ID")


def _nameless(usage: OrderUsage) -> Iterator[str]:
    """Orders whose country the shop's own table lacks: data of single orders, a note."""
    for name, count in sorted(usage.nameless.items()):
        yield (f"country {name!r} ({_orders(count)}) is not in the shop's countries table: "
               "it has no ISO code to map, such orders are dead-lettered naming it")


def _unknown_in_erp(settings: OrderImportConfig, erp: ErpOrderFacts | None) -> Iterator[str]:
    if erp is not None and erp.payment_ids is not None:
        for title, rec_id in sorted(settings.payment_methods.items()):
            if rec_id not in erp.payment_ids:
                yield (f"orders.payment_methods maps {title!r} to {rec_id}, which is not a "
                       "CAO payment method (ZAHLUNGSARTEN.REC_ID)")
    if erp is not None and erp.lands is not None:
        for iso, land in sorted(settings.countries.items()):
            if land not in erp.lands:
                yield (f"orders.countries maps {iso} to {land!r}, which is not a CAO "
                       "country (LAND.ID)")


def _shipping_tax(settings: OrderImportConfig, erp: ErpOrderFacts | None) -> Iterator[str]:
    code = settings.shipping_tax_code
    if erp is None or erp.vat_rates is None or code in erp.vat_rates:
        return
    # The importer falls back to this code only for orders without VAT rows (documents.py).
    fallback = erp.fallback_vat.get(code)
    outcome = (f"be booked at the built-in default of {fallback} %" if fallback is not None
               else "be refused (dead-lettered)")
    yield (f"orders.shipping_tax_code {code} has no rate in CAO REGISTRY MAIN\\MWST: the "
           f"shipping and fees of orders without VAT rows would {outcome}")
