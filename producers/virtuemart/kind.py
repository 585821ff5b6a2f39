"""VirtueMart 4 as a shop source (its orders to the ERP): the object registered under
``shopbridge.shop_sources`` in pyproject.toml (``shopbridge.kinds.ShopSource``).

New shop accounts reach the ERP with their first order (the importer finds or creates the
customer by shop id, guests by e-mail), so the account producer sends nothing of its own.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa

from shopbridge.config import BrokerConfig, ShopConfig
from shopbridge.kinds import AccountProducer, OrderProducer, ShopSource
from shopbridge.needs import Needs
from shopbridge.owntables import OwnTable

from ..feed import FeedCount, FeedReport, ShopFeed
from ..follow import follow
from . import probes
from .orders import PUBLISHED, VmOrderProducer


class NoAccounts(ShopFeed[Any]):
    """The account producer of a kind that sends accounts with their orders: nothing to do."""

    kind = "virtuemart"
    event_type = "customer.registered"
    noun = "account"
    published_log = PUBLISHED        # never written
    waiting_note = ""

    @property
    def first_id(self) -> int:
        return 1

    def prepare(self) -> None:
        """Nothing of its own in the shop database."""

    def run_once(self) -> FeedReport:
        return FeedReport()

    def _count(self, conn: sa.Connection, *, published_known: bool) -> FeedCount:
        return FeedCount(new=0, waiting=0)

    def _page(self, conn: sa.Connection, after: int) -> list[int]:
        return []

    def _load(self, conn: sa.Connection, ids: Sequence[int]) -> list[tuple[int, Any]]:
        return []

    def _payload(self, loaded: Any) -> dict[str, Any]:
        raise NotImplementedError("NoAccounts loads nothing")


class VirtueMartSource:
    check = staticmethod(probes.check)   # shopbridge check: this role's probe

    def order_producer(self, *, broker: BrokerConfig, shop: ShopConfig) -> VmOrderProducer:
        return VmOrderProducer(broker=broker, shop=shop)

    def account_producer(self, *, broker: BrokerConfig, shop: ShopConfig) -> NoAccounts:
        return NoAccounts(broker=broker, shop=shop)

    def follow(self, orders: OrderProducer, accounts: AccountProducer, *,
               interval_s: float) -> None:
        if not isinstance(orders, VmOrderProducer) or not isinstance(accounts, NoAccounts):
            raise TypeError("follow needs this kind's own order and account producers")
        follow(orders, accounts, interval_s=interval_s)

    def own_tables(self, shop: ShopConfig) -> list[OwnTable]:
        return [PUBLISHED.own]

    def ensure_tables(self, conn: sa.Connection, shop: ShopConfig) -> None:
        PUBLISHED.ensure(conn)

    def needs(self, shop: ShopConfig) -> Needs:
        """``orders produce``: what it records as published."""
        return Needs(service=f"orders produce --shop {shop.name}", own=self.own_tables(shop))


SOURCE: ShopSource = VirtueMartSource()
