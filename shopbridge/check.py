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
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any, TypeVar

from sqlalchemy.engine import Connection as DbConnection

from . import broker, needs
from .config import OrderImportConfig, Settings, ShopConfig, TenantConfig
from .db import TableNames, columns_of, create_engine, quote_ident, rows_by_name, translated
from .errors import BrokerUnavailable, SetupRequired, ShopbridgeError, TargetUnavailable

T = TypeVar("T")

# Only the most recent orders are read for their payment, shipping and countries: enough to
# see every method and country in use, and quick on a shop with a long history.
ORDER_SAMPLE = 1000
SHOP_ORDER_TABLES = ("orders", "orders_total", "countries")


@dataclass
class CheckReport:
    problems: list[str] = field(default_factory=list)
    ok: list[str] = field(default_factory=list)
    # What works but not the way the ERP has it (e.g. prices a shop cannot show): no failure.
    notes: list[str] = field(default_factory=list)
    # A broker or database that could not be reached at all: decides the exit code (3, 4).
    unreachable: list[ShopbridgeError] = field(default_factory=list)


@dataclass
class ErpOrderFacts:
    """What the order import needs from one tenant's CAO database; None: not readable."""

    missing_tables: list[str] = field(default_factory=list)
    missing_columns: list[str] = field(default_factory=list)   # "JOURNAL.SHOP_ORDERID"
    number_ranges: Counter[int] | None = None   # REGISTRY MAIN\NUMBERS: VAL_INT -> rows
    vat_rates: dict[int, Decimal] | None = None  # REGISTRY MAIN\MWST: code -> rate (%)
    lands: set[str] | None = None               # LAND.ID
    payment_ids: set[int] | None = None         # ZAHLUNGSARTEN.REC_ID (absent or empty: None)
    import_notes: dict[str, Any] = field(default_factory=dict)  # shop -> ImportNotes
    # The import's own table and grants (needs.erp_order_import): problem lines.
    access: list[str] = field(default_factory=list)


@dataclass
class OrderUsage:
    """What a shop's recent orders need mapped: value -> number of orders using it."""

    orders: int = 0
    payments: Counter[str] = field(default_factory=Counter)
    shippings: Counter[str] = field(default_factory=Counter)
    countries: Counter[str] = field(default_factory=Counter)   # ISO-2 codes
    nameless: Counter[str] = field(default_factory=Counter)    # country names without ISO-2


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


def _guard(report: CheckReport, what: str, fn: Callable[[], T]) -> T | None:
    """Run ``fn``; an exception becomes one problem line (never a crash), its result None."""
    try:
        return fn()
    except ShopbridgeError as err:
        report.problems.append(_prefixed(what, _one_line(err)))
        if isinstance(err, (BrokerUnavailable, TargetUnavailable)):
            report.unreachable.append(err)
    except Exception as err:
        # SQLAlchemy's text adds the statement and a link on further lines: the driver's
        # own error (code and message) is the part that says what is wrong.
        report.problems.append(_prefixed(what, f"{type(err).__name__}: "
                                               f"{_one_line(getattr(err, 'orig', None) or err)}"))
    return None


def _one_line(err: BaseException) -> str:
    return " ".join(str(err).split())


def _prefixed(what: str, message: str) -> str:
    """``what: message``, naming the subject once: a translated database error already
    starts with it ("shop web: database mysql://...: MySQL error 2003 ...")."""
    subject = what.split(": ", 1)[0] + ": "
    return f"{what}: {message.removeprefix(subject)}"


def _check_broker(settings: Settings, report: CheckReport) -> None:
    def probe() -> None:
        broker.connect(settings.broker).release()
        report.ok.append(f"broker {settings.broker.safe}: reachable")

    _guard(report, "broker", probe)


