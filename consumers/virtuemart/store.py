"""The VirtueMart product SQL: ``VmProductStore`` is this kind's ``shop_applier.ProductStore``.

What it keeps true (NOTES 3, 5, 10):
- a product row, one language row per active language with a unique slug, its manufacturer
  in ``product_manufacturers`` and its categories in ``product_categories``;
- the ``has_*`` flags written exactly where shopbridge writes the xref rows
  (``has_categories``, ``has_manufacturers``; a new product has no shopper group or media
  rows, so ``has_shoppergroups`` and ``has_medias`` 0 until the image writer links some);
  ``has_prices`` of a new product comes with its INSERT, 1/0 as its price rows will make it
  (``price_writer.replace_prices`` then leaves the flag of these ``fresh`` products alone;
  NULL, VM looks them up, where no price aspect maps the product);
- stock: VirtueMart counts open orders in ``product_ordered`` and shows in_stock - ordered;
  what ``product_in_stock`` gets depends on whether the ERP's stock already lacks open orders
  (``VmProductStore.orders_reach_erp``), computed in the UPDATE itself (no race with a
  checkout's relative update between a read and a write);
- hidden, never deleted: ``published = 0``; NULL for empty dates, UTC audit columns.

Variant children (C8; ``VmProductStore.children``, which the variant aspect hands to the
variant writer as its ``variant_writer.ChildProducts`` with each child's details) are
products of their own, linked by their ERP id under entity type ``vm_variant`` so that a
child keeps its id across re-syncs: a product row with SKU and stock, a language row per
active language named after the parent and its values (unique slug), and their own price
rows. A child's stock is written at its creation and then only by ``set_variant_quantities``
(the stock aspect, versioned apart from the product state; the same ``orders_reach_erp``
rule as the parent's). Everything else stays empty on the child, so
VirtueMart takes it from the parent (weight, descriptions, manufacturer, images); the variant
writer makes them children (parent id, ordering, no categories).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy.engine import Connection

from shopbridge.db import (
    consecutive_autoinc_ids,
    delete_in,
    insert_returning_ids,
    marks,
    update_by_key,
)

from ..binder import Binder
from ..fresh import FreshIds
from ..product_plan import NewProduct
from .aspects import ShopFacts
from .langrows import write_language_rows
from .mapper import WEIGHT_UOM, ProductRow
from .price_aspect import ProductPrices
from .price_writer import replace_prices
from .prices import PriceRow
from .variants import ChildSpec

CHUNK = 1000
CHILD_ENTITY = "vm_variant"          # link table entity type of variant children (ERP id)
_NEW_PRODUCT = ("virtuemart_vendor_id", "product_parent_id", "product_sku", "product_gtin",
                "product_weight", "product_weight_uom", "product_in_stock",
                "product_available_date", "product_availability", "published",
                "has_categories", "has_manufacturers", "has_shoppergroups", "has_medias",
                "has_prices", "created_on", "modified_on")
_NEW_CHILD = ("virtuemart_vendor_id", "product_parent_id", "product_sku", "product_in_stock",
              "published", "pordering", "has_categories", "has_manufacturers",
              "has_shoppergroups", "created_on", "modified_on")


@dataclass(frozen=True, slots=True)
class ChildDetails:
    """What the store writes of one variant child besides what makes it a child."""

    quantity: int                    # ERP stock (stock_mode), written when the child is made
    names: Mapping[str, str]         # Joomla language tag -> product_name
    prices: Sequence[PriceRow]


class VmProductStore:
    orders_reach_erp = False
    """Whether the ERP's stock already lacks the quantities VirtueMart reserves in
    ``product_ordered`` (NOTES §10 "Stock ownership"); True would make ``product_in_stock``
    ERP stock + ``product_ordered``. It stays False with VirtueMart orders imported into CAO
    (issue 12): CAO's ``MENGE_AKT`` drops when the CAO user books the document, which the
    import never does (it writes a draft, consumers/cao/importer.py). While an order is open
    only ``product_ordered`` deducts it, so in_stock = ERP stock and available (in_stock -
    ordered) counts it once; True would count it nowhere until the booking. How the status
    writer's stock moves meet this: consumers/virtuemart/statuses.py. The one switch for
    parents and children (``in_stock``)."""

    def __init__(self, facts: ShopFacts, binder: Binder | None = None) -> None:
        self.facts = facts
        self.binder = binder or Binder()
        # innodb_autoinc_lock_mode is a server setting: asked once, at the first insert.
        self.consecutive_ids: bool | None = None
        # What ``insert`` made in the open transaction: their other rows need no rewrite.
        self.fresh = FreshIds()
        # Category id -> the last ordering this store gave a link: a hint, never trusted.
        self.last_ordering: dict[int, int] = {}

    def insert(self, conn: Connection, new: Sequence[NewProduct[ProductRow]],
               now: datetime) -> None:
        """Insert products with their texts and manufacturers; sets each target_id.

        ``has_categories`` is written as ``set_categories`` will make it (the core links
        exactly the row's categories) and ``has_prices`` as the price aspect's rows in the
        same row will (``ProductPrices`` writes exactly ``row.aspect("prices")``), so that
        neither need update a new product again.
        """
        vendor = self.facts.options.vendor_id
        ids = self._insert_products(conn, _NEW_PRODUCT, [
            (vendor, 0, item.row.sku, item.row.gtin, item.row.weight, WEIGHT_UOM, item.quantity,
             item.row.available_date, item.row.availability, item.row.published,
             int(bool(item.row.category_keys)), int(item.row.manufacturer_id is not None),
             0, 0, _has_prices(item.row), now, now) for item in new])
        for item, target_id in zip(new, ids, strict=True):
            item.target_id = target_id
        # Joomla's admin deletes a product's rows with it, but an id handed out again after
        # the products table was emptied (TRUNCATE) may still have some: such a product is
        # written as an existing one.
        t = self.facts.tables
        clean = self.fresh.add_unreferenced(conn, ids, column="virtuemart_product_id", tables=[
            t.product_manufacturers, t.product_categories, t.product_prices,
            *(t.lang("products", language) for language in self.facts.languages)])
        rows = [(item.target, item.row) for item in new]
        self._texts(conn, rows, new=len(clean) == len(ids))
        self._manufacturers(conn, rows, new=len(clean) == len(ids))

    def _insert_products(self, conn: Connection, columns: Sequence[str],
                         rows: Sequence[Sequence[object]]) -> list[int]:
        """New product rows, multi-row where the server hands out consecutive ids."""
        if not rows:
            return []
        if self.consecutive_ids is None:
            self.consecutive_ids = consecutive_autoinc_ids(conn)
        return insert_returning_ids(conn, self.facts.tables.products, columns, rows,
                                    consecutive=self.consecutive_ids, chunk=CHUNK)

    def update(self, conn: Connection, rows: Sequence[tuple[int, ProductRow, int]],
               now: datetime, *, unknown: bool = False) -> None:
        """Rewrite the mapped columns; a row the shop lost is made again with ``quantity``."""
        if not rows:
            return
        t = self.facts.tables
        vendor = self.facts.options.vendor_id
        # The shop's own delivery-time texts stay unless a mapping is configured.
        availability = ("product_availability = VALUES(product_availability), "
                        if self.facts.options.availability else "")
        conn.exec_driver_sql(
            f"INSERT INTO {t.products} (virtuemart_product_id, virtuemart_vendor_id, "
            f"product_parent_id, product_sku, product_gtin, product_weight, "
            f"product_weight_uom, product_in_stock, product_available_date, "
            f"product_availability, published, has_categories, has_manufacturers, "
            f"has_shoppergroups, created_on, modified_on) "
            f"VALUES (%s, %s, 0, %s, %s, %s, %s, %s, %s, %s, %s, 0, %s, 0, %s, %s) "
            f"ON DUPLICATE KEY UPDATE product_sku = VALUES(product_sku), "
            f"product_gtin = VALUES(product_gtin), product_weight = VALUES(product_weight), "
            f"product_weight_uom = VALUES(product_weight_uom), "
            f"product_available_date = VALUES(product_available_date), {availability}"
            f"published = VALUES(published), has_manufacturers = VALUES(has_manufacturers), "
            f"modified_on = VALUES(modified_on)",
            [(pid, vendor, r.sku, r.gtin, r.weight, WEIGHT_UOM, qty, r.available_date,
              r.availability, r.published, int(r.manufacturer_id is not None), now, now)
             for pid, r, qty in rows])
        pairs = [(pid, r) for pid, r, _ in rows]
        self._texts(conn, pairs)
        self._manufacturers(conn, pairs)

    def _texts(self, conn: Connection, rows: Sequence[tuple[int, ProductRow]], *,
               new: bool = False) -> None:
        for language in self.facts.languages:
            lang_rows = []
            for pid, r in rows:
                text = next(x for x in r.texts if x.tag == language.tag)
                lang_rows.append((pid, {
                    "product_name": text.name, "product_s_desc": text.short_description,
                    "product_desc": text.description, "metadesc": text.meta_description,
                    "metakey": text.meta_keywords, "customtitle": text.custom_title},
                    text.name))
            for start in range(0, len(lang_rows), CHUNK):
                write_language_rows(conn, self.facts.tables.lang("products", language),
                                    "virtuemart_product_id", lang_rows[start:start + CHUNK],
                                    fresh=new)

    def _manufacturers(self, conn: Connection, rows: Sequence[tuple[int, ProductRow]], *,
                       new: bool = False) -> None:
        t = self.facts.tables
        for start in range(0, len(rows), CHUNK):
            chunk = rows[start:start + CHUNK]
            ids = [pid for pid, _ in chunk]
            if not new:
                delete_in(conn, t.product_manufacturers, "virtuemart_product_id", ids)
            links = [(pid, r.manufacturer_id) for pid, r in chunk
                     if r.manufacturer_id is not None]
            if links:
                conn.exec_driver_sql(
                    f"INSERT INTO {t.product_manufacturers} (virtuemart_product_id, "
                    f"virtuemart_manufacturer_id) VALUES (%s, %s)", links)

    def hide(self, conn: Connection, target_ids: Sequence[int], now: datetime) -> None:
        """Unpublish products and their variant children (a child's URL still opens)."""
        t = self.facts.tables
        for start in range(0, len(target_ids), CHUNK):
            chunk = target_ids[start:start + CHUNK]
            conn.exec_driver_sql(
                f"UPDATE {t.products} SET published = 0, modified_on = %s WHERE "
                f"virtuemart_product_id IN ({marks(chunk)}) OR product_parent_id IN "
                f"({marks(chunk)})", (now, *chunk, *chunk))

    def show_if_hidden(self, conn: Connection, target_ids: Sequence[int]) -> None:
        """Nothing to do: VirtueMart never unpublishes a sold-out product itself (its
        ``stockhandle`` hides it at query time, from the stock shopbridge writes)."""

    def in_stock(self, quantity: str) -> str:
        """SQL: ``product_in_stock`` for an ERP ``quantity`` (an SQL expression) on a product
        row that exists, by ``orders_reach_erp``."""
        return f"({quantity}) + product_ordered" if self.orders_reach_erp else quantity

    def set_quantities(self, conn: Connection, quantities: Sequence[tuple[int, int]]) -> None:
        """``product_in_stock`` of these products from ERP quantities (``in_stock``)."""
        update_by_key(conn, self.facts.tables.products, "virtuemart_product_id",
                      "product_in_stock", quantities, wrap=self.in_stock("{}"), chunk=CHUNK)

    def set_variant_quantities(self, conn: Connection,
                               quantities: Mapping[int, Mapping[int, int]]) -> None:
        """``product_in_stock`` of variant children (parent id -> child ERP id -> quantity),
        found through their ``vm_variant`` links, in one statement per ``CHUNK`` children. A
        child the shop does not have yet is skipped: its parent's product event makes it,
        with the stock that event carries."""
        wanted = {str(erp_id): qty for children in quantities.values()
                  for erp_id, qty in children.items()}
        targets = self.binder.targets(conn, CHILD_ENTITY, wanted)
        update_by_key(conn, self.facts.tables.products, "virtuemart_product_id",
                      "product_in_stock",
                      sorted((targets[key], qty) for key, qty in wanted.items()
                             if key in targets),
                      wrap=self.in_stock("{}"), chunk=CHUNK)

    def set_categories(self, conn: Connection, links: Mapping[int, list[int]]) -> None:
        """Make each product's categories exactly these, ``has_categories`` with them.

        A link that stays keeps its ``ordering`` (the merchant may have arranged the
        category); a new one goes to the end; a category that lost a product is renumbered
        1..n, so ordering stays dense and stable.
        """
        if not links:
            return
        t = self.facts.tables
        ids = sorted(links)
        fresh = self.fresh.of(conn)         # no links yet, has_categories written by insert
        old = [pid for pid in ids if pid not in fresh]
        have: dict[int, set[int]] = {}
        for pid, cid in conn.exec_driver_sql(
                f"SELECT virtuemart_product_id, virtuemart_category_id FROM "
                f"{t.product_categories} WHERE virtuemart_product_id IN ({marks(old)}) "
                f"FOR UPDATE", tuple(old)) if old else ():
            have.setdefault(int(pid), set()).add(int(cid))
        gone = [(pid, cid) for pid in ids for cid in have.get(pid, set()) - set(links[pid])]
        added = [(pid, cid) for pid in ids for cid in dict.fromkeys(links[pid])
                 if cid not in have.get(pid, set())]
        for pid, cid in gone:
            conn.exec_driver_sql(
                f"DELETE FROM {t.product_categories} WHERE virtuemart_product_id = %s AND "
                f"virtuemart_category_id = %s", (pid, cid))
        if added:
            last = self._last_orderings(conn, sorted({cid for _, cid in added}))
            rows = []
            for pid, cid in added:
                last[cid] = last.get(cid, 0) + 1
                rows.append((pid, cid, last[cid]))
            self.last_ordering.update(last)
            conn.exec_driver_sql(
                f"INSERT INTO {t.product_categories} (virtuemart_product_id, "
                f"virtuemart_category_id, ordering) VALUES (%s, %s, %s)", rows)
        for cid in sorted({cid for _, cid in gone}):
            self._renumber(conn, cid)
        with_categories = [pid for pid in old if links[pid]]
        without = [pid for pid in old if not links[pid]]
        for flag, group in ((1, with_categories), (0, without)):
            if group:
                conn.exec_driver_sql(
                    f"UPDATE {t.products} SET has_categories = %s WHERE virtuemart_product_id "
                    f"IN ({marks(group)})", (flag, *group))

    def _last_orderings(self, conn: Connection, categories: Sequence[int]) -> dict[int, int]:
        """MAX(ordering) of each category's links (a category without links: absent).

        VirtueMart has no (category, ordering) index, so a plain MAX per category reads every
        link of the categories: a scan per batch that grows with an initial load. The last
        orderings of earlier batches bound the read, by the ``ordering`` index, to the rows
        at or above the lowest of them; the answer stays exact, as a category whose maximum
        lies below that bound (links removed or renumbered meanwhile) has no row there and
        is read in full.
        """
        t = self.facts.tables
        found: dict[int, int] = {}
        hinted = [c for c in categories if c in self.last_ordering]
        if hinted:
            found = {int(c): int(n) for c, n in conn.exec_driver_sql(
                f"SELECT virtuemart_category_id, MAX(ordering) FROM {t.product_categories} "
                f"WHERE ordering >= %s AND virtuemart_category_id IN ({marks(hinted)}) "
                f"GROUP BY virtuemart_category_id",
                (min(self.last_ordering[c] for c in hinted), *hinted))}
        rest = [c for c in categories if c not in found]
        if rest:
            found.update((int(c), int(n)) for c, n in conn.exec_driver_sql(
                f"SELECT virtuemart_category_id, MAX(ordering) FROM {t.product_categories} "
                f"WHERE virtuemart_category_id IN ({marks(rest)}) "
                f"GROUP BY virtuemart_category_id", tuple(rest)))
        return found

    def _renumber(self, conn: Connection, category_id: int) -> None:
        t = self.facts.tables
        rows = conn.exec_driver_sql(
            f"SELECT id FROM {t.product_categories} WHERE virtuemart_category_id = %s "
            f"ORDER BY ordering, virtuemart_product_id", (category_id,)).all()
        if rows:
            conn.exec_driver_sql(f"UPDATE {t.product_categories} SET ordering = %s WHERE id = %s",
                                 [(n, int(r[0])) for n, r in enumerate(rows, start=1)])

    def find_by_sku(self, conn: Connection, skus: Sequence[str]) -> dict[str, int]:
        """SKU -> virtuemart_product_id of the shop's parent products (children are the
        variant writer's) with exactly one product per SKU."""
        if not skus:
            return {}
        rows = conn.exec_driver_sql(
            f"SELECT product_sku, MIN(virtuemart_product_id) FROM {self.facts.tables.products} "
            f"WHERE product_parent_id = 0 AND product_sku IN ({marks(skus)}) "
            f"GROUP BY product_sku HAVING COUNT(*) = 1", tuple(skus))
        return {str(sku): int(pid) for sku, pid in rows}

    def category_tree(self, conn: Connection) -> Iterable[tuple[int, int]]:
        return ((int(c), int(p or 0)) for c, p in conn.exec_driver_sql(
            f"SELECT virtuemart_category_id, category_parent_id FROM "
            f"{self.facts.tables.categories}"))

    def children(self, conn: Connection, children: Mapping[int, Sequence[ChildSpec]],
                 details: Mapping[int, ChildDetails], now: datetime) -> dict[int, int]:
        """Find or create the child products of parents (parent id -> its children).

        Args:
            details: ERP id -> the child's stock, names and prices.
        Returns:
            ERP id -> virtuemart_product_id of every child given.
        """
        specs = {spec.erp_id: (parent, spec) for parent, specs in children.items()
                 for spec in specs}
        if not specs:
            return {}
        t = self.facts.tables
        links = self.binder.lock(conn, CHILD_ENTITY, [str(erp_id) for erp_id in specs])
        targets = sorted({lk.target_id for lk in links.values() if lk.target_id is not None})
        present = {int(r[0]) for r in conn.exec_driver_sql(
            f"SELECT virtuemart_product_id FROM {t.products} WHERE virtuemart_product_id "
            f"IN ({marks(targets)})", tuple(targets))} if targets else set()
        vendor = self.facts.options.vendor_id
        kept: list[tuple[str, int]] = []
        made: list[tuple[int, int, ChildSpec]] = []      # (ERP id, parent id, spec)
        for erp_id, (parent, spec) in sorted(specs.items()):
            link = links[str(erp_id)]
            if link.target_id in present:
                kept.append((spec.sku, link.target))
            else:
                # New, or a child the merchant deleted: made (again) under the same link.
                made.append((erp_id, parent, spec))
        new_ids = self._insert_products(conn, _NEW_CHILD, [
            (vendor, parent, spec.sku, details[erp_id].quantity, 1, spec.pordering, 0, 0, 0,
             now, now) for erp_id, parent, spec in made])
        for (erp_id, _, _), target_id in zip(made, new_ids, strict=True):
            links[str(erp_id)].target_id = target_id
            links[str(erp_id)].dirty = True
        if kept:
            # Not the stock: that is the stock aspect's (``set_variant_quantities``), whose
            # version may be newer than this product event's.
            conn.exec_driver_sql(
                f"UPDATE {t.products} SET product_sku = %s, modified_on = %s "
                f"WHERE virtuemart_product_id = %s",
                [(sku, now, pid) for sku, pid in kept])
        ids = {erp_id: links[str(erp_id)].target for erp_id in specs}
        for language in self.facts.languages:
            write_language_rows(conn, t.lang("products", language), "virtuemart_product_id", [
                (ids[erp_id], {"product_name": details[erp_id].names[language.tag]},
                 details[erp_id].names[language.tag]) for erp_id in sorted(specs)])
        replace_prices(conn, t,
                       {ids[erp_id]: details[erp_id].prices for erp_id in specs}, now_utc=now)
        self.binder.save(conn, links.values())
        return ids


def _has_prices(row: ProductRow) -> int | None:
    """A new product's ``has_prices``: 1/0 as its price rows will make it, None (NULL) where
    no price aspect maps it (then nothing writes price rows, and VM looks them up)."""
    rows = row.aspect(ProductPrices.name)
    return None if rows is None else int(bool(rows))
