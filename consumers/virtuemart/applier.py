"""Applies catalogue events to a VirtueMart 4.4 shop database.

The catalogue core (consumers/shop_applier.py) decides what a batch changes and in which
order; this module assembles VirtueMart's writers for it and reads, in ``read_shop``, the
shop's active languages (with their tables' sizes) and the vendor's currency, from which the
price settings follow (price_aspect.py).
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from shopbridge.config import ShopConfig
from shopbridge.errors import ConfigError
from shopbridge.events import Event

from ..mailer import Mailer
from ..shop_applier import BatchFacts, ProductAspect, ShopApplier, ShopWriters
from .aspects import ShopFacts, VmAspect
from .caches import CacheCleaner
from .categories import CategoryWriter
from .customers import CustomerWriter
from .images import VmImageColumns
from .manufacturers import ManufacturerWriter
from .mapper import ProductRow, map_product
from .options import shop_options
from .price_aspect import ProductPrices, price_settings
from .shop import Language, Tables, active_languages, language_sizes, vendor_currency_id
from .statuses import VmStatusWriter, mark_notified_in
from .store import VmProductStore
from .variant_aspect import ProductVariants


class VirtueMartApplier(ShopApplier[ProductRow]):
    """Args:
        shop: the shop's configuration (``options``: its VirtueMartOptions).
        engine: optional, for tests that bring their own.
    """

    quote_escaping = True

    def __init__(self, *, shop: ShopConfig, engine: sa.Engine | None = None) -> None:
        super().__init__(shop=shop, engine=engine)
        options = shop_options(shop)
        self.facts = ShopFacts(shop=shop, options=options, tables=Tables(options.prefix))
        self.categories = CategoryWriter(shop=shop, binder=self.binder,
                                         tables=self.facts.tables, vendor_id=options.vendor_id)
        self.manufacturers = ManufacturerWriter(shop=shop, binder=self.binder,
                                                tables=self.facts.tables)
        products = VmProductStore(self.facts, self.binder)
        prices = ProductPrices(self.facts, fresh=products.fresh)
        # What only VirtueMart writes of a product: its price rows per shopper group
        # (C4-C7), then its variant field and child products (C8).
        self.aspects: list[VmAspect] = [
            prices, ProductVariants(self.facts, store=products, prices=prices,
                                    binder=self.binder)]
        self.image_columns = images = VmImageColumns(self.facts.tables, options.vendor_id)
        # O4: the customer's status e-mails go out after the commit (consumers/mailer.py).
        self.mailer = (Mailer(config=shop.mail, engine=self.engine,
                              mark_notified=mark_notified_in(self.facts.tables))
                       if shop.mail is not None else None)
        self.writers = ShopWriters(
            manufacturers=self.manufacturers,
            categories=self.categories,
            customers=CustomerWriter(shop=shop, binder=self.binder, tables=self.facts.tables,
                                     options=options),
            order_statuses=VmStatusWriter(shop=shop, options=options, store=products,
                                          tables=self.facts.tables, binder=self.binder),
            products=products,
            map_product=self._map_product,
            image_columns=images,
            product_aspects=[self._aspect_writer(a) for a in self.aspects],
            # Each variant child is a product with its own stock (C8).
            variant_stock=products.set_variant_quantities,
            own_tables=[self.categories.ensure_table, images.ensure_table,
                        *([self.mailer.ensure_table] if self.mailer else [])],
            idle_work=[self.mailer.flush] if self.mailer else [],
            after_commit=[CacheCleaner(options.cache_path).after_commit]
            if options.cache_path else [])

    def read_shop(self, conn: Connection) -> None:
        """The shop's active languages, the vendor's currency and the product image folder.

        Raises:
            ConfigError: a language table is missing, or the vendor has no currency.
        """
        t = self.facts.tables
        self.facts.languages = [Language(tag, language_sizes(conn, t, tag))
                                for tag in active_languages(conn, t)]
        self.facts.currency_id = vendor_currency_id(conn, t, self.facts.options.vendor_id)
        if self.facts.currency_id is None:
            raise ConfigError(f"shop {self.shop.name!r}: vendor "
                              f"{self.facts.options.vendor_id} has no currency in {t.vendors}")
        self.facts.prices = price_settings(self.facts)
        self.facts.media_folder = self.image_columns.folder(conn)
        self.categories.languages = list(self.facts.languages)
        self.manufacturers.languages = list(self.facts.languages)

    def _map_product(self, event: Event, facts: BatchFacts) -> ProductRow:
        return map_product(event.payload, facts=self.facts, what=str(event),
                           aspects=self.aspects, manufacturer_ids=facts.manufacturer_ids,
                           filter_categories=facts.filter_categories)

    @staticmethod
    def _aspect_writer(aspect: VmAspect) -> ProductAspect[ProductRow]:
        def write(conn: Connection, rows: Mapping[int, ProductRow], now: datetime) -> None:
            aspect.write(conn, {pid: row.aspect(aspect.name) for pid, row in rows.items()},
                         now)
        return write
