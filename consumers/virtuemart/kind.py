"""VirtueMart 4.4 (Joomla 5) as a shop sink: the object registered under
``shopbridge.shop_sinks`` in pyproject.toml (``shopbridge.kinds.ShopSink``)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import sqlalchemy as sa

from shopbridge.config import ShopConfig
from shopbridge.kinds import ShopSink
from shopbridge.needs import Needs
from shopbridge.owntables import OwnTable
from shopbridge.probes import CatalogueLimits

from ..binder import TABLE as LINKS
from ..drift import ProductDrift
from ..history import TABLE as HISTORY
from ..imagefiles import OWN_TABLE as IMAGES
from ..mailer import TABLE as OUTBOX
from ..sink import ShopSinkParts
from . import demo, probes, tables
from .applier import VirtueMartApplier
from .categories import ORDER as CATEGORY_ORDER
from .drift import VmDriftFields
from .images import OWN_TABLE as MEDIA
from .mapper import ProductRow
from .options import VirtueMartOptions, parse_options, shop_options
from .store import VmProductStore


class VirtueMartSink(ShopSinkParts):
    check = staticmethod(probes.check)

    def limits(self, shop: ShopConfig) -> CatalogueLimits:
        # Quantity tiers and shopper-group prices are VirtueMart's own (product_prices rows
        # per group and quantity range, prices.py): nothing for the ERP's check to note.
        return CatalogueLimits()

    def open_orders_deducted(self) -> bool:
        # product_ordered counts the shop's open orders and the front end offers
        # in_stock - ordered; with orders_reach_erp in_stock is written as stock + ordered,
        # so the stock sent is what the shop offers (docs/virtuemart.md "Order status and stock").
        return not VmProductStore.orders_reach_erp

    def options(self, data: Mapping[str, Any]) -> VirtueMartOptions:
        return parse_options(data)

    def applier(self, shop: ShopConfig) -> VirtueMartApplier:
        return VirtueMartApplier(shop=shop)

    def drift(self, shop: ShopConfig) -> ProductDrift[ProductRow]:
        applier = VirtueMartApplier(shop=shop)
        return ProductDrift(applier, VmDriftFields(applier))

    def own_tables(self, shop: ShopConfig) -> list[OwnTable]:
        own = [LINKS, HISTORY, CATEGORY_ORDER, MEDIA]
        own += [IMAGES] if shop.images is not None else []
        # The applier keeps status e-mails in the outbox where mail is configured (O4): the
        # dry run's and check's list of own tables must name it, as osCommerce's does.
        own += [OUTBOX] if shop.mail is not None else []
        return own

    def ensure_tables(self, conn: sa.Connection, shop: ShopConfig) -> None:
        VirtueMartApplier(shop=shop, engine=conn.engine).ensure_tables(conn)

    def needs(self, shop: ShopConfig) -> Needs:
        prefix = _prefix(shop)
        reads = [t.name for t in tables.metadata(prefix).sorted_tables]
        return Needs(service=f"consume --shop {shop.name}", own=self.own_tables(shop),
                     reads=reads,
                     writes={prefix + name: grants
                             for name, grants in tables.WRITES.items()})

    def schema(self) -> sa.MetaData:
        return tables.metadata(tables.DEMO_PREFIX, demo.LANGUAGES, whole_shop=True)

    def demo_options(self) -> Mapping[str, object]:
        return demo.OPTIONS

    def demo_seed(self, conn: sa.Connection, shop: ShopConfig) -> None:
        demo.seed(conn, shop, _prefix(shop))

    def demo_counts(self, conn: sa.Connection, shop: ShopConfig) -> dict[str, int]:
        return demo.counts(conn, _prefix(shop))


def _prefix(shop: ShopConfig) -> str:
    """Raises:
        ConfigError: the shop has no [virtuemart] section."""
    return shop_options(shop).prefix


SINK: ShopSink = VirtueMartSink()