def _check_erp(tenant: TenantConfig, report: CheckReport
               ) -> tuple[set[int], ErpOrderFacts | None]:
    from producers.cao.source import CaoSource

    tax_codes: set[int] = set()
    facts: list[ErpOrderFacts | None] = [None]
    what = f"tenant {tenant.name}: CAO database {tenant.erp.db.safe}"

    def probe() -> None:
        engine = create_engine(tenant.erp.db)
        try:
            with translated(what), engine.connect() as conn:
                facts[0] = _guard(report, f"tenant {tenant.name}: order import",
                                  lambda: _read_erp_facts(conn, tenant))
                source = CaoSource(tenant.erp, flag_fields=(
                    s.filter.flag[0] for s in tenant.shops if s.active and s.filter.flag))
                problems = source.schema_problems(conn)
                report.problems += [f"tenant {tenant.name}: {p}" for p in problems]
                if problems:
                    return
                _needs(report, f"tenant {tenant.name}", needs.erp_producer, conn, tenant)
                try:
                    source.variants.ensure_table(conn)   # the selection below reads it (C8)
                except SetupRequired as err:
                    report.problems.append(f"tenant {tenant.name}: {err}")
                    return
                # The merchant's data, handled as it is: a note, not a failed check.
                for sku, ids in source.duplicate_skus(conn):
                    report.notes.append(
                        f"tenant {tenant.name}: ARTNUM {sku!r} is used by {len(ids)} articles "
                        f"(REC_ID {', '.join(map(str, ids))}): shops get duplicate models")
                for rec_id in source.articles_without_sku(conn):
                    report.notes.append(f"tenant {tenant.name}: article REC_ID {rec_id} has "
                                        "no ARTNUM and is not published")
                art = source.t["ARTIKEL"]
                cond = "WHERE SHOP_ID > 0" if tenant.erp.selection == "shop" else ""
                rows = conn.exec_driver_sql(f"SELECT DISTINCT STEUER_CODE FROM {art} {cond}")
                tax_codes.update(int(r[0]) for r in rows)
                report.notes += _catalogue_limits(conn, source, tenant)
                problems, notes = source.variants.check(
                    conn, art, (c for s in tenant.shops if s.active for c in s.languages))
                report.problems += [f"tenant {tenant.name}: {p}" for p in problems]
                report.ok += [f"tenant {tenant.name}: {n}" for n in notes]
                report.ok.append(f"tenant {tenant.name}: CAO database reachable, tables "
                                 f"{', '.join(sorted(source.t.values()))}")
        finally:
            engine.dispose()

    _guard(report, f"tenant {tenant.name}", probe)
    return tax_codes, facts[0]


def _catalogue_limits(conn: DbConnection, source: Any, tenant: TenantConfig) -> list[str]:
    """C5/C7: ERP prices the Phoenix core cannot show, counted per shop, one line each.

    Phoenix has no quantity tiers and no customer groups: every customer pays the shop's
    price level, and the consumer leaves tier prices out (docs/architecture.md).
    """
    from producers.cao.source import TIER_PRICES

    art, prices = source.t["ARTIKEL"], source.t["ARTIKEL_PREIS"]
    tiers: dict[int, int] = dict(conn.exec_driver_sql(
        f"SELECT a.SHOP_ID, COUNT(DISTINCT a.REC_ID) FROM {art} a JOIN {prices} p "
        f"ON p.ARTIKEL_ID = a.REC_ID WHERE {TIER_PRICES} AND p.MENGE2 > 0 GROUP BY a.SHOP_ID"
    ).all())
    addresses = TableNames.read(conn).find("ADRESSEN")
    levels: dict[Any, Counter[int]] = {}
    if addresses is not None and "PR_EBENE" in columns_of(conn, addresses):
        for shop_id, level, count in conn.exec_driver_sql(
                f"SELECT SHOP_ID, PR_EBENE, COUNT(*) FROM {quote_ident(addresses)} "
                f"WHERE SHOP_KUNDE = 'Y' GROUP BY SHOP_ID, PR_EBENE"):
            levels.setdefault(shop_id, Counter())[int(level or 0)] += int(count)
    notes = []
    for shop in tenant.shops:
        if not shop.active or shop.kind != "oscommerce":
            continue
        cao_id = shop.filter.cao_shop_id
        n_tiers = (sum(tiers.values()) if cao_id is None else tiers.get(cao_id, 0))
        if n_tiers:
            notes.append(f"shop {shop.name}: {n_tiers} article(s) have quantity-tier prices "
                         "(ARTIKEL_PREIS); osCommerce core has no tier prices, the shop "
                         f"sells every quantity at VK{shop.price_level}")
        own = Counter[int]()
        for shop_id, counter in levels.items():
            if cao_id is None or shop_id == cao_id:
                own.update(counter)
        other = {lvl: n for lvl, n in own.items() if lvl != shop.price_level}
        if other:
            notes.append(f"shop {shop.name}: {sum(other.values())} shop customer(s) have "
                         f"another price level in CAO ("
                         f"{', '.join(f'VK{lvl}: {n}' for lvl, n in sorted(other.items()))}); "
                         "osCommerce core has no customer groups, they see "
                         f"VK{shop.price_level} prices")
    return notes


