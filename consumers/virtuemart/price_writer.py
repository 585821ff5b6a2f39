"""Writes products' price rows to VirtueMart as whole sets, with the exact ``has_prices`` flag.

A product's rows are replaced, never merged: the ERP's current prices are the whole truth,
so a tier, offer or shopper group the ERP dropped leaves no stale row behind. ``has_prices``
is written 1/0 in the same transaction: VM skips the price lookup of a product whose flag is
0 (NOTES 10, ``optimisedProductSql``), so a stale 0 hides new prices.

Plugs into the product applier as an aspect: ``PricesAspect(prefix)(conn, {id: row})``
with rows that carry their computed ``prices``.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from collections.abc import Set as AbstractSet
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Protocol

from sqlalchemy.engine import Connection

from shopbridge.db import marks

from .prices import PriceRow

PRICES_TABLE = "virtuemart_product_prices"
PRODUCTS_TABLE = "virtuemart_products"
_PREFIX = re.compile(r"[A-Za-z0-9_]*\Z")
_COLUMNS = ("virtuemart_product_id", "virtuemart_shoppergroup_id", "product_price", "override",
            "product_override_price", "product_tax_id", "product_discount_id",
            "product_currency", "product_price_publish_up", "product_price_publish_down",
            "price_quantity_start", "price_quantity_end", "created_on", "modified_on")


class HasPrices(Protocol):
    """A product row of the applier that carries its computed price rows."""

    @property
    def prices(self) -> Sequence[PriceRow]: ...


@dataclass(frozen=True, slots=True)
class PricesAspect:
    """The price aspect of a product write: ``(conn, {virtuemart_product_id: row}) -> None``."""

    prefix: str

    def __call__(self, conn: Connection, products: Mapping[int, HasPrices]) -> None:
        replace_prices(conn, self.prefix, {pid: row.prices for pid, row in products.items()})


def replace_prices(conn: Connection, prefix: str,
                   prices: Mapping[int, Sequence[PriceRow]], *,
                   now_utc: datetime | None = None,
                   fresh: AbstractSet[int] = frozenset()) -> None:
    """Make each product's price rows exactly ``prices[id]`` and its ``has_prices`` 1 or 0.

    One DELETE and one multi-row INSERT for all products, whatever their number (PyMySQL
    turns the INSERT's executemany into multi-row statements).

    Args:
        prefix: the Joomla table prefix, e.g. 'jos_'.
        prices: virtuemart_product_id -> its complete set of rows (empty: no price).
        now_utc: the audit time for created_on/modified_on (UTC, as VM's audit columns).
        fresh: products inserted in this transaction: no rows to delete.
    Raises:
        ValueError: a prefix that is not a plain identifier part.
    """
    if not _PREFIX.match(prefix):
        raise ValueError(f"table prefix {prefix!r} may hold only letters, digits and '_'")
    if not prices:
        return
    now = (now_utc or datetime.now(UTC)).replace(tzinfo=None, microsecond=0)
    ids = sorted(prices)
    old = [pid for pid in ids if pid not in fresh]
    if old:
        conn.exec_driver_sql(
            f"DELETE FROM `{prefix}{PRICES_TABLE}` WHERE virtuemart_product_id IN "
            f"({marks(old)})", tuple(old))
    values = [(pid, r.virtuemart_shoppergroup_id, r.product_price, r.override,
               r.product_override_price, r.product_tax_id, r.product_discount_id,
               r.product_currency, r.product_price_publish_up, r.product_price_publish_down,
               r.price_quantity_start, r.price_quantity_end, now, now)
              for pid in ids for r in prices[pid]]
    if values:
        conn.exec_driver_sql(
            f"INSERT INTO `{prefix}{PRICES_TABLE}` ({', '.join(_COLUMNS)}) "
            f"VALUES ({marks(_COLUMNS)})", values)
    for flag in (1, 0):
        flagged = [pid for pid in ids if bool(prices[pid]) == bool(flag)]
        if flagged:
            conn.exec_driver_sql(
                f"UPDATE `{prefix}{PRODUCTS_TABLE}` SET has_prices = %s "
                f"WHERE virtuemart_product_id IN ({marks(flagged)})", (flag, *flagged))
