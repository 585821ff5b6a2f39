"""New shop accounts into CAO-Faktura's ADRESSEN, with contact person and numbers (K3).

A ``customer.registered`` event goes through the same ``Customers.find_or_create`` as an
order's customer, under the same GET_LOCK per e-mail address: an account and its orders, in
whichever order they arrive and in whichever consumer, make one ADRESSEN record, found by
(SHOP_ID, SHOP_KUNDE_ID), else by e-mail. A redelivered event finds that record too and
updates it. The account's one address is its billing and its delivery address, so no
ADRESSEN_LIEF row is made. Newsletter consent and birth date, which orders do not carry, are
set on the record afterwards.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from contextlib import AbstractContextManager
from datetime import date
from typing import Any, Protocol

from sqlalchemy.engine import Connection

from shopbridge.config import ShopConfig
from shopbridge.db import translated
from shopbridge.errors import MappingError
from shopbridge.events import Event

from .customers import Customers
from .text import Fitter

log = logging.getLogger(__name__)

EVENT_TYPE = "customer.registered"


class CustomerTarget(Protocol):
    """What registering an account needs of the tenant's CAO database: the order importer
    (``importer.CaoOrderApplier``) is one, so both find customers by the same rules."""

    what: str   # the CAO database, for messages

    def tables(self) -> Mapping[str, str]:
        """Logical CAO table -> quoted real name, read on first use."""
        ...

    def fitter(self) -> Fitter:
        """A fresh fitter for the database's column lengths."""
        ...

    def customers(self) -> Customers:
        """Finds or creates CAO customers."""
        ...

    def customer_lock(self, conn: Connection, email: str, what: str
                      ) -> AbstractContextManager[None]:
        """Holds the lock of one customer e-mail address on ``conn``."""
        ...

    def shop_of(self, payload: Mapping[str, Any], what: str) -> ShopConfig:
        """The tenant's shop the payload names."""
        ...

    def land_of(self, shop: ShopConfig, address: Mapping[str, Any], what: str, field: str
                ) -> str:
        """The CAO country (LAND.ID) of an address."""
        ...


def order_like(payload: Mapping[str, Any]) -> dict[str, Any]:
    """The parts of an order.placed payload ``Customers.find_or_create`` reads. Pure."""
    address = payload["address"]
    return {
        "customer": {"shop_customer_id": payload["shop_customer_id"],
                     "email": payload["email"], "telephone": payload.get("telephone"),
                     "guest": False},
        "addresses": {"customer": address, "billing": address, "delivery": address},
    }


def _birth_date(value: str | None) -> date | None:
    try:
        return date.fromisoformat(value) if value else None
    except ValueError:
        return None


def register_customer(target: CustomerTarget, conn: Connection, event: Event) -> str | None:
    """Find or create the ADRESSEN record (with contact person) of one new shop account.

    Args:
        target: the tenant's CAO database (its CaoOrderApplier): its tables, column lengths,
            country rule and locks are used.
        conn: a connection on the target's database; committed before returning.
        event: a ``customer.registered`` event.

    Returns:
        None: the record was created or updated (text that had to be changed to fit CAO's
        latin1 columns is logged as a warning).

    Raises:
        MappingError: the shop is not configured for the tenant, has no filter.cao_shop_id,
            or the country has no CAO code; nothing was written.
        TargetLocked: another consumer holds the customer's e-mail lock (retry later).
        TransientDatabaseError, TargetUnavailable: the CAO database failed.
    """
    t = target.tables()
    payload, what = event.payload, str(event)
    shop = target.shop_of(payload, what)
    cao_shop_id = shop.filter.cao_shop_id
    if cao_shop_id is None:
        raise MappingError(f"{what}: shop {shop.name!r} has no filter.cao_shop_id: CAO needs "
                           "it to tag the customer (ADRESSEN.SHOP_ID)")
    land = target.land_of(shop, payload["address"], what, "address")
    fit = target.fitter()
    # The importer's lock: an order of the same customer in another consumer waits for us.
    with translated(target.what), target.customer_lock(conn, payload["email"], what):
        try:
            customer = target.customers().find_or_create(
                conn, order_like(payload), cao_shop_id=cao_shop_id, land=land,
                delivery_land=land, price_level=shop.price_level, fit=fit)
            _set_account_details(conn, t, customer.addr_id, payload)
        finally:
            conn.commit()   # before the lock is released: a waiting consumer sees the record
    for note in fit.notes:
        log.warning("%s applied with a change: %s", what, note)
    log.info("%s: %s ADRESSEN %s (customer number %s, contact %s)", what,
             "created" if customer.created else "updated", customer.addr_id, customer.kunnum,
             customer.asp_id)
    return None


def _set_account_details(conn: Connection, t: Mapping[str, str], addr_id: int,
                         payload: Mapping[str, Any]) -> None:
    """Newsletter consent, and the birth date when the shop has one (a missing one keeps
    what CAO holds)."""
    values: dict[str, Any] = {"SHOP_NEWSLETTER": "Y" if payload["newsletter"] else "N"}
    born = _birth_date(payload.get("date_of_birth"))
    if born is not None:
        values["KUN_GEBDATUM"] = born
    assignments = ", ".join(f"{column} = %s" for column in values)
    conn.exec_driver_sql(f"UPDATE {t['ADRESSEN']} SET {assignments} WHERE REC_ID = %s",
                         (*values.values(), addr_id))