def _check_shop(shop: ShopConfig, tax_codes: set[int], erp: ErpOrderFacts | None,
                report: CheckReport, *, currency: str = "EUR") -> None:
    what = f"shop {shop.name}: database {shop.db.safe}"

    def probe() -> None:
        engine = create_engine(shop.db)
        try:
            with translated(what), engine.connect() as conn:
                names = TableNames.read(conn)
                _check_shop_tables(conn, names, shop, report)
                _needs(report, f"shop {shop.name}", needs.shop_consumer, conn, shop)
                if "configuration" in names and "currencies" in names:
                    _check_currency(conn, shop, currency, report)
                if "languages" in names and "tax_class" in names:
                    _check_shop_mappings(conn, shop, tax_codes, report)
                    report.ok.append(f"shop {shop.name}: database reachable")
                _guard(report, f"shop {shop.name}: order import",
                       lambda: _check_orders(conn, names, shop, erp, report))
                if "orders_status" in names:
                    _check_statuses(conn, shop, report)
        finally:
            engine.dispose()

    _guard(report, f"shop {shop.name}", probe)
    _check_images(shop, report)


def _needs(report: CheckReport, where: str, check: Callable[[DbConnection, Any], list[str]],
           conn: DbConnection, config: Any) -> None:
    """Own tables and grants one service needs in this database (``needs``)."""
    problems = _guard(report, where, lambda: check(conn, config))
    report.problems += [f"{where}: {p}" for p in problems or []]


def _check_images(shop: ShopConfig, report: CheckReport) -> None:
    """C9: both image folders answer; without images_url the shop gets file names only."""
    if shop.images is None:
        report.ok.append(f"shop {shop.name}: images: file names only, no file copy "
                         "(no images_url)")
        return
    from consumers.folders import Folder

    for folder in (Folder(shop.images.source), Folder(shop.images.target)):
        if _guard(report, f"shop {shop.name}: image folder {folder.safe}", folder.probe):
            report.ok.append(f"shop {shop.name}: image folder {folder.safe} reachable")


def _check_currency(conn: DbConnection, shop: ShopConfig, currency: str,
                    report: CheckReport) -> None:
    """NOTES 1: products_price is in DEFAULT_CURRENCY (USD on a fresh install), whose
    currencies.value must be 1; CAO's prices would otherwise be shown in another currency."""
    default = conn.exec_driver_sql(
        "SELECT configuration_value FROM configuration WHERE configuration_key = "
        "'DEFAULT_CURRENCY'").scalar()
    if default != currency:
        report.problems.append(
            f"shop {shop.name}: DEFAULT_CURRENCY is {default!r}, but the ERP's prices are "
            f"{currency} (erp.currency): make {currency} the shop's default currency")
        return
    value = conn.exec_driver_sql("SELECT value FROM currencies WHERE code = %s",
                                 (currency,)).scalar()
    if value is None or abs(float(value) - 1) > 1e-6:
        report.problems.append(
            f"shop {shop.name}: currency {currency} has value "
            f"{'none' if value is None else f'{float(value):.4f}'} in the shop; the "
            "default currency needs value 1, or every price is converted")


def _check_statuses(conn: DbConnection, shop: ShopConfig, report: CheckReport) -> None:
    """O5, order statuses: CAO keeps the shop's own status ids, so they must exist there."""
    status = shop.orders.imported_status
    if status is None:
        return
    known = {int(r[0]) for r in conn.exec_driver_sql(
        "SELECT DISTINCT orders_status_id FROM orders_status")}
    if status not in known:
        report.problems.append(
            f"shop {shop.name}: orders.imported_status {status} is not an order status of the "
            f"shop (it has {', '.join(map(str, sorted(known)))})")


