"""VirtueMart 4 as a shop source (its orders and accounts to the ERP): the object registered
under ``shopbridge.shop_sources`` in pyproject.toml (``shopbridge.kinds.ShopSource``)."""

from __future__ import annotations

import sqlalchemy as sa

from shopbridge.config import BrokerConfig, ShopConfig
from shopbridge.kinds import AccountProducer, OrderProducer, ShopSource
from shopbridge.needs import Needs
from shopbridge.owntables import OwnTable

from ..follow import follow
from . import probes
from .accounts import PUBLISHED as ACCOUNTS_PUBLISHED
from .accounts import VmAccountProducer
from .orders import PUBLISHED as ORDERS_PUBLISHED
from .orders import VmOrderProducer


class VirtueMartSource:
    check = staticmethod(probes.check)   # shopbridge check: this role's probe

    def order_producer(self, *, broker: BrokerConfig, shop: ShopConfig) -> VmOrderProducer:
        return VmOrderProducer(broker=broker, shop=shop)

    def account_producer(self, *, broker: BrokerConfig, shop: ShopConfig) -> VmAccountProducer:
        return VmAccountProducer(broker=broker, shop=shop,
                                 first_customer_id=shop.orders.first_customer_id)

    def follow(self, orders: OrderProducer, accounts: AccountProducer, *,
               interval_s: float) -> None:
        if not isinstance(orders, VmOrderProducer) or not isinstance(
                accounts, VmAccountProducer):
            raise TypeError("follow needs this kind's own order and account producers")
        follow(orders, accounts, interval_s=interval_s)

    def own_tables(self, shop: ShopConfig) -> list[OwnTable]:
        return [ORDERS_PUBLISHED.own, ACCOUNTS_PUBLISHED.own]

    def ensure_tables(self, conn: sa.Connection, shop: ShopConfig) -> None:
        ORDERS_PUBLISHED.ensure(conn)
        ACCOUNTS_PUBLISHED.ensure(conn)

    def needs(self, shop: ShopConfig) -> Needs:
        """``orders produce``: what it records as published."""
        return Needs(service=f"orders produce --shop {shop.name}", own=self.own_tables(shop))


SOURCE: ShopSource = VirtueMartSource()
