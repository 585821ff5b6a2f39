"""A VirtueMart address row (``userinfos`` or ``order_userinfos``, BT or ST) in the shape of
order.placed's addresses: the same for an order and an account, so that the ERP sees the
same name and address in both."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ..accounts import text

NAME_LENGTH = 255        # order.placed's address name
# The columns an address is read from (order_userinfos also has ``email``, userinfos not).
ADDRESS_COLUMNS = ("company", "first_name", "middle_name", "last_name", "address_1",
                   "address_2", "zip", "city", "phone_1", "email", "customer_note")


def name(row: Mapping[str, Any], key: str) -> str:
    """First, middle and last name of the row's columns ``<key>_first_name`` etc."""
    parts = (row.get(f"{key}_first_name"), row.get(f"{key}_middle_name"),
             row.get(f"{key}_last_name"))
    return " ".join(p.strip() for p in parts if p and p.strip())


def address(row: Mapping[str, Any], key: str) -> dict[str, Any]:
    """The address of the row's columns ``<key>_<column>``, ``<key>_country``, ``<key>_iso2``
    and ``<key>_state`` (the country's and state's names, the country's ISO code)."""
    return {
        "name": (name(row, key) or (row.get(f"{key}_company") or ""))[:NAME_LENGTH],
        "company": text(row.get(f"{key}_company")),
        "street": row.get(f"{key}_address_1") or "",
        "suburb": text(row.get(f"{key}_address_2")),
        "postcode": row.get(f"{key}_zip") or "",
        "city": row.get(f"{key}_city") or "",
        "state": text(row.get(f"{key}_state")),
        "country": row.get(f"{key}_country") or "",
        "country_iso2": text(row.get(f"{key}_iso2")),
    }
