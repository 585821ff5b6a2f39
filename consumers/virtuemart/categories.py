"""ERP categories -> ``virtuemart_categories``, ``category_categories`` and one language row
per active language (C1).

VirtueMart facts (NOTES 4, 10): the tree is ``category_parent_id`` (0 at the top), and VM
still writes and reads the legacy ``category_categories`` (parent, child, ordering), so both
are written. A parent's ``has_children`` must be 1 or NULL, never 0, or its children are not
loaded: a new category gets NULL (VM computes it), a category that gets a child gets 1.
``ordering`` is a plain int VM shows as it is: siblings are renumbered 1..n, densely, by the
ERP's sort order (kept in ``shopbridge_vm_category_order``, since ``ordering`` itself is the
renumbered value), then name order of ids; categories the merchant made keep their place
by their current ordering.

Hidden (``visible`` false) and deleted categories get ``published = 0`` and keep their rows:
products and child categories keep their ids. Parents first whatever the arrival order: a
batch is applied by depth, and a parent that is neither in the shop nor in the batch raises
``DependencyMissing`` (retried later).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy.engine import Connection

from shopbridge.config import ShopConfig
from shopbridge.errors import MappingError
from shopbridge.events import Event
from shopbridge.owntables import OwnTable, ensure

from ..binder import LINK_TABLE, Binder, Link
from ..catalogue import CATEGORY
from ..categories import apply_categories, refuse_loop
from ..plan import content_hash, unchanged
from .langrows import write_language_rows
from .shop import Language, Tables

TEXT_MAX_BYTES = 65535
ORDER_TABLE = "shopbridge_vm_category_order"
ORDER = OwnTable(ORDER_TABLE, f"""
CREATE TABLE IF NOT EXISTS {ORDER_TABLE} (
  category_id INT UNSIGNED NOT NULL,
  sort_order INT NOT NULL,
  PRIMARY KEY (category_id)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin
""")


class CategoryWriter:
    """Args:
        shop: the shop (its CAO shop id selects shop categories; ``categories`` the tree).
        binder: the link table.
        tables, languages, vendor_id: the shop's facts (set by the applier's read_shop).
    """

    def __init__(self, *, shop: ShopConfig, binder: Binder, tables: Tables,
                 vendor_id: int) -> None:
        self.shop = shop
        self.binder = binder
        self.tables = tables
        self.vendor_id = vendor_id
        self.languages: list[Language] = []

    @staticmethod
    def ensure_table(conn: Connection) -> None:
        ensure(conn, ORDER)

    def apply(self, conn: Connection, events: Sequence[Event], now: datetime) -> list[str]:
        """Create, update or unpublish the categories; returns notes on what was skipped
        (the shared flow: consumers/categories.py).

        Raises:
            DependencyMissing: a parent is neither in the shop nor in ``events``.
            MappingError: the payload cannot be expressed in this shop.
        """
        touched: set[int] = set()          # parents whose children are renumbered
        claimed: set[int] = set()          # adopted in this batch (links are saved at its end)
        notes = apply_categories(
            conn, events, shop=self.shop, binder=self.binder, shown=self._shown,
            upsert=lambda event, link, parent_id: self._upsert(conn, event, link, parent_id,
                                                               touched, claimed, now),
            hide=lambda category_id: self._unpublish(conn, category_id, now))
        self._renumber(conn, touched)
        return notes

    def _parent_of(self, conn: Connection, category_id: int) -> int | None:
        row = conn.exec_driver_sql(
            f"SELECT category_parent_id FROM {self.tables.categories} "
            f"WHERE virtuemart_category_id = %s", (category_id,)).first()
        return None if row is None else int(row[0])

    def _shown(self, event: Event) -> bool:
        return event.payload["source"] == self.shop.categories

    def _adoptable(self, conn: Connection, parent_id: int, name: str,
                   claimed: set[int]) -> int | None:
        """An unlinked shop category of this name (first language) under this parent: one
        the merchant made before shopbridge, or one linked before a reset (P4)."""
        t = self.tables
        rows = conn.exec_driver_sql(
            f"SELECT c.virtuemart_category_id FROM {t.categories} c "
            f"JOIN {t.lang('categories', self.languages[0])} l "
            f"ON l.virtuemart_category_id = c.virtuemart_category_id "
            f"WHERE c.category_parent_id = %s AND l.category_name = %s AND NOT EXISTS "
            f"(SELECT 1 FROM {LINK_TABLE} k WHERE k.entity_type = %s "
            f"AND k.target_id = c.virtuemart_category_id) "
            f"ORDER BY c.virtuemart_category_id FOR UPDATE", (parent_id, name, CATEGORY))
        return next((int(r[0]) for r in rows if int(r[0]) not in claimed), None)

    def _upsert(self, conn: Connection, event: Event, link: Link, parent_id: int,
                touched: set[int], claimed: set[int], now: datetime) -> str | None:
        p: dict[str, Any] = event.payload
        name, description = p["name"], p.get("description")
        for language in self.languages:
            size = language.size("categories", "category_name", 400)
            if len(name) > size:
                raise MappingError(f"{event}: field payload.name: {len(name)} characters; "
                                   f"{self.tables.lang('categories', language)}.category_name "
                                   f"holds {size}")
        if description is not None and len(description.encode()) > TEXT_MAX_BYTES:
            raise MappingError(f"{event}: field payload.description: more than "
                               f"{TEXT_MAX_BYTES} bytes (category_description is TEXT)")
        if link.target_id is not None and parent_id:
            refuse_loop(event, int(link.target_id), parent_id, self.shop,
                        lambda category_id: self._parent_of(conn, category_id))
        content = content_hash(
            [parent_id, p["sort_order"], name, description, p["visible"],
             [lang.tag for lang in self.languages]])
        if unchanged(link, content, event):
            return "unchanged"
        t = self.tables
        category_id = link.target_id
        if category_id is None and self.languages:
            category_id = self._adoptable(conn, parent_id, name, claimed)
        old_parent = None
        if category_id is not None:
            row = conn.exec_driver_sql(
                f"SELECT category_parent_id FROM {t.categories} WHERE virtuemart_category_id "
                f"= %s FOR UPDATE", (category_id,)).first()
            if row is None:
                # The merchant deleted it: it is made again under a new id, and the sort
                # order kept for the old id goes with it.
                conn.exec_driver_sql(f"DELETE FROM {ORDER_TABLE} WHERE category_id = %s",
                                     (category_id,))
                category_id = None
            else:
                old_parent = row[0]
        if category_id is None:
            category_id = int(conn.exec_driver_sql(
                f"INSERT INTO {t.categories} (category_parent_id, virtuemart_vendor_id, "
                f"ordering, published, created_on, modified_on) VALUES (%s, %s, %s, %s, %s, %s)",
                (parent_id, self.vendor_id, 0, int(p["visible"]), now, now)).lastrowid)
        else:
            conn.exec_driver_sql(
                f"UPDATE {t.categories} SET category_parent_id = %s, published = %s, "
                f"modified_on = %s WHERE virtuemart_category_id = %s",
                (parent_id, int(p["visible"]), now, category_id))
            if old_parent is not None and int(old_parent) != parent_id:
                touched.add(int(old_parent))
        conn.exec_driver_sql(f"DELETE FROM {t.category_categories} WHERE category_child_id = %s",
                             (category_id,))
        conn.exec_driver_sql(
            f"INSERT INTO {t.category_categories} (category_parent_id, category_child_id, "
            f"ordering) VALUES (%s, %s, %s)", (parent_id, category_id, 0))
        if parent_id:
            # 0 would make VM skip loading the children (NOTES 4).
            conn.exec_driver_sql(f"UPDATE {t.categories} SET has_children = 1 "
                                 f"WHERE virtuemart_category_id = %s", (parent_id,))
        conn.exec_driver_sql(
            f"INSERT INTO {ORDER_TABLE} (category_id, sort_order) VALUES (%s, %s) "
            f"ON DUPLICATE KEY UPDATE sort_order = VALUES(sort_order)",
            (category_id, int(p["sort_order"])))
        touched.add(parent_id)
        for language in self.languages:
            write_language_rows(conn, t.lang("categories", language), "virtuemart_category_id",
                                [(category_id, {"category_name": name,
                                                "category_description": description}, name)])
        claimed.add(category_id)
        link.target_id, link.content_hash = category_id, content
        return None

    def _unpublish(self, conn: Connection, category_id: int, now: datetime) -> None:
        conn.exec_driver_sql(
            f"UPDATE {self.tables.categories} SET published = 0, modified_on = %s "
            f"WHERE virtuemart_category_id = %s", (now, category_id))

    def _renumber(self, conn: Connection, parents: set[int]) -> None:
        """Siblings under each parent get ordering 1..n: ERP sort order, then their current
        ordering (categories the merchant made), then id; in both tree tables."""
        t = self.tables
        for parent in sorted(parents):
            ids = [int(r[0]) for r in conn.exec_driver_sql(
                f"SELECT c.virtuemart_category_id FROM {t.categories} c "
                f"LEFT JOIN {ORDER_TABLE} o ON o.category_id = c.virtuemart_category_id "
                f"WHERE c.category_parent_id = %s "
                f"ORDER BY COALESCE(o.sort_order, c.ordering), c.virtuemart_category_id "
                f"FOR UPDATE", (parent,))]
            if not ids:
                continue
            pairs = [(n, cid) for n, cid in enumerate(ids, start=1)]
            conn.exec_driver_sql(f"UPDATE {t.categories} SET ordering = %s "
                                 f"WHERE virtuemart_category_id = %s", pairs)
            conn.exec_driver_sql(f"UPDATE {t.category_categories} SET ordering = %s "
                                 f"WHERE category_child_id = %s", pairs)

