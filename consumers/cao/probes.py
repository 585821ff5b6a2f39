"""``shopbridge check`` for the CAO order import: what it needs in CAO (tables, columns,
grants, number ranges per shop) and CAO's facts the shops' order mappings point at (VAT
rates, LAND, payment methods), plus the import notes already recorded.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator

from sqlalchemy.engine import Connection

from shopbridge import needs
from shopbridge.config import ShopConfig, TenantConfig
from shopbridge.db import TableNames, columns_of, quote_ident
from shopbridge.probes import ErpOrderFacts
from systems.cao import (
    DEB_NUM_RANGE,
    DEFAULT_VAT,
    KUNNUM_RANGE,
    NUMBERS_KEY,
    number_range,
    registry_vat_rates,
    resolve,
)

from . import indexes
from .importer import TABLES, read_import_notes
from .tables import required_columns


def check(conn: Connection, tenant: TenantConfig) -> ErpOrderFacts:
    """The ``ErpSinkProbe`` of CAO: read once per tenant."""
    names = TableNames.read(conn)
    resolved, missing = resolve(names, TABLES, tenant.erp)
    missing_tables = [" or ".join(candidates) for candidates in missing.values()]
    missing_columns: list[str] = []     # "JOURNAL.SHOP_ORDERID"
    t: dict[str, str] = {}
    for logical, found in resolved.items():
        t[logical] = quote_ident(found)
        have = columns_of(conn, found)
        missing_columns += [f"{logical}.{column}" for column
                            in required_columns().get(logical, ()) if column not in have]
    facts = ErpOrderFacts(fallback_vat=DEFAULT_VAT)
    number_ranges: Counter[int] | None = None   # REGISTRY MAIN\NUMBERS: VAL_INT -> rows
    if "REGISTRY" in t:
        number_ranges = Counter(int(r[0]) for r in conn.exec_driver_sql(
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
    facts.notes = indexes.missing_notes(conn, tenant)
    # The import's own table and grants: problem lines.
    access = needs.erp_order_import(conn, tenant)
    facts.import_problems = {
        shop.name: [*(f"CAO table {table} missing: the order import needs it"
                      for table in missing_tables),
                    *(f"CAO database: {line}" for line in access),
                    *(f"CAO column {column} missing: the order import writes or reads it"
                      for column in missing_columns),
                    *_number_ranges(shop, number_ranges)]
        for shop in tenant.shops}
    return facts


def _number_ranges(shop: ShopConfig, number_ranges: Counter[int] | None) -> Iterator[str]:
    """Exactly one REGISTRY row per number range the shop's orders draw from."""
    if number_ranges is None:
        return
    quelle = shop.orders.quelle
    ranges = ((number_range(quelle), f"{shop.orders.document} documents (QUELLE {quelle})"),
              (KUNNUM_RANGE, "customer numbers (ADRESSEN.KUNNUM1)"),
              (DEB_NUM_RANGE, "debtor numbers (ADRESSEN.DEB_NUM)"))
    for key, what in ranges:
        count = number_ranges[key]
        where = f"REGISTRY MAINKEY '{NUMBERS_KEY}' with VAL_INT {key}"
        if count == 0:
            yield f"CAO has no number range {key} for {what} ({where})"
        elif count > 1:
            yield (f"CAO has {count} number ranges {key} for {what} ({where}): the import "
                   "needs exactly one")
