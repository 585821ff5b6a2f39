"""Writes products' price rows to VirtueMart as whole sets, with the exact ``has_prices`` flag.

A product's rows are replaced, never merged: the ERP's current prices are the whole truth,
so a tier, offer or shopper group the ERP dropped leaves no stale row behind. ``has_prices``
is written 1/0 in the same transaction: VM skips the price lookup of a product whose flag is
0 (NOTES 10, ``optimisedProductSql``), so a stale 0 hides new prices.

The price aspect (``price_aspect.ProductPrices``) writes a batch's products through
``replace_prices``, the product store a batch's variant children.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from collections.abc import Set as AbstractSet
from datetime import UTC, datetime

from sqlalchemy.engine import Connection

from shopbridge.db import delete_in, marks

from .prices import PriceRow
from .shop import Tables

_COLUMNS = ("virtuemart_product_id", "virtuemart_shoppergroup_id", "product_price", "override",
            "product_override_price", "product_tax_id", "product_discount_id",
            "product_currency", "product_price_publish_up", "product_price_publish_down",
            "price_quantity_start", "price_quantity_end", "created_on", "modified_on")


def replace_prices(conn: Connection, tables: Tables,
                   prices: Mapping[int, Sequence[PriceRow]], *,
                   now_utc: datetime | None = None,
                   fresh: AbstractSet[int] = frozenset(),
                   flagged: AbstractSet[int] = frozenset()) -> None:
    """Make each product's price rows exactly ``prices[id]`` and its ``has_prices`` 1 or 0.

    One DELETE and one multi-row INSERT for all products, whatever their number (PyMySQL
    turns the INSERT's executemany into multi-row statements).

    Args:
        tables: the shop's table names.
        prices: virtuemart_product_id -> its complete set of rows (empty: no price).
        now_utc: the audit time for created_on/modified_on (UTC, as VM's audit columns).
        fresh: products inserted in this transaction: no rows to delete.
        flagged: products whose ``has_prices`` their INSERT in this transaction already set
            from these same rows (the store's new products): no UPDATE of the flag.
    """
    if not prices:
        return
    now = (now_utc or datetime.now(UTC)).replace(tzinfo=None, microsecond=0)
    ids = sorted(prices)
    old = [pid for pid in ids if pid not in fresh]
    delete_in(conn, tables.product_prices, "virtuemart_product_id", old)
    values = [(pid, r.virtuemart_shoppergroup_id, r.product_price, r.override,
               r.product_override_price, r.product_tax_id, r.product_discount_id,
               r.product_currency, r.product_price_publish_up, r.product_price_publish_down,
               r.price_quantity_start, r.price_quantity_end, now, now)
              for pid in ids for r in prices[pid]]
    if values:
        conn.exec_driver_sql(
            f"INSERT INTO {tables.product_prices} ({', '.join(_COLUMNS)}) "
            f"VALUES ({marks(_COLUMNS)})", values)
    for flag in (1, 0):
        group = [pid for pid in ids if bool(prices[pid]) == bool(flag) and pid not in flagged]
        if group:
            conn.exec_driver_sql(
                f"UPDATE {tables.products} SET has_prices = %s "
                f"WHERE virtuemart_product_id IN ({marks(group)})", (flag, *group))