def _check_shop_tables(conn: DbConnection, names: TableNames, shop: ShopConfig,
                       report: CheckReport) -> None:
    from consumers.oscommerce.tables import metadata

    for table in metadata.sorted_tables:
        real = names.find(table.name)
        if real is None:
            report.problems.append(f"shop {shop.name}: table {table.name} missing")
            continue
        have = columns_of(conn, real)
        for column in table.columns:
            if column.name.upper() not in have:
                report.problems.append(
                    f"shop {shop.name}: column {table.name}.{column.name} missing")


def _check_shop_mappings(conn: DbConnection, shop: ShopConfig, tax_codes: set[int],
                         report: CheckReport) -> None:
    languages = {c: i for c, i in conn.exec_driver_sql(
        "SELECT code, languages_id FROM languages")}
    for code in shop.languages:
        if code not in languages:
            report.problems.append(f"shop {shop.name}: language {code!r} is "
                                   "configured but not in the shop's languages")
    for code, lid in sorted(languages.items()):
        if code not in shop.languages:
            report.problems.append(
                f"shop {shop.name}: shop language {code!r} (id {lid}) is not in "
                "'languages': products would be 'not found' in it")
    classes = {r[0] for r in conn.exec_driver_sql("SELECT tax_class_id FROM tax_class")}
    for tax_code, class_id in sorted(shop.tax_classes.items()):
        if class_id not in classes:
            report.problems.append(f"shop {shop.name}: tax_classes maps CAO tax "
                                   f"code {tax_code} to tax_class_id {class_id}, which "
                                   "the shop does not have")
    for tax_code in sorted(tax_codes):
        if tax_code not in shop.tax_classes:
            report.problems.append(f"shop {shop.name}: CAO tax code {tax_code} is used "
                                   "by articles but has no entry in tax_classes")


# -- order import: the CAO side (read once per tenant) ---------------------------------------

def _read_erp_facts(conn: DbConnection, tenant: TenantConfig) -> ErpOrderFacts:
    from consumers.cao.importer import TABLES, read_import_notes
    from consumers.cao.tables import required_columns
    from systems.cao import NUMBERS_KEY, registry_vat_rates, resolve

    names = TableNames.read(conn)
    facts = ErpOrderFacts()
    resolved, missing = resolve(names, TABLES, tenant.erp)
    facts.missing_tables = [" or ".join(candidates) for candidates in missing.values()]
    t: dict[str, str] = {}
    for logical, found in resolved.items():
        t[logical] = quote_ident(found)
        have = columns_of(conn, found)
        facts.missing_columns += [f"{logical}.{column}" for column
                                  in required_columns().get(logical, ()) if column not in have]
    if "REGISTRY" in t:
        facts.number_ranges = Counter(int(r[0]) for r in conn.exec_driver_sql(
            f"SELECT VAL_INT FROM {t['REGISTRY']} WHERE MAINKEY = %s AND VAL_INT IS NOT NULL",
            (NUMBERS_KEY,)))
        facts.vat_rates = registry_vat_rates(conn, t["REGISTRY"])
    if "LAND" in t:
        facts.lands = {str(r[0]) for r in conn.exec_driver_sql(f"SELECT ID FROM {t['LAND']}")}
    payments = names.find("ZAHLUNGSARTEN")
    if payments is not None:
        ids = {int(r[0]) for r in conn.exec_driver_sql(
            f"SELECT REC_ID FROM {quote_ident(payments)}")}
        facts.payment_ids = ids or None
    facts.import_notes = {shop.name: read_import_notes(conn, shop.name, newest=1)
                          for shop in tenant.shops}
    facts.access = needs.erp_order_import(conn, tenant)
    return facts


# -- order import: the shop side -------------------------------------------------------------

def _check_orders(conn: DbConnection, names: TableNames, shop: ShopConfig,
                  erp: ErpOrderFacts | None, report: CheckReport) -> None:
    settings = shop.orders
    usage = OrderUsage()
    missing = [table for table in SHOP_ORDER_TABLES if table not in names]
    for table in missing:
        report.problems.append(f"shop {shop.name}: table {table} missing: orders cannot be read")
    if not missing:
        with translated(f"shop {shop.name}: database {shop.db.safe}"):
            usage = _read_usage(conn, settings.first_order_id)
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
    if "configuration" in names and "tax_class" in names:
        _check_shipping_modules(conn, shop, erp, report)


