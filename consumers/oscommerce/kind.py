"""osCommerce (CE Phoenix Cart) as a shop sink: the object registered under
``shopbridge.shop_sinks`` in pyproject.toml. The core reaches the osCommerce consumer only
through it (``shopbridge.kinds.ShopSink``)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa

from shopbridge.config import ShopConfig, refuse_unknown
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
from .applier import PhoenixApplier
from .drift import PhoenixDriftFields
from .mapper import ProductRow
from .specials import TABLE as SPECIALS


@dataclass(frozen=True)
class OsCommerceOptions:
    """The shop's ``[tenants.shops.oscommerce]`` section. osCommerce has no settings of its
    own yet; the section is accepted (empty) so that the mechanism is the same for every
    kind."""


LIMITS = CatalogueLimits(tier_prices="osCommerce core has no tier prices",
                         customer_groups="osCommerce core has no customer groups")


class OsCommerceSink(ShopSinkParts):
    check = staticmethod(probes.check)   # shopbridge check: this role's probe

    def limits(self, shop: ShopConfig) -> CatalogueLimits:
        # Phoenix has no quantity tiers and no customer groups: every customer pays the
        # shop's price level, and the consumer leaves tier prices out (docs/architecture.md).
        return LIMITS

    def open_orders_deducted(self) -> bool:
        # Checkout lowers products_quantity, but the next stock write replaces it: the stock
        # sent must lack the shop's own open orders too.
        return False

    def options(self, data: Mapping[str, Any]) -> OsCommerceOptions:
        refuse_unknown(data, known=())
        return OsCommerceOptions()

    def applier(self, shop: ShopConfig) -> PhoenixApplier:
        return PhoenixApplier(shop=shop)

    def drift(self, shop: ShopConfig) -> ProductDrift[ProductRow]:
        applier = PhoenixApplier(shop=shop)
        return ProductDrift(applier, PhoenixDriftFields(applier))

    def own_tables(self, shop: ShopConfig) -> list[OwnTable]:
        own = [LINKS, HISTORY, SPECIALS]
        own += [IMAGES] if shop.images is not None else []
        own += [OUTBOX] if shop.mail is not None else []
        return own

    def ensure_tables(self, conn: sa.Connection, shop: ShopConfig) -> None:
        # The applier knows which of its parts keep a table (and the image table registers
        # the images already in the shop when it is new): setup makes sure the same way.
        PhoenixApplier(shop=shop, engine=conn.engine).ensure_tables(conn)

    def needs(self, shop: ShopConfig) -> Needs:
        """``consume --shop``: every Phoenix table it knows, those it writes, its own."""
        reads: Sequence[str] = [t.name for t in tables.metadata.sorted_tables]
        return Needs(service=f"consume --shop {shop.name}", own=self.own_tables(shop),
                     reads=reads, writes=tables.WRITES)

    def schema(self) -> sa.MetaData:
        return tables.metadata

    def demo_options(self) -> Mapping[str, object]:
        return {}

    def demo_seed(self, conn: sa.Connection, shop: ShopConfig) -> None:
        demo.seed(conn, shop)

    def demo_counts(self, conn: sa.Connection, shop: ShopConfig) -> dict[str, int]:
        return demo.counts(conn)


# Typed as the role, so that mypy checks the object keeps the role's promises.
SINK: ShopSink = OsCommerceSink()
