"""The customer core every shop kind writes ``customer.upserted`` with (K1, K2).

What is the same in every shop: the batch goes through the version rule (plan.py, one link
row per ERP address, its ``target_id`` the shop's account id), customers of another CAO shop
are skipped with a note, a payload whose hash the link already holds changes nothing, an
unknown country is a ``MappingError`` naming the field, and a new link first looks for an
account that already has the customer's e-mail (registered in the shop before shopbridge
ran): that account is linked, never duplicated. A kind supplies the SQL: how it finds an
account by e-mail and how it writes one (``AccountWriter._write``).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy.engine import Connection

from shopbridge.config import ShopConfig
from shopbridge.errors import MappingError
from shopbridge.events import Event

from .binder import Binder
from .plan import content_hash, newer_in_batch, unchanged

ENTITY = "customer"                  # the link table's entity type


@dataclass(frozen=True, kw_only=True)
class AccountWriter:
    """The ``EntityWriter`` of customer.upserted; a kind subclasses it with its SQL."""

    shop: ShopConfig
    binder: Binder

    def apply(self, conn: Connection, events: Sequence[Event], now: datetime) -> list[str]:
        """Create or update the accounts; returns notes on what was skipped."""
        notes: list[str] = []
        for event, link in newer_in_batch(conn, self.binder, ENTITY, events, notes,
                                          keep=self._mine):
            content = content_hash(event.payload)
            if unchanged(link, content, event):
                notes.append(f"{event}: unchanged")
                continue
            link.content_hash = content
            account_id = link.target_id
            if account_id is None:
                account_id = self._account_by_email(conn, event.payload["email"])
            link.target_id = self._write(conn, event, account_id, now)
        return notes

    def _mine(self, events: Iterable[Event], notes: list[str]) -> Iterator[Event]:
        """The events of this shop's CAO shop; a note for each other one (lazily, so notes
        keep the events' order)."""
        wanted = self.shop.filter.cao_shop_id
        for event in events:
            shop_id = event.payload["shop_id"]
            if wanted is not None and shop_id != wanted:
                notes.append(f"{event}: a customer of CAO shop {shop_id}, not this one")
                continue
            yield event

    def _account_by_email(self, conn: Connection, email: str) -> int | None:
        """The id of the shop account that has ``email`` (locked), or None."""
        raise NotImplementedError

    def _write(self, conn: Connection, event: Event, account_id: int | None,
               now: datetime) -> int:
        """Create (``account_id`` None) or update the account; returns its id.

        Raises:
            MappingError: naming the field the shop cannot take.
        """
        raise NotImplementedError

    def unknown_country(self, event: Event, field: str = "address") -> MappingError:
        """The error of an address (payload ``field``) whose country the shop does not have."""
        address: dict[str, Any] = event.payload[field]
        country = address.get("country_iso3") or address.get("erp_country")
        return MappingError(f"{event}: field payload.{field}.country_iso3: country "
                            f"{country!r} is not in shop {self.shop.name!r}'s countries")

