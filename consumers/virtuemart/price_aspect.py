"""The price aspect of a VirtueMart product (C4-C7): ``prices.py`` plans a product's whole set
of ``product_prices`` rows, ``price_writer.replace_prices`` writes it.

The shop's part of the plan (``PriceSettings``) is built once the applier has read the shop:
- shopper group -> CAO price level from the ``shopper_groups`` option; group 0 (everyone) at
  the shop's ``price_level`` unless the option names group 0;
- the site time zone from the ``timezone`` option (Joomla keeps it in configuration.php,
  out of the database's reach), the offers' dates being the ERP's calendar days there;
- gross or net rows from the ``gross_prices`` option (see options.py for why not VM's config);
- the vendor's currency (``shop.vendor_currency_id``);
- ``product_tax_id`` is not a setting: the mapper looks the product's CAO tax code up in the
  shop's ``tax_classes`` once (``MapContext.tax_id``; a calc rule id, 0 for VM's automatic
  rules, -1 for none) and refuses a code without an entry.
"""

from __future__ import annotations

import zoneinfo
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from sqlalchemy.engine import Connection

from shopbridge.errors import ConfigError

from ..fresh import FreshIds
from .aspects import MapContext, ShopFacts
from .price_writer import replace_prices
from .prices import PriceRow, PriceSettings, price_rows


def price_settings(facts: ShopFacts) -> PriceSettings:
    """The shop's price settings, from its configuration and what ``read_shop`` read.

    Raises:
        ConfigError: the vendor's currency is not known yet (``read_shop`` not run).
    """
    if facts.currency_id is None:
        raise ConfigError(f"shop {facts.shop.name!r}: the vendor's currency is not read yet")
    options = facts.options
    return PriceSettings(shopper_groups=dict(options.shopper_groups),
                         default_level=facts.shop.price_level,
                         site_tz=zoneinfo.ZoneInfo(options.timezone),
                         shows_gross=options.gross_prices, currency_id=facts.currency_id)


class ProductPrices:
    """VmAspect ``prices``: the rows as data (``PriceRow.data``), so that a changed price
    changes the product's content hash and an unchanged one costs nothing."""

    name = "prices"

    def __init__(self, facts: ShopFacts, fresh: FreshIds | None = None) -> None:
        self.facts = facts
        self.fresh = fresh or FreshIds()        # the store's: products it just inserted

    def map(self, payload: Mapping[str, Any], context: MapContext) -> Any:
        return [row.data() for row in price_rows(payload, self.settings(), tax_id=context.tax_id,
                                                  what=context.what)]

    def write(self, conn: Connection, data: Mapping[int, Any], now: datetime) -> None:
        # The store's new products: no rows to delete, and their INSERT wrote has_prices
        # from this same data (store._has_prices).
        fresh = self.fresh.of(conn)
        replace_prices(conn, self.facts.tables,
                       {pid: [PriceRow.from_data(row) for row in rows]
                        for pid, rows in data.items()}, now_utc=now,
                       fresh=fresh, flagged=fresh)

    def settings(self) -> PriceSettings:
        if self.facts.prices is None:
            self.facts.prices = price_settings(self.facts)
        return self.facts.prices
