"""One shop's customer producer: new CE Phoenix accounts become ``customer.registered`` events (K3).

An account is complete once it has its ``customers_info`` row: Phoenix's registration
(``customer_data::create``) inserts ``customers``, then ``address_book``, then sets
``customers_default_address_id``, and writes ``customers_info`` last (NOTES 4). An account
without that row is waited for (counted, never published), as an order without its first
status-history row is.

Accounts shopbridge itself created from the ERP (a ``shopbridge_link`` row of entity type
'customer' whose target_id is the customers_id) are never published: they came from the ERP
and must not come back to it as new customers.

Accounts are fed to the ERP page by page (``producers/feed.py``): each page is published and
only then recorded in ``shopbridge_customer_out``, so a crash re-publishes rather than loses;
the ERP side finds the address again by shop customer id, so a re-published account updates,
never duplicates.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import date, datetime
from typing import Any

import sqlalchemy as sa

from shopbridge.config import BrokerConfig, ShopConfig
from shopbridge.db import has_table, rows_by_name
from shopbridge.errors import PermanentError

from ..feed import FeedCount, ShopFeed
from ..links import LINK_TABLE
from ..published import PublishedLog

PAGE = 200                       # accounts per page (one read, one publish, one INSERT)
PUBLISHED = PublishedLog("shopbridge_customer_out", "customers_id", "c")
EVENT_TYPE = "customer.registered"
NAME_LENGTH = 255                # orders.billing_name: the shop cuts "first last" to this


_COMPLETE = "EXISTS (SELECT 1 FROM customers_info i WHERE i.customers_info_id = c.customers_id)"
_FROM_ERP = (f"EXISTS (SELECT 1 FROM {LINK_TABLE} l WHERE l.entity_type = 'customer' "
             "AND l.target_id = c.customers_id)")

_LOAD = (
    "SELECT c.customers_id, c.customers_gender, c.customers_firstname, c.customers_lastname, "
    "c.customers_dob, c.customers_email_address, c.customers_telephone, "
    "c.customers_newsletter, i.customers_info_date_account_created AS registered_at, "
    "ab.address_book_id, ab.entry_company, ab.entry_firstname, ab.entry_lastname, "
    "ab.entry_street_address, ab.entry_suburb, ab.entry_postcode, ab.entry_city, "
    "ab.entry_state, z.zone_name, co.countries_name, co.countries_iso_code_2 "
    "FROM customers c JOIN customers_info i ON i.customers_info_id = c.customers_id "
    # The default entry must belong to the customer: the column is a plain int, no FK.
    "LEFT JOIN address_book ab ON ab.address_book_id = c.customers_default_address_id "
    "AND ab.customers_id = c.customers_id "
    "LEFT JOIN countries co ON co.countries_id = ab.entry_country_id "
    "LEFT JOIN zones z ON z.zone_id = ab.entry_zone_id AND ab.entry_zone_id <> 0 "
    "WHERE c.customers_id IN ({marks}) ORDER BY c.customers_id")


def _text(value: str | None) -> str | None:
    """Optional text: the shop stores '' for "not given"."""
    return value if value else None


def build_payload(shop: str, row: Mapping[str, Any]) -> dict[str, Any]:
    """The customer.registered payload of one account row (pure, not validated).

    The address name is "first last" of the default entry, cut to 255 characters as the shop
    cuts it into ``orders.billing_name``: the ERP then sees the same name in the account and
    in its orders. A state is the free-text ``entry_state``, else the zone's name.
    """
    dob, registered = row["customers_dob"], row["registered_at"]
    name = f"{row['entry_firstname'] or ''} {row['entry_lastname'] or ''}".strip()
    return {
        "shop": shop,
        "shop_customer_id": row["customers_id"],
        "email": row["customers_email_address"],
        "gender": _text(row["customers_gender"]),
        "firstname": row["customers_firstname"],
        "lastname": row["customers_lastname"],
        # PyMySQL hands over a zero date ('0000-00-00') as text: no date.
        "date_of_birth": dob.isoformat() if isinstance(dob, date) else None,
        "telephone": _text(row["customers_telephone"]),
        "newsletter": row["customers_newsletter"] == "1",
        "address": {
            "name": name[:NAME_LENGTH],
            "company": _text(row["entry_company"]),
            "street": row["entry_street_address"],
            "suburb": _text(row["entry_suburb"]),
            "postcode": row["entry_postcode"],
            "city": row["entry_city"],
            "state": _text(row["entry_state"]) or _text(row["zone_name"]),
            "country": row["countries_name"],
            "country_iso2": _text(row["countries_iso_code_2"]),
        },
        "registered_at": (registered.strftime("%Y-%m-%dT%H:%M:%S")
                          if isinstance(registered, datetime) else None),
    }


class PhoenixCustomerProducer(ShopFeed[Mapping[str, Any]]):
    """Args:
        broker: broker settings.
        shop: the shop whose accounts are read.
        engine: an engine on the shop database (default: one made from ``shop.db``).
        first_customer_id: accounts below this customers_id are never sent (switching over
            from another import: the shop's existing accounts must not flood the ERP).
    """

    kind = "oscommerce"
    event_type = EVENT_TYPE
    noun = "customer"
    published_log = PUBLISHED
    waiting_note = "accounts wait for their customers_info row"

    def __init__(self, *, broker: BrokerConfig, shop: ShopConfig,
                 engine: sa.Engine | None = None, first_customer_id: int = 1) -> None:
        super().__init__(broker=broker, shop=shop, engine=engine)
        self.first_customer_id = first_customer_id

    @property
    def first_id(self) -> int:
        return self.first_customer_id

    def _not_from_erp(self, conn: sa.Connection) -> str:
        """The filter on accounts shopbridge created itself (none while no link table)."""
        return f" AND NOT {_FROM_ERP}" if has_table(conn, LINK_TABLE) else ""

    def _count(self, conn: sa.Connection, *, published_known: bool) -> FeedCount:
        mine = self._not_from_erp(conn)
        unpublished = f" AND {PUBLISHED.unpublished}" if published_known else ""
        counts = {}
        for name, state in (("new", _COMPLETE), ("waiting", f"NOT {_COMPLETE}")):
            counts[name] = int(conn.exec_driver_sql(
                f"SELECT COUNT(*) FROM customers c WHERE c.customers_id >= %s AND {state}"
                f"{mine}{unpublished}", (self.first_customer_id,)).scalar_one())
        return FeedCount(**counts)

    def _page(self, conn: sa.Connection, after: int) -> list[int]:
        rows = conn.exec_driver_sql(
            f"SELECT c.customers_id FROM customers c WHERE c.customers_id > %s AND {_COMPLETE} "
            f"AND {PUBLISHED.unpublished}{self._not_from_erp(conn)} ORDER BY c.customers_id "
            f"LIMIT %s", (after, PAGE))
        return [r[0] for r in rows]

    def _load(self, conn: sa.Connection, ids: Sequence[int]
              ) -> list[tuple[int, Mapping[str, Any]]]:
        sql = _LOAD.format(marks=", ".join(["%s"] * len(ids)))
        return [(row["customers_id"], row)
                for row in rows_by_name(conn.exec_driver_sql(sql, tuple(ids)))]

    def _payload(self, loaded: Mapping[str, Any]) -> dict[str, Any]:
        if loaded["address_book_id"] is None:
            raise PermanentError("field payload.address: the account has no default "
                                 "address-book entry (customers_default_address_id)")
        return build_payload(self.shop.name, loaded)
