"""INTERIM, until prices.py (C4-C7) plugs into the aspect slot: the standard net price at the
shop's ``price_level``, one row for all shopper groups (group 0), so that a synced product is
buyable (NOTES 9.5) and the contract suite can read its price.

The product's price rows are replaced as a set and ``has_prices`` is written exactly (NOTES
10: 0 would make VM skip the lookup). When prices.py is wired in ``VirtueMartApplier.aspects``,
this module goes.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from sqlalchemy.engine import Connection

from shopbridge.errors import MappingError

from .aspects import MapContext, ShopFacts

PRICE_MAX = Decimal("999999999.999999")      # decimal(15,6)


class BasePrice:
    name = "base_price"

    def __init__(self, facts: ShopFacts) -> None:
        self.facts = facts

    def map(self, payload: Mapping[str, Any], context: MapContext) -> Any:
        level = str(self.facts.shop.price_level)
        entry = payload["prices"].get(level)
        if entry is None:
            raise MappingError(f"{context.what}: field payload.prices.{level}: price level "
                               f"VK{level} missing for shop {self.facts.shop.name!r}")
        try:
            net = Decimal(entry["net"])
        except (InvalidOperation, TypeError):
            raise MappingError(f"{context.what}: field payload.prices.{level}.net: "
                               f"{entry['net']!r} is not a decimal number") from None
        if not 0 <= net <= PRICE_MAX:
            raise MappingError(f"{context.what}: field payload.prices.{level}.net: {net} "
                               "does not fit product_price decimal(15,6) >= 0")
        return [str(net), context.tax_id]

    def write(self, conn: Connection, data: Mapping[int, Any], now: datetime) -> None:
        if not data:
            return
        t = self.facts.tables
        ids = sorted(data)
        marks = ", ".join(["%s"] * len(ids))
        conn.exec_driver_sql(f"DELETE FROM {t.product_prices} WHERE virtuemart_product_id "
                             f"IN ({marks})", tuple(ids))
        conn.exec_driver_sql(
            f"INSERT INTO {t.product_prices} (virtuemart_product_id, "
            f"virtuemart_shoppergroup_id, product_price, override, product_override_price, "
            f"product_tax_id, product_discount_id, product_currency, price_quantity_start, "
            f"price_quantity_end, created_on, modified_on) "
            f"VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s)",
            [(pid, 0, data[pid][0], 0, 0, data[pid][1], 0, self.facts.currency_id, 0, 0,
              now, now) for pid in ids])
        conn.exec_driver_sql(f"UPDATE {t.products} SET has_prices = 1 WHERE "
                             f"virtuemart_product_id IN ({marks})", tuple(ids))
