"""Applies catalogue events to an osCommerce (CE Phoenix) shop database.

The catalogue core (consumers/shop_applier.py) decides what a batch changes and in which
order; this module assembles Phoenix's writers for it: the product rows (``PhoenixAdapter``),
images, specials on schedule, variants as attributes, manufacturers, categories, customers
and order statuses with their e-mails.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from shopbridge.config import ShopConfig
from shopbridge.errors import ConfigError
from shopbridge.events import Event

from ..mailer import Mailer
from ..shop_applier import BatchFacts, ShopApplier, ShopWriters
from .adapter import PhoenixAdapter
from .categories import CategoryWriter
from .customers import CustomerWriter
from .images import PhoenixImageColumns
from .manufacturers import ManufacturerWriter
from .mapper import ProductRow, map_product
from .specials import SpecialsScheduler
from .statuses import StatusWriter, mark_notified
from .variants import VariantWriter

# What the Phoenix core has no place for (docs/architecture.md, "Tier and group prices").
UNSUPPORTED = {
    "tiers": "tier prices",
}


class PhoenixApplier(ShopApplier[ProductRow]):
    """Args:
        shop: the shop's configuration.
        engine: optional, for tests that bring their own.
        clock: the shop's local time for specials (tests pass a controllable one).
    """

    quote_escaping = True

    def __init__(self, *, shop: ShopConfig, engine: sa.Engine | None = None,
                 clock: Callable[[], datetime] | None = None) -> None:
        super().__init__(shop=shop, engine=engine)
        self.language_ids: dict[str, int] = {}
        self.adapter = PhoenixAdapter(consecutive_ids=True)
        self.manufacturers = ManufacturerWriter(shop=shop, binder=self.binder, language_ids={})
        self.categories = CategoryWriter(shop=shop, binder=self.binder, language_ids={},
                                         source=shop.categories)
        self.specials = SpecialsScheduler(clock)
        self.variants = VariantWriter(binder=self.binder, language_ids={})
        self.mailer = (Mailer(config=shop.mail, engine=self.engine,
                              mark_notified=mark_notified)
                       if shop.mail is not None else None)
        own_tables: list[Callable[[Connection], None]] = [self.specials.ensure_table]
        idle_work: list[Callable[[], object]] = [lambda: self.specials.tick(self.engine)]
        if self.mailer is not None:
            own_tables.append(self.mailer.ensure_table)
            idle_work.append(self.mailer.flush)
        self.writers = ShopWriters(
            manufacturers=self.manufacturers,
            categories=self.categories,
            customers=CustomerWriter(shop=shop, binder=self.binder),
            order_statuses=StatusWriter(shop=shop, binder=self.binder),
            products=self.adapter,
            map_product=self._map_product,
            image_columns=PhoenixImageColumns(),
            product_aspects=(self._write_specials, self._write_variants),
            unsupported=UNSUPPORTED,
            own_tables=own_tables,
            idle_work=idle_work)

    def read_shop(self, conn: Connection) -> None:
        """The shop's language ids and whether multi-row inserts get consecutive ids.

        Raises:
            ConfigError: a configured language is not in the shop's languages table.
        """
        available = PhoenixAdapter.language_ids(conn)
        missing = [code for code in self.shop.languages if code not in available]
        if missing:
            raise ConfigError(f"shop {self.shop.name!r}: language(s) {', '.join(missing)} "
                              "not in the shop's languages table")
        self.language_ids = {code: available[code] for code in self.shop.languages}
        for writer in (self.manufacturers, self.categories, self.variants):
            writer.language_ids = dict(self.language_ids)
        self.adapter.read_schema(conn)

    def _map_product(self, event: Event, facts: BatchFacts) -> ProductRow:
        return map_product(event.payload, shop=self.shop, language_ids=self.language_ids,
                           what=str(event), manufacturer_ids=facts.manufacturer_ids,
                           filter_categories=facts.filter_categories)

    def _write_specials(self, conn: Connection, rows: Mapping[int, ProductRow],
                        now: datetime) -> None:
        windows = {pid: row.specials for pid, row in rows.items()}
        fresh = self.adapter.fresh.of(conn)
        self.specials.set_windows(conn, windows, fresh=fresh)
        self.specials.reconcile(conn, windows, fresh=fresh)

    def _write_variants(self, conn: Connection, rows: Mapping[int, ProductRow],
                        now: datetime) -> None:
        self.variants.apply(conn, {pid: row.variants for pid, row in rows.items()})
