"""ERP manufacturers -> Phoenix ``manufacturers`` and ``manufacturers_info`` (C2).

A manufacturer gets one ``manufacturers`` row and one ``manufacturers_info`` row for every
language the shop is configured with (NOTES 2): a product page whose manufacturer lacks the
info row of the session language prints PHP warnings into the page, so the row is written
even where the ERP has no URL for that language. Its URL falls back to the URL of the shop's
first language that has one, then to the first URL of the payload (by language code), then
to '' (the column is NOT NULL). Clicks, descriptions and SEO fields the shop keeps in the info
rows are never touched.

A manufacturer with no link yet takes over a shop manufacturer of the same name that no other
ERP manufacturer is linked to (one the merchant created by hand, or one linked before a reset,
P4), instead of adding a duplicate.

``manufacturer.deleted`` does not delete anything: products (and through them past orders)
reference ``manufacturers_id``, and Phoenix's own admin deletes a manufacturer's products with
it or leaves them pointing to nothing. The manufacturer stays in the shop as it is; only the
event's version is recorded, so that an older ``manufacturer.upserted`` arriving late cannot
bring back a stale state. A manufacturer that moves to another CAO shop likewise stays.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy.engine import Connection

from shopbridge.config import ShopConfig
from shopbridge.events import Event

from ..binder import LINK_TABLE, Binder, Link
from ..manufacturers import ENTITY, apply_manufacturers, language_urls
from .text import plain_text


class ManufacturerWriter:
    """Args:
        shop: the shop's configuration (its ``filter.cao_shop_id`` selects manufacturers).
        binder: the link table.
        language_ids: shop language code -> languages_id, in the shop's language order.
    """

    def __init__(self, *, shop: ShopConfig, binder: Binder,
                 language_ids: Mapping[str, int]) -> None:
        self.shop = shop
        self.binder = binder
        self.language_ids = dict(language_ids)

    def apply(self, conn: Connection, events: Sequence[Event], now: datetime) -> list[str]:
        """Create, update or keep the manufacturers; returns notes on what changed nothing
        (the shared flow: consumers/manufacturers.py)."""
        taken: set[int] = set()   # shop ids linked in this batch, not yet in the link table
        return apply_manufacturers(
            conn, events, shop=self.shop, binder=self.binder, languages=self.language_ids,
            write=lambda event, link: self._write(conn, event.payload, link, taken, now))

    def urls(self, urls: Mapping[str, str]) -> dict[int, str]:
        """languages_id -> manufacturers_url for every shop language (fallbacks as above)."""
        return dict(zip(self.language_ids.values(), language_urls(urls, list(self.language_ids)),
                        strict=True))

    def _existing(self, conn: Connection, link: Link, name: str, taken: set[int]) -> int | None:
        """The shop manufacturer to update: the linked one, or an unlinked one of that name."""
        if link.target_id is not None:
            row = conn.exec_driver_sql(
                "SELECT manufacturers_id FROM manufacturers WHERE manufacturers_id = %s "
                "FOR UPDATE", (link.target_id,)).first()
            if row is not None:
                return int(row[0])
            # Deleted in the shop's admin: created again below.
        rows = conn.exec_driver_sql(
            f"SELECT m.manufacturers_id FROM manufacturers m WHERE m.manufacturers_name = %s "
            f"AND NOT EXISTS (SELECT 1 FROM {LINK_TABLE} k WHERE k.entity_type = %s "
            f"AND k.target_id = m.manufacturers_id) ORDER BY m.manufacturers_id FOR UPDATE",
            (name, ENTITY))
        return next((int(r[0]) for r in rows if int(r[0]) not in taken), None)

    def _write(self, conn: Connection, p: Mapping[str, Any], link: Link, taken: set[int],
               now: datetime) -> None:
        # Printed unescaped like product names (NOTES 1): no markup may reach the page.
        name = plain_text(p["name"])
        manufacturer_id = self._existing(conn, link, name, taken)
        if manufacturer_id is None:
            manufacturer_id = int(conn.exec_driver_sql(
                "INSERT INTO manufacturers (manufacturers_name, manufacturers_image, date_added) "
                "VALUES (%s, %s, %s)", (name, p.get("image"), now)).lastrowid)
        else:
            # last_modified first: see categories.py (a rewrite that changes nothing)
            conn.exec_driver_sql(
                "UPDATE manufacturers SET last_modified = IF(manufacturers_name <=> %s AND "
                "manufacturers_image <=> %s, last_modified, %s), manufacturers_name = %s, "
                "manufacturers_image = %s WHERE manufacturers_id = %s",
                (name, p.get("image"), now, name, p.get("image"), manufacturer_id))
        rows = [(manufacturer_id, lid, url) for lid, url in self.urls(p["urls"]).items()]
        if rows:
            conn.exec_driver_sql(
                "INSERT INTO manufacturers_info (manufacturers_id, languages_id, "
                "manufacturers_url) VALUES (%s, %s, %s) "
                "ON DUPLICATE KEY UPDATE manufacturers_url = VALUES(manufacturers_url)", rows)
        taken.add(manufacturer_id)
        link.target_id = manufacturer_id
