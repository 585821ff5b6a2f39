"""``shopbridge check`` for the Phoenix consumer: the tables and columns it writes, its
grants, the shop's default currency, and the shop's languages and tax classes against the
config; reads the shop's order statuses for the frame.
"""

from __future__ import annotations

from sqlalchemy.engine import Connection

from shopbridge import needs
from shopbridge.config import ShopConfig
from shopbridge.db import TableNames
from shopbridge.probes import CheckReport, ShopFacts

from .tables import metadata


def check(conn: Connection, shop: ShopConfig, report: CheckReport, *, tax_codes: set[int],
          currency: str) -> ShopFacts:
    """The ``ShopSinkProbe`` of osCommerce (Phoenix)."""
    names = TableNames.read(conn)
    report.tables(f"shop {shop.name}", conn, names, metadata.sorted_tables)
    report.needs(f"shop {shop.name}", needs.shop_consumer, conn, shop)
    if "configuration" in names and "currencies" in names:
        _check_currency(conn, shop, currency, report)
    if "languages" in names and "tax_class" in names:
        _check_mappings(conn, shop, tax_codes, report)
        report.ok.append(f"shop {shop.name}: database reachable")
    facts = ShopFacts()
    if "orders_status" in names:
        facts.order_status_ids = {int(r[0]) for r in conn.exec_driver_sql(
            "SELECT DISTINCT orders_status_id FROM orders_status")}
    return facts


def _check_currency(conn: Connection, shop: ShopConfig, currency: str,
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


def _check_mappings(conn: Connection, shop: ShopConfig, tax_codes: set[int],
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
