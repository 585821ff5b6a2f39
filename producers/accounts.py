"""A shop's account feed: new shop accounts become ``customer.registered`` events (K3).

What every shop kind shares: accounts from ``orders.first_customer_id`` on; an account is
sent once its registration is complete in the shop, counted as waiting while it is not;
accounts shopbridge itself created from the ERP (a ``shopbridge_link`` row of entity type
'customer' whose target_id is the shop's account id, consumers/customers.py) are never sent,
since they came from the ERP and must not come back to it as new customers. The ERP side finds
the address again by shop customer id, so a re-published account updates, never duplicates.

A kind supplies the accounts' FROM clause, what "complete" and "waiting" mean in its
database, and the payload; the key column is its ``published_log``'s (alias.key).
"""

from __future__ import annotations

from abc import abstractmethod
from collections.abc import Mapping
from typing import Any, ClassVar

import sqlalchemy as sa

from shopbridge.config import BrokerConfig, ShopConfig
from shopbridge.db import has_table

from .feed import FeedCount, ShopFeed
from .links import LINK_TABLE

EVENT_TYPE = "customer.registered"
ERP_ENTITY = "customer"          # consumers/customers.py ENTITY: accounts made from the ERP


def text(value: str | None) -> str | None:
    """Optional text: shops store '' (or blanks) for "not given"."""
    return value.strip() if value and value.strip() else None


class AccountFeed(ShopFeed[Mapping[str, Any]]):
    """Args:
        broker: broker settings.
        shop: the shop whose accounts are read.
        engine: an engine on the shop database (default: one made from ``shop.db``).
        first_customer_id: accounts below this shop id are never sent (switching over from
            another import: the shop's existing accounts must not flood the ERP).
    """

    event_type = EVENT_TYPE
    noun = "customer"
    page_size: ClassVar[int] = 200   # accounts per page (one read, one publish, one INSERT)

    def __init__(self, *, broker: BrokerConfig, shop: ShopConfig,
                 engine: sa.Engine | None = None, first_customer_id: int = 1) -> None:
        super().__init__(broker=broker, shop=shop, engine=engine)
        self.first_customer_id = first_customer_id

    # -- what a shop kind supplies -----------------------------------------------------------

    @abstractmethod
    def _accounts(self) -> str:
        """The FROM clause of the accounts, with the published log's alias."""

    @abstractmethod
    def _complete(self) -> str:
        """SQL condition: the account is complete and may be sent."""

    @abstractmethod
    def _waiting(self) -> str:
        """SQL condition: the account is not complete yet (counted, not sent). An account
        neither complete nor waiting (e.g. blocked) is never sent nor counted."""

    # -- the same for every kind -------------------------------------------------------------

    @property
    def first_id(self) -> int:
        return self.first_customer_id

    @property
    def _key(self) -> str:
        log = self.published_log
        return f"{log.alias}.{log.key}"

    def _not_from_erp(self, conn: sa.Connection) -> str:
        """The filter on accounts shopbridge created itself (none while no link table)."""
        if not has_table(conn, LINK_TABLE):
            return ""
        return (f" AND NOT EXISTS (SELECT 1 FROM {LINK_TABLE} l WHERE l.entity_type = "
                f"'{ERP_ENTITY}' AND l.target_id = {self._key})")

    def _count(self, conn: sa.Connection, *, published_known: bool) -> FeedCount:
        mine = self._not_from_erp(conn)
        unpublished = f" AND {self.published_log.unpublished}" if published_known else ""
        counts = {}
        for name, state in (("new", self._complete()), ("waiting", self._waiting())):
            counts[name] = int(conn.exec_driver_sql(
                f"SELECT COUNT(*) FROM {self._accounts()} WHERE {self._key} >= %s "
                f"AND ({state}){mine}{unpublished}", (self.first_customer_id,)).scalar_one())
        return FeedCount(**counts)

    def _page(self, conn: sa.Connection, after: int) -> list[int]:
        rows = conn.exec_driver_sql(
            f"SELECT {self._key} FROM {self._accounts()} WHERE {self._key} > %s "
            f"AND ({self._complete()}) AND {self.published_log.unpublished}"
            f"{self._not_from_erp(conn)} ORDER BY {self._key} LIMIT %s",
            (after, self.page_size))
        return [r[0] for r in rows]
