"""Indexes the order import needs in CAO as it grows (issue 14): CAO's DDL has none on the
columns the importer looks orders and customers up by, so each import scans JOURNAL and
ADRESSEN (+0.8 ms per order per 1,000 journals, bench/RESULTS.md).

``shopbridge erp-indexes --add`` adds them to the merchant's CAO database, named
``shopbridge_*`` so that ``--remove`` drops exactly these and nothing of CAO's own. They change
no data and nothing CAO reads or writes; MyISAM rebuilds the table for each ALTER (seconds for
100,000 rows, the table locked meanwhile: run it when nobody books). ``check`` notes the missing
ones. An index CAO (or the merchant) already has on the same leading columns counts as there.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy.engine import Connection

from shopbridge.config import TenantConfig
from shopbridge.db import TableNames, quote_ident
from systems.cao import resolve

from .importer import TABLES


@dataclass(frozen=True)
class ErpIndex:
    table: str                 # logical CAO table
    name: str
    columns: tuple[str, ...]
    why: str


INDEXES = (
    ErpIndex("JOURNAL", "shopbridge_shop_order", ("SHOP_ID", "SHOP_ORDERID"),
             "an imported order is looked up by shop and order id"),
    ErpIndex("ADRESSEN", "shopbridge_email", ("EMAIL",),
             "a guest or new customer is found by e-mail"),
    ErpIndex("ADRESSEN", "shopbridge_shop_customer", ("SHOP_ID", "SHOP_KUNDE_ID"),
             "a registered customer is found by shop and customer id"),
    ErpIndex("ADRESSEN_LIEF", "shopbridge_delivery", ("ADDR_ID",),
             "a customer's delivery address is reused when the same one comes again"),
)


def _leading_columns(conn: Connection, table: str) -> tuple[set[tuple[str, ...]], set[str]]:
    """(leading column tuples of every index, index names) of a table."""
    rows = conn.exec_driver_sql(
        "SELECT INDEX_NAME, SEQ_IN_INDEX, COLUMN_NAME FROM information_schema.STATISTICS "
        "WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME = %s ORDER BY INDEX_NAME, SEQ_IN_INDEX",
        (table,))
    columns: dict[str, list[str]] = {}
    for name, _, column in rows:
        columns.setdefault(str(name), []).append(str(column).upper())
    leading = {tuple(cols[:n]) for cols in columns.values() for n in range(1, len(cols) + 1)}
    return leading, set(columns)


def status(conn: Connection, tenant: TenantConfig) -> list[tuple[ErpIndex, str, bool, bool]]:
    """(index, real table, an index covers it, ours is there) per wanted index."""
    resolved, _ = resolve(TableNames.read(conn), TABLES, tenant.erp)
    out = []
    for index in INDEXES:
        table = resolved.get(index.table)
        if table is None:
            continue
        leading, names = _leading_columns(conn, table)
        out.append((index, table, index.columns in leading, index.name in names))
    return out


def missing_notes(conn: Connection, tenant: TenantConfig) -> list[str]:
    """``check``'s note (one line): the wanted indexes that no index covers."""
    missing = [f"{table}({', '.join(index.columns)})"
               for index, table, covered, _ in status(conn, tenant) if not covered]
    if not missing:
        return []
    return [f"CAO lacks the indexes the order import looks orders and customers up by "
            f"({', '.join(missing)}): imports slow down as CAO grows; 'shopbridge erp-indexes "
            f"--add' adds them"]


def change(conn: Connection, tenant: TenantConfig, action: str) -> list[str]:
    """``show``, ``add`` (the missing ones) or ``remove`` (ours only); one line per index."""
    lines = []
    for index, table, covered, ours in status(conn, tenant):
        columns = ", ".join(index.columns)
        if action == "add" and not covered:
            conn.exec_driver_sql(
                f"ALTER TABLE {quote_ident(table)} ADD INDEX {quote_ident(index.name)} "
                f"({', '.join(quote_ident(c) for c in index.columns)})")
            lines.append(f"{table}: added {index.name} ({columns})")
        elif action == "remove" and ours:
            conn.exec_driver_sql(f"ALTER TABLE {quote_ident(table)} DROP INDEX "
                                 f"{quote_ident(index.name)}")
            lines.append(f"{table}: removed {index.name} ({columns})")
        else:
            state = ("ours" if ours else "covered by CAO's own") if covered else "missing"
            lines.append(f"{table} ({columns}): {state}")
    return lines
