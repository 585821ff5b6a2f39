"""One VirtueMart shop's account producer: new shopper accounts become ``customer.registered``
events (K3), as CE Phoenix's do (``producers/accounts.py`` has the rules they share).

A VirtueMart shopper is a Joomla account (``#__users``: the e-mail, ``block``) with its
``#__virtuemart_vmusers`` row and a bill-to address (the ``BT`` row of
``#__virtuemart_userinfos``, which has no e-mail column; NOTES 6). VirtueMart's registration
form stores the BT row with the account; a Joomla registration gets it when the shopper first
enters an address (the cart, the account page). So:

- an account with its BT row and not blocked is complete: sent once;
- an account without a BT row yet, or blocked with an activation still pending (Joomla
  blocks a new account until its e-mail link, or an administrator, activates it), waits:
  counted, not sent;
- an account an administrator blocked (``block=1``, no activation pending) and the vendor's
  own account (``user_is_vendor``) are no customers: never sent, not counted;
- accounts shopbridge wrote from the ERP (consumers/virtuemart/customers.py, linked as
  'customer' to the Joomla user id) are never sent back.

The account's address is its BT row in the shape an order's is (``addresses.py``), so the
ERP sees the same name in the account and in its orders. VirtueMart has no birth date and
no newsletter flag of its own: none and false.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

import sqlalchemy as sa

from shopbridge.config import BrokerConfig, ShopConfig
from shopbridge.db import rows_by_name

from ..accounts import AccountFeed, text
from ..published import PublishedLog
from .addresses import ADDRESS_COLUMNS, address
from .tables import VmTables

PUBLISHED = PublishedLog("shopbridge_customer_out", "virtuemart_user_id", "v")
BILL_TO = "BT"
# VirtueMart's title field (userfield 23: 'Mr', 'Mrs') and common additions -> gender.
GENDERS = {"mr": "m", "herr": "m", "mrs": "f", "ms": "f", "miss": "f", "frau": "f"}
# userinfos has no e-mail column (it is Joomla's) and the note belongs to orders.
_COLUMNS = tuple(c for c in ADDRESS_COLUMNS if c not in ("email", "customer_note"))


def build_payload(shop: str, row: Mapping[str, Any]) -> dict[str, Any]:
    """The customer.registered payload of one account row (pure, not validated)."""
    first = " ".join(p.strip() for p in (row["bt_first_name"], row["bt_middle_name"])
                     if p and p.strip())
    registered = row["registerDate"]
    return {
        "shop": shop,
        "shop_customer_id": row["virtuemart_user_id"],
        "email": (row["email"] or "").strip(),
        "gender": GENDERS.get((row["title"] or "").strip().lower()),
        "firstname": first,
        "lastname": (row["bt_last_name"] or "").strip(),
        "date_of_birth": None,
        "telephone": text(row["bt_phone_1"]),
        "newsletter": False,
        "address": address(row, "bt"),
        "registered_at": (registered.strftime("%Y-%m-%dT%H:%M:%S")
                          if isinstance(registered, datetime) else None),
    }


class VmAccountProducer(AccountFeed):
    """VirtueMart's shopper accounts (``AccountFeed`` has the arguments)."""

    kind = "virtuemart"
    published_log = PUBLISHED
    waiting_note = ("accounts wait for their bill-to address (BT userinfos row) or their "
                    "activation")

    def __init__(self, *, broker: BrokerConfig, shop: ShopConfig,
                 engine: sa.Engine | None = None, first_customer_id: int = 1) -> None:
        super().__init__(broker=broker, shop=shop, engine=engine,
                         first_customer_id=first_customer_id)
        self.t = VmTables.of(shop)

    def _has_bill_to(self) -> str:
        return (f"EXISTS (SELECT 1 FROM {self.t.userinfos} b WHERE b.virtuemart_user_id = "
                f"v.virtuemart_user_id AND b.address_type = '{BILL_TO}')")

    def _accounts(self) -> str:
        return f"{self.t.vmusers} v JOIN {self.t.users} u ON u.id = v.virtuemart_user_id"

    def _complete(self) -> str:
        return f"v.user_is_vendor = 0 AND u.block = 0 AND {self._has_bill_to()}"

    def _waiting(self) -> str:
        return (f"v.user_is_vendor = 0 AND ((u.block = 0 AND NOT {self._has_bill_to()}) "
                "OR (u.block <> 0 AND u.activation <> ''))")

    def _load(self, conn: sa.Connection, ids: Sequence[int]
              ) -> list[tuple[int, Mapping[str, Any]]]:
        t = self.t
        columns = ", ".join(f"b.{c} AS bt_{c}" for c in _COLUMNS)
        rows = rows_by_name(conn.exec_driver_sql(
            f"SELECT v.virtuemart_user_id, u.email, u.registerDate, b.title, {columns}, "
            "c.country_name AS bt_country, c.country_2_code AS bt_iso2, "
            f"s.state_name AS bt_state FROM {t.vmusers} v "
            f"JOIN {t.users} u ON u.id = v.virtuemart_user_id "
            f"JOIN {t.userinfos} b ON b.virtuemart_user_id = v.virtuemart_user_id "
            f"AND b.address_type = '{BILL_TO}' "
            f"LEFT JOIN {t.countries} c ON c.virtuemart_country_id = b.virtuemart_country_id "
            f"LEFT JOIN {t.states} s ON s.virtuemart_state_id = b.virtuemart_state_id "
            "AND b.virtuemart_state_id <> 0 "
            f"WHERE v.virtuemart_user_id IN ({', '.join(['%s'] * len(ids))}) "
            # Two BT rows (a hand-edited account): the first one is the account's.
            "ORDER BY v.virtuemart_user_id, b.virtuemart_userinfo_id", tuple(ids)))
        accounts: dict[int, Mapping[str, Any]] = {}
        for row in rows:
            accounts.setdefault(row["virtuemart_user_id"], row)
        return list(accounts.items())

    def _payload(self, loaded: Mapping[str, Any]) -> dict[str, Any]:
        return build_payload(self.shop.name, loaded)
