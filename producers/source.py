"""What every shop kind's source object (``shopbridge.kinds.ShopSource``) does the same way:
make its order and account producers, follow both, own their published logs. A kind's
``kind.py`` subclasses ``FeedSource`` and names its two producer classes and its probe."""

from __future__ import annotations

from typing import ClassVar

import sqlalchemy as sa

from shopbridge.config import BrokerConfig, ShopConfig
from shopbridge.kinds import AccountProducer, OrderProducer
from shopbridge.needs import Needs
from shopbridge.owntables import OwnTable

from .accounts import AccountFeed
from .feed import OrderFeed
from .follow import follow


class FeedSource:
    orders: ClassVar[type[OrderFeed]]
    accounts: ClassVar[type[AccountFeed]]

    def order_producer(self, *, broker: BrokerConfig, shop: ShopConfig) -> OrderFeed:
        return self.orders(broker=broker, shop=shop)

    def account_producer(self, *, broker: BrokerConfig, shop: ShopConfig) -> AccountFeed:
        return self.accounts(broker=broker, shop=shop,
                             first_customer_id=shop.orders.first_customer_id)

    def follow(self, orders: OrderProducer, accounts: AccountProducer, *,
               interval_s: float) -> None:
        # The registry hands back what order_producer/account_producer made.
        if not isinstance(orders, self.orders) or not isinstance(accounts, self.accounts):
            raise TypeError("follow needs this kind's own order and account producers")
        follow(orders, accounts, interval_s=interval_s)

    def own_tables(self, shop: ShopConfig) -> list[OwnTable]:
        return [self.orders.published_log.own, self.accounts.published_log.own]

    def ensure_tables(self, conn: sa.Connection, shop: ShopConfig) -> None:
        self.orders.published_log.ensure(conn)
        self.accounts.published_log.ensure(conn)

    def needs(self, shop: ShopConfig) -> Needs:
        """``orders produce``: what it records as published (it reads what the consumer
        reads)."""
        return Needs(service=f"orders produce --shop {shop.name}", own=self.own_tables(shop))
