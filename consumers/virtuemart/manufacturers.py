"""ERP manufacturers -> ``virtuemart_manufacturers`` and one language row per active
language (C2): name, URL and a unique slug (NOTES 4: name, URL and e-mail live in
``manufacturers_<lang>``).

The URL of a language is the payload's URL of that language, else of the shop's first
language that has one, else the first the payload names, else ''. ``manufacturer.deleted``
keeps the manufacturer as it is (products and orders reference it) and records the version,
so that an older upsert arriving late cannot bring back a stale state.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy.engine import Connection

from shopbridge.config import ShopConfig
from shopbridge.errors import MappingError
from shopbridge.events import Event

from ..binder import LINK_TABLE, Binder, Link
from ..manufacturers import ENTITY, apply_manufacturers, language_urls
from .langrows import write_language_rows
from .shop import Language, Tables


class ManufacturerWriter:
    """Args:
        shop: the shop's configuration (its ``filter.cao_shop_id`` selects manufacturers).
        binder: the link table.
        tables, vendor_id: the shop's facts; ``languages`` is set by the applier.
    """

    def __init__(self, *, shop: ShopConfig, binder: Binder, tables: Tables) -> None:
        self.shop = shop
        self.binder = binder
        self.tables = tables
        self.languages: list[Language] = []

    def apply(self, conn: Connection, events: Sequence[Event], now: datetime) -> list[str]:
        """Create, update or keep the manufacturers; returns notes on what changed nothing
        (the shared flow: consumers/manufacturers.py)."""
        claimed: set[int] = set()        # adopted in this batch (links are saved at its end)
        return apply_manufacturers(
            conn, events, shop=self.shop, binder=self.binder,
            languages=[lang.tag for lang in self.languages],
            write=lambda event, link: self._write(conn, event, link, claimed, now))

    def urls(self, urls: Mapping[str, str]) -> dict[str, str]:
        """Language tag -> mf_url for every active language (fallbacks as above)."""
        return dict(zip([lang.tag for lang in self.languages],
                        language_urls(urls, [lang.code for lang in self.languages]),
                        strict=True))

    def _adoptable(self, conn: Connection, name: str, claimed: set[int]) -> int | None:
        """An unlinked shop manufacturer of this name (first language): one the merchant
        made before shopbridge, or one linked before a reset (P4)."""
        t = self.tables
        rows = conn.exec_driver_sql(
            f"SELECT m.virtuemart_manufacturer_id FROM {t.manufacturers} m "
            f"JOIN {t.lang('manufacturers', self.languages[0])} l "
            f"ON l.virtuemart_manufacturer_id = m.virtuemart_manufacturer_id "
            f"WHERE l.mf_name = %s AND NOT EXISTS (SELECT 1 FROM {LINK_TABLE} k "
            f"WHERE k.entity_type = %s AND k.target_id = m.virtuemart_manufacturer_id) "
            f"ORDER BY m.virtuemart_manufacturer_id FOR UPDATE", (name, ENTITY))
        return next((int(r[0]) for r in rows if int(r[0]) not in claimed), None)

    def _write(self, conn: Connection, event: Event, link: Link, claimed: set[int],
               now: datetime) -> None:
        p: dict[str, Any] = event.payload
        t = self.tables
        name = p["name"]
        urls = self.urls(p["urls"])
        for language in self.languages:
            for column, value, field in (("mf_name", name, "payload.name"),
                                         ("mf_url", urls[language.tag], "payload.urls")):
                size = language.size("manufacturers", column)
                if len(value) > size:
                    raise MappingError(f"{event}: field {field}: {len(value)} characters; "
                                       f"{t.lang('manufacturers', language)}.{column} "
                                       f"holds {size}")
        manufacturer_id = link.target_id
        if manufacturer_id is None and self.languages:
            manufacturer_id = self._adoptable(conn, name, claimed)
        if manufacturer_id is not None and conn.exec_driver_sql(
                f"UPDATE {t.manufacturers} SET modified_on = %s WHERE "
                f"virtuemart_manufacturer_id = %s", (now, manufacturer_id)).rowcount == 0:
            manufacturer_id = None          # deleted in the shop's admin: made again
        if manufacturer_id is None:
            manufacturer_id = int(conn.exec_driver_sql(
                f"INSERT INTO {t.manufacturers} (published, created_on, modified_on) "
                f"VALUES (1, %s, %s)", (now, now)).lastrowid)
        for language in self.languages:
            write_language_rows(conn, t.lang("manufacturers", language),
                                "virtuemart_manufacturer_id",
                                [(manufacturer_id, {"mf_name": name,
                                                    "mf_url": urls[language.tag]}, name)])
        claimed.add(manufacturer_id)
        link.target_id = manufacturer_id