def _import_notes(shop: ShopConfig, erp: ErpOrderFacts | None) -> Iterator[str]:
    notes = erp.import_notes.get(shop.name) if erp is not None else None
    if notes is None or not notes.orders:
        return
    order_id, number, text = notes.newest[0]
    first = text.splitlines()[0]
    yield (f"{_orders(notes.orders)} imported with import notes (free-text positions, fitted "
           f"text, ...), newest: order {order_id} (CAO {number}): {first}; all: "
           f"'shopbridge orders count --shop {shop.name}'")


def _recent_orders() -> str:
    """The shop's most recent orders from first_order_id on (parameters: that id, a limit)."""
    return ("(SELECT orders_id, payment_method, billing_country, billing_country_id, "
            "delivery_country, delivery_country_id FROM orders WHERE orders_id >= %s "
            "ORDER BY orders_id DESC LIMIT %s) o")


def _read_usage(conn: DbConnection, first_order_id: int) -> OrderUsage:
    from producers.oscommerce.orders import _shipping_method

    usage = OrderUsage()
    rows = conn.exec_driver_sql(
        "SELECT o.payment_method, bc.countries_iso_code_2, o.billing_country, "
        f"dc.countries_iso_code_2, o.delivery_country FROM {_recent_orders()} "
        "LEFT JOIN countries bc ON bc.countries_id = o.billing_country_id "
        "LEFT JOIN countries dc ON dc.countries_id = o.delivery_country_id",
        (first_order_id, ORDER_SAMPLE)).all()
    for payment, billing_iso, billing, delivery_iso, delivery in rows:
        usage.orders += 1
        usage.payments[payment or ""] += 1
        usage.countries.update({iso for iso in (billing_iso, delivery_iso) if iso})
        usage.nameless.update({name for iso, name in ((billing_iso, billing),
                                                      (delivery_iso, delivery)) if not iso})
    totals: dict[int, list[Mapping[str, Any]]] = {}
    for row in rows_by_name(conn.exec_driver_sql(
            f"SELECT t.orders_id, t.class, t.title FROM {_recent_orders()} "
            "JOIN orders_total t ON t.orders_id = o.orders_id AND t.class = %s "
            "ORDER BY t.orders_id, t.sort_order, t.orders_total_id",
            (first_order_id, ORDER_SAMPLE, "ot_shipping"))):
        totals.setdefault(row["orders_id"], []).append(row)
    usage.shippings.update(title for title in map(_shipping_method, totals.values()) if title)
    return usage


def _orders(count: int) -> str:
    return f"{count} order{'' if count == 1 else 's'}"


def _import_prerequisites(shop: ShopConfig, erp: ErpOrderFacts | None) -> Iterator[str]:
    from systems.cao import DEB_NUM_RANGE, KUNNUM_RANGE, NUMBERS_KEY, number_range

    if shop.filter.cao_shop_id is None:
        yield ("no filter.cao_shop_id: CAO tags each imported order with it "
               "(JOURNAL.SHOP_ID), so no order can be imported")
    if erp is None:
        return
    for table in erp.missing_tables:
        yield f"CAO table {table} missing: the order import needs it"
    for line in erp.access:
        yield f"CAO database: {line}"
    for column in erp.missing_columns:
        yield f"CAO column {column} missing: the order import writes or reads it"
    if erp.number_ranges is None:
        return
    quelle = shop.orders.quelle
    ranges = ((number_range(quelle), f"{shop.orders.document} documents (QUELLE {quelle})"),
              (KUNNUM_RANGE, "customer numbers (ADRESSEN.KUNNUM1)"),
              (DEB_NUM_RANGE, "debtor numbers (ADRESSEN.DEB_NUM)"))
    for key, what in ranges:
        count = erp.number_ranges[key]
        where = f"REGISTRY MAINKEY '{NUMBERS_KEY}' with VAL_INT {key}"
        if count == 0:
            yield f"CAO has no number range {key} for {what} ({where})"
        elif count > 1:
            yield (f"CAO has {count} number ranges {key} for {what} ({where}): the import "
                   "needs exactly one")


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
    from systems.cao import DEFAULT_VAT

    code = settings.shipping_tax_code
    if erp is None or erp.vat_rates is None or code in erp.vat_rates:
        return
    # The importer falls back to this code only for orders without VAT rows (documents.py).
    fallback = DEFAULT_VAT.get(code)
    outcome = (f"be booked at the built-in default of {fallback} %" if fallback is not None
               else "be refused (dead-lettered)")
    yield (f"orders.shipping_tax_code {code} has no rate in CAO REGISTRY MAIN\\MWST: the "
           f"shipping and fees of orders without VAT rows would {outcome}")


