"""ERP categories -> Phoenix ``categories`` + ``categories_description`` (C1).

Phoenix facts (reference/oscommerce/NOTES.md 2): ``parent_id`` 0 is the top level; names and
descriptions live in ``categories_description``, one row per language; there is **no status
column**. The storefront builds its category tree with an INNER JOIN on the session
language's description row (``category_tree``), and the admin catalogue lists categories the
same way, so a category without that row is invisible. The ERP's names are single-language:
the same name is written for every configured shop language.

Hiding (``visible`` false, and ``category.deleted``) therefore deletes the category's
description rows in *every* language and keeps the ``categories`` row, so products linked to
it and child categories keep their ids; showing it again writes the rows back from the
payload. What that does and does not do in Phoenix 1.1.0.6 (code-read, not tried on a live
storefront):

- it disappears from the category navigation, the category listings and the admin catalogue,
  and so do its children, because both walk the tree from the top through each category's
  parent (the admin's search by name still finds the children);
- ``index.php?cPath=<id>`` typed or bookmarked still lists the products linked directly to it:
  the product listing joins ``products_to_categories`` but not ``categories_description``.
  Hiding a category does not hide products; that is ``products_status`` (C3, C11);
- SEO title and description entered in the shop admin are lost when it is hidden (the rows
  are deleted); shopbridge never writes those columns otherwise.

Parents come through the link table: a parent created earlier in the same call is found,
and a call applies parents before children, so a whole tree arriving child-first in one batch
works. A parent that has no shop id yet and is not in the batch raises ``DependencyMissing``
(the consumer retries later). A move that would put a category below one of its own
descendants also waits: Phoenix walks parents without a loop guard.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy.engine import Connection

from shopbridge.config import ShopConfig
from shopbridge.errors import ConfigError, MappingError
from shopbridge.events import Event

from ..binder import LINK_TABLE, Binder, Link
from ..catalogue import CATEGORY
from ..categories import apply_categories, refuse_loop
from ..plan import content_hash, unchanged
from .tables import NAME_MAX, TEXT_MAX_BYTES
from .text import plain_text

ENTITY = CATEGORY


class CategoryWriter:
    """Args:
        shop: the shop (its CAO shop id selects which shop categories it keeps).
        binder: the link table.
        language_ids: shop language code -> languages_id, in the shop's order; a description
            row is written for each (may be set after construction, before ``apply``).
        source: the tree this shop shows, 'shop_categories' or 'product_groups' (None: both).
            A category of the other source is hidden if the shop has it (after a switch),
            and otherwise not created.
    """

    def __init__(self, *, shop: ShopConfig, binder: Binder,
                 language_ids: Mapping[str, int], source: str | None = None) -> None:
        self.shop = shop
        self.binder = binder
        self.language_ids = dict(language_ids)
        self.source = source

    def apply(self, conn: Connection, events: Sequence[Event], now: datetime) -> list[str]:
        """Create, update or hide the categories; returns notes on what was skipped
        (the shared flow: consumers/categories.py).

        Raises:
            DependencyMissing: a parent is neither in the shop nor in ``events``, or a move
                would make a loop with the shop's current tree (both may resolve later).
            MappingError: the payload cannot be expressed in this shop.
            ConfigError: no shop language is known yet (the applier sets them in prepare).
        """
        if not self.language_ids:
            raise ConfigError(f"shop {self.shop.name!r}: no language to write category names in")
        claimed: set[int] = set()
        return apply_categories(
            conn, events, shop=self.shop, binder=self.binder, shown=self._shown,
            upsert=lambda event, link, parent_id: self._upsert(conn, event, link, parent_id,
                                                               claimed, now),
            hide=lambda category_id: self._delete(conn, category_id, now))

    def _shown(self, event: Event) -> bool:
        return self.source is None or event.payload["source"] == self.source

    # -- writing -----------------------------------------------------------------------

    def _upsert(self, conn: Connection, event: Event, link: Link, parent_id: int,
                claimed: set[int], now: datetime) -> str | None:
        p: dict[str, Any] = event.payload
        name = plain_text(p["name"])
        if len(name) > NAME_MAX:
            raise MappingError(f"{event}: field payload.name: longer than {NAME_MAX} "
                               f"characters once '<' and '>' are escaped")
        description = p.get("description")
        if description is not None and len(description.encode()) > TEXT_MAX_BYTES:
            raise MappingError(f"{event}: field payload.description: more than "
                               f"{TEXT_MAX_BYTES} bytes (categories_description is TEXT)")
        if link.target_id is not None and parent_id:
            refuse_loop(event, int(link.target_id), parent_id, self.shop,
                        lambda category_id: _parent_of(conn, category_id))
        content = content_hash(
            [parent_id, p["sort_order"], p.get("image"), name, description, p["visible"],
             sorted(self.language_ids.values())])
        if unchanged(link, content, event):
            return "unchanged"
        category_id = link.target_id
        if category_id is None:
            category_id = self._adoptable(conn, parent_id, name, claimed)
        if category_id is None:
            category_id = int(conn.exec_driver_sql(
                "INSERT INTO categories (categories_image, parent_id, sort_order, date_added) "
                "VALUES (%s, %s, %s, %s)",
                (p.get("image"), parent_id, p["sort_order"], now)).lastrowid)
        else:
            # last_modified first: the assignments run left to right, so it still compares
            # the old values, and a rewrite that changes nothing changes no row (P3, P4).
            conn.exec_driver_sql(
                "UPDATE categories SET last_modified = IF(categories_image <=> %s AND "
                "parent_id <=> %s AND sort_order <=> %s, last_modified, %s), "
                "categories_image = %s, parent_id = %s, sort_order = %s WHERE categories_id = %s",
                (p.get("image"), parent_id, p["sort_order"], now,
                 p.get("image"), parent_id, p["sort_order"], category_id))
        claimed.add(category_id)
        if p["visible"]:
            # Only name and description: SEO columns the merchant set in the admin stay.
            conn.exec_driver_sql(
                "INSERT INTO categories_description (categories_id, language_id, "
                "categories_name, categories_description) VALUES (%s, %s, %s, %s) "
                "ON DUPLICATE KEY UPDATE categories_name = VALUES(categories_name), "
                "categories_description = VALUES(categories_description)",
                [(category_id, lid, name, description)
                 for lid in sorted(self.language_ids.values())])
        else:
            self._hide(conn, category_id)
        link.target_id, link.content_hash = category_id, content
        return None

    def _delete(self, conn: Connection, category_id: int, now: datetime) -> None:
        self._hide(conn, category_id)
        conn.exec_driver_sql("UPDATE categories SET last_modified = %s WHERE categories_id = %s",
                             (now, category_id))

    @staticmethod
    def _hide(conn: Connection, category_id: int) -> None:
        """No description row in any language: neither storefront nor admin lists it."""
        conn.exec_driver_sql("DELETE FROM categories_description WHERE categories_id = %s",
                             (category_id,))

    def _adoptable(self, conn: Connection, parent_id: int, name: str,
                   claimed: set[int]) -> int | None:
        """An unlinked shop category with this name under this parent (P4: re-link, not
        duplicate). Hidden ones have no name left to match and are not found."""
        language_id = next(iter(self.language_ids.values()))    # the shop's first language
        rows = conn.exec_driver_sql(
            f"SELECT c.categories_id FROM categories c JOIN categories_description cd "
            f"ON cd.categories_id = c.categories_id AND cd.language_id = %s "
            f"WHERE c.parent_id = %s AND cd.categories_name = %s AND NOT EXISTS "
            f"(SELECT 1 FROM {LINK_TABLE} l WHERE l.entity_type = %s "
            f"AND l.target_id = c.categories_id) ORDER BY c.categories_id FOR UPDATE",
            (language_id, parent_id, name, ENTITY))
        # ``claimed``: linked earlier in this call, not yet saved to the link table.
        return next((int(r[0]) for r in rows if int(r[0]) not in claimed), None)


def _parent_of(conn: Connection, category_id: int) -> int | None:
    row = conn.exec_driver_sql("SELECT parent_id FROM categories WHERE categories_id = %s",
                               (category_id,)).first()
    return None if row is None else int(row[0])
