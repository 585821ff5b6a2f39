"""One shop's customer producer: new CE Phoenix accounts become ``customer.registered`` events (K3).

An account is complete once it has its ``customers_info`` row: Phoenix's registration
(``customer_data::create``) inserts ``customers``, then ``address_book``, then sets
``customers_default_address_id``, and writes ``customers_info`` last (NOTES 4). An account
without that row is waited for (counted, never published), as an order without its first
status-history row is.

Accounts shopbridge itself created from the ERP are never published, and accounts below
``orders.first_customer_id`` neither (``producers/accounts.py``, the same for every shop).

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

from shopbridge.db import rows_by_name
from shopbridge.errors import PermanentError

from ..accounts import AccountFeed
from ..accounts import text as _text
from ..published import PublishedLog

PUBLISHED = PublishedLog("shopbridge_customer_out", "customers_id", "c")
NAME_LENGTH = 255                # orders.billing_name: the shop cuts "first last" to this


_COMPLETE = "EXISTS (SELECT 1 FROM customers_info i WHERE i.customers_info_id = c.customers_id)"

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


class PhoenixCustomerProducer(AccountFeed):
    """CE Phoenix's accounts (``AccountFeed`` has the arguments)."""

    kind = "oscommerce"
    published_log = PUBLISHED
    waiting_note = "accounts wait for their customers_info row"

    def _accounts(self) -> str:
        return "customers c"

    def _complete(self) -> str:
        return _COMPLETE

    def _waiting(self) -> str:
        return f"NOT {_COMPLETE}"

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
