"""``shopbridge check`` for the VirtueMart consumer: its tables and columns under the shop's
prefix, grants, active languages and their tables, the vendor currency against the ERP's, the
shopper groups the price mapping names, and the calc rules ``tax_classes`` names."""

from __future__ import annotations

from sqlalchemy.engine import Connection

from shopbridge import needs
from shopbridge.config import ShopConfig
from shopbridge.db import TableNames
from shopbridge.errors import ConfigError
from shopbridge.probes import CheckReport, ShopFacts

from .options import VirtueMartOptions
from .shop import Tables, active_languages, language_sizes, vendor_currency
from .tables import metadata


def check(conn: Connection, shop: ShopConfig, report: CheckReport, *, tax_codes: set[int],
          currency: str) -> ShopFacts:
    """The ``ShopSinkProbe`` of VirtueMart."""
    options = shop.options
    if not isinstance(options, VirtueMartOptions):
        report.problems.append(f"shop {shop.name}: [virtuemart] prefix is not configured")
        return ShopFacts()
    names = TableNames.read(conn)
    t = Tables(options.prefix)
    complete = report.tables(f"shop {shop.name}", conn, names,
                             metadata(options.prefix).sorted_tables,
                             hint=f" (is the prefix {options.prefix!r} right?)")
    report.needs(f"shop {shop.name}", needs.shop_consumer, conn, shop)
    if not complete:
        return ShopFacts()
    for tag in active_languages(conn, t):
        try:
            language_sizes(conn, t, tag)
        except ConfigError as err:
            report.problems.append(f"shop {shop.name}: {err}")
    shop_currency = vendor_currency(conn, t, options.vendor_id)
    if shop_currency != currency:
        report.problems.append(
            f"shop {shop.name}: vendor {options.vendor_id}'s currency is {shop_currency!r}, "
            f"but the ERP's prices are {currency} (erp.currency)")
    groups = {int(r[0]) for r in conn.exec_driver_sql(
        f"SELECT virtuemart_shoppergroup_id FROM {t.shoppergroups}")}
    for group in sorted(set(options.shopper_groups) - groups):
        report.problems.append(f"shop {shop.name}: shopper_groups names group {group}, "
                               "which the shop does not have")
    if names.find(f"{options.prefix}virtuemart_calcs") is not None:
        calcs = {int(r[0]) for r in conn.exec_driver_sql(
            f"SELECT virtuemart_calc_id FROM {t.calcs}")}
        for tax_code, calc_id in sorted(shop.tax_classes.items()):
            if calc_id not in calcs:
                report.problems.append(f"shop {shop.name}: tax_classes maps CAO tax code "
                                       f"{tax_code} to calc rule {calc_id}, which the shop "
                                       "does not have")
    for tax_code in sorted(tax_codes - set(shop.tax_classes)):
        report.problems.append(f"shop {shop.name}: CAO tax code {tax_code} is used by "
                               "articles but has no entry in tax_classes")
    report.ok.append(f"shop {shop.name}: database reachable")
    return ShopFacts()