def _check_shipping_modules(conn: DbConnection, shop: ShopConfig, erp: ErpOrderFacts | None,
                            report: CheckReport) -> None:
    """Issue 8: do the shop's shipping modules tax shipping as orders.shipping_tax_code does?

    Phoenix keeps each module's tax class in ``configuration``: MODULE_SHIPPING_INSTALLED
    lists the module files ('flat.php;item.php'), MODULE_SHIPPING_<CODE>_STATUS 'True' offers
    the module at checkout (anything else, or no row: not offered), and
    MODULE_SHIPPING_<CODE>_TAX_CLASS is its tax class; ot_shipping adds tax only when that is
    > 0, so 0, no number or no row at all means untaxed shipping.

    The importer books shipping at the tax the order itself records and falls back to
    shipping_tax_code only where the order has no tax rows, so a disagreement breaks no import:
    it is a note. Untaxed agrees with a code whose CAO rate is 0; tax class N agrees when
    tax_classes maps the configured code, or another CAO code with the same rate, to N.
    Phoenix's own rate of class N (which depends on the delivery zone) is not read.
    """
    from systems.cao import DEFAULT_VAT

    if erp is None:                 # CAO unreadable: already a problem; no rates to compare
        return
    code = shop.orders.shipping_tax_code
    rates = dict(DEFAULT_VAT) | (erp.vat_rates or {})
    rate = rates.get(code)
    if rate is None:                # _shipping_tax says so
        return
    config: dict[str, str] = dict(conn.exec_driver_sql(
        "SELECT configuration_key, configuration_value FROM configuration "
        "WHERE configuration_key LIKE %s", ("MODULE_SHIPPING_%",)).all())
    titles = {int(i): t for i, t in conn.exec_driver_sql(
        "SELECT tax_class_id, tax_class_title FROM tax_class")}
    percent = f"{rate.normalize():f} %"
    agree: list[str] = []
    disabled: list[str] = []
    for module in _installed(config.get("MODULE_SHIPPING_INSTALLED")):
        key = f"MODULE_SHIPPING_{module.upper()}_"
        if config.get(key + "STATUS") != "True":
            disabled.append(module)
            continue
        raw = config.get(key + "TAX_CLASS")
        class_id = _tax_class(raw)
        if class_id == 0:
            if rate == 0:
                agree.append(module)
                continue
            what = ("no tax (tax class 0)" if raw is not None and raw.strip() == "0" else
                    f"no tax ({key}TAX_CLASS {'not set' if raw is None else repr(raw)})")
            where = ""
        else:
            if any(n == class_id and rates.get(c) == rate for c, n in shop.tax_classes.items()):
                agree.append(module)
                continue
            mapped = shop.tax_classes.get(code)
            title = titles.get(class_id, "not in table tax_class")
            what = f"tax class {class_id} ({title})"
            where = (", which has no tax_classes entry" if mapped is None else
                     f", which tax_classes maps to class {mapped}")
        report.notes.append(
            f"shop {shop.name}: shipping module {module} charges {what}, but "
            f"orders.shipping_tax_code {code} is {percent} in CAO{where}: orders whose tax "
            f"rows are missing would book its shipping at {percent}")
    parts = []
    if agree:
        parts.append(f"module(s) {', '.join(agree)} agree with orders.shipping_tax_code {code} "
                     f"({percent})")
    if disabled:
        parts.append(f"module(s) {', '.join(disabled)} not offered (STATUS not 'True'), "
                     "not compared")
    if parts:
        report.ok.append(f"shop {shop.name}: shipping tax: {'; '.join(parts)}")


def _installed(value: str | None) -> list[str]:
    """Module codes from MODULE_SHIPPING_INSTALLED ('flat.php;item.php' -> flat, item)."""
    return [f.strip().removesuffix(".php") for f in (value or "").split(";") if f.strip()]


def _tax_class(raw: str | None) -> int:
    """A module's TAX_CLASS as ot_shipping uses it: a class > 0 taxes, anything else does not."""
    try:
        return max(int(str(raw).strip()), 0)
    except ValueError:
        return 0
