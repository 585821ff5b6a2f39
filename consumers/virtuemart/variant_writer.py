"""The SQL of C8: the multi-variant custom, the parent's matrix row and the child rows.

The variant aspect (``variant_aspect.ProductVariants.write``) calls a ``VariantWriter`` with
the batch's changed products, shop id -> row with its plan, inside the batch's transaction,
after the product rows are written. ``consumers/virtuemart/variants.py`` plans; this module
writes:

1. The ``customs`` row of type ``C`` that every parent's field points at. shopbridge creates
   it once and finds it again through the link table (entity ``vm_custom``, key
   ``multi_variant``), never by title: a multi-variant custom the merchant made is not
   touched. A custom the merchant deleted is created again.
2. Per parent exactly one ``product_customfields`` row of that custom, holding the matrix
   (``VariantPlan.field_params``). An existing row is updated in place, so its
   ``virtuemart_customfield_id`` (which the front end's script and child overrides refer to)
   stays; duplicates are deleted; a parent whose variants are gone loses the row.
3. The children: ``product_parent_id``, dense ``pordering``, the parent's ``published``, no
   ``product_categories`` rows and ``has_categories = 0`` (NOTES §10: a child with category
   rows is listed as a product of its own; 0 is the exact value for "no rows"). Children get
   no customfields: they inherit the parent's. A child that left the matrix is hidden
   (``published = 0``), never deleted: orders may name it.

The child products themselves (product row with SKU, stock and prices, a language row per
active language with a unique slug) belong to the kind's product store: this writer asks it
for their ids through ``ChildProducts`` and writes only what makes them children.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Protocol

from sqlalchemy.engine import Connection

from shopbridge.db import delete_in, marks, utc_now

from ..binder import LINK_TABLE, Binder
from .params import format_params, parse_params
from .shop import Tables
from .variants import ChildSpec, VariantPlan

CUSTOM_ENTITY = "vm_custom"
MULTI_VARIANT_KEY = "multi_variant"
CUSTOM_TITLE = "Variants (shopbridge)"
CUSTOM_DESC = ("Created by shopbridge for the ERP's variant articles; each parent's matrix is "
               "rewritten on every sync.")
# custom 21 of the sample data ("Multi Variant"), with labels shown: usecanonical, showlabels,
# ... in getVarsToPush('C') order (models/custom.php).
CUSTOM_PARAMS = {"usecanonical": 1, "showlabels": 1, "browseajax": 0, "sCustomId": 0,
                 "selectType": 0, "withImage": 0, "selectoptions": 0, "clabels": 0,
                 "options": 0}


class HasVariants(Protocol):
    """What this aspect reads of the kind's product row."""

    @property
    def variants(self) -> VariantPlan: ...


class ChildProducts(Protocol):
    """The product store's part: find or create the child products of parents.

    Called once per batch with parent product id -> its planned children. Must return
    ERP id -> ``virtuemart_product_id`` for every child given, creating the products that do
    not exist yet (product row with SKU, a language row per active language with a unique
    slug, see ``variants.child_name``) and keeping ids stable: the same ERP id gives the same
    product id in every later batch (link it by its ERP key, as products are). Prices, stock
    and texts of the children are the store's to write; this writer sets only what makes them
    children (see the module docstring).
    """

    def __call__(self, conn: Connection,
                 children: Mapping[int, Sequence[ChildSpec]]) -> Mapping[int, int]: ...


class VariantWriter:
    """``(conn, {parent product id: row}) -> None`` for C8.

    Args:
        tables: the shop's table names.
        child_products: the product store's finder/creator of child products.
    """

    def __init__(self, *, tables: Tables, child_products: ChildProducts,
                 binder: Binder | None = None) -> None:
        self.customs = tables.customs
        self.fields = tables.product_customfields
        self.products = tables.products
        self.product_categories = tables.product_categories
        self.child_products = child_products
        self.binder = binder or Binder()

    def __call__(self, conn: Connection, rows: Mapping[int, HasVariants]) -> None:
        if not rows:
            return
        plans = {parent: row.variants for parent, row in rows.items()}
        wanted = {parent: plan for parent, plan in plans.items() if plan}
        custom_id = self.custom_id(conn, create=bool(wanted))
        if custom_id is None:
            return                          # never had variants: nothing of ours to change
        existing = self._fields(conn, custom_id, plans)
        ids = dict(self.child_products(conn, {p: plan.children for p, plan in wanted.items()}))
        children = [(parent, child, ids[child.erp_id])
                    for parent, plan in wanted.items() for child in plan.children]
        kept = {product_id for _, _, product_id in children}
        dropped: set[int] = set()
        inserts: list[tuple[int, int, str, int]] = []
        updates: list[tuple[str, int]] = []
        deletes: list[int] = []
        others = self._other_field_counts(conn, custom_id,
                                          [p for p in wanted if not existing.get(p)])
        for parent, plan in plans.items():
            old = existing.get(parent, [])
            for _, params in old:
                dropped.update(_option_ids(params, parent))
            if not plan:
                deletes.extend(field_id for field_id, _ in old)
                continue
            params = plan.field_params(parent, ids)
            if not old:
                inserts.append((parent, custom_id, params, others.get(parent, 0)))
                continue
            (field_id, current), *duplicates = old
            deletes.extend(field_id for field_id, _ in duplicates)
            if current != params:
                updates.append((params, field_id))
        self._write_fields(conn, custom_id, inserts, updates, deletes)
        self._write_children(conn, children)
        self._hide(conn, dropped - kept)

    def custom_id(self, conn: Connection, *, create: bool) -> int | None:
        """The multi-variant custom's id; created (and linked) when missing and ``create``."""
        found = self._linked_custom(conn)
        if found is not None or not create:
            return found
        # Locked only to create: every batch of every consumer reads it, and a lock held to
        # the end of each batch would serialise them all.
        link = self.binder.lock(conn, CUSTOM_ENTITY, [MULTI_VARIANT_KEY])[MULTI_VARIANT_KEY]
        found = self._linked_custom(conn)
        if found is not None:
            return found
        now = utc_now()
        result = conn.exec_driver_sql(
            f"INSERT INTO {self.customs} (custom_parent_id, virtuemart_vendor_id, "
            f"custom_jplugin_id, custom_element, admin_only, custom_title, show_title, "
            f"custom_tip, custom_desc, field_type, is_list, is_hidden, is_cart_attribute, "
            f"is_input, searchable, layout_pos, custom_params, shared, published, created_on, "
            f"modified_on, ordering) VALUES (0, 1, 0, '', 0, %s, 0, '', %s, 'C', 0, 0, 1, 0, 0, "
            f"'addtocart', %s, 0, 1, %s, %s, 0)",
            (CUSTOM_TITLE, CUSTOM_DESC, format_params(CUSTOM_PARAMS), now, now))
        link.target_id = int(result.lastrowid)
        link.dirty = True
        self.binder.save(conn, [link])
        return link.target_id

    def _linked_custom(self, conn: Connection) -> int | None:
        row = conn.exec_driver_sql(
            f"SELECT c.virtuemart_custom_id FROM {LINK_TABLE} l JOIN {self.customs} c "
            f"ON c.virtuemart_custom_id = l.target_id WHERE l.entity_type = %s "
            f"AND l.entity_key = %s", (CUSTOM_ENTITY, MULTI_VARIANT_KEY)).first()
        return None if row is None else int(row[0])

    def _fields(self, conn: Connection, custom_id: int, parents: Iterable[int]
                ) -> dict[int, list[tuple[int, str]]]:
        """Parent id -> its (customfield id, params) rows of our custom, oldest first."""
        wanted = sorted(parents)
        found: dict[int, list[tuple[int, str]]] = {}
        for field_id, product_id, params in conn.exec_driver_sql(
                f"SELECT virtuemart_customfield_id, virtuemart_product_id, customfield_params "
                f"FROM {self.fields} WHERE virtuemart_custom_id = %s AND virtuemart_product_id "
                f"IN ({marks(wanted)}) ORDER BY virtuemart_customfield_id",
                (custom_id, *wanted)):
            found.setdefault(int(product_id), []).append((int(field_id), params or ""))
        return found

    def _other_field_counts(self, conn: Connection, custom_id: int,
                            parents: Sequence[int]) -> dict[int, int]:
        """Parent id -> how many other customfields it has: a new row's dense ``ordering``
        goes after them, leaving the merchant's own fields where they are."""
        if not parents:
            return {}
        return {int(product_id): int(count) for product_id, count in conn.exec_driver_sql(
            f"SELECT virtuemart_product_id, COUNT(*) FROM {self.fields} WHERE "
            f"virtuemart_custom_id <> %s AND virtuemart_product_id IN "
            f"({marks(parents)}) GROUP BY virtuemart_product_id",
            (custom_id, *parents))}

    def _write_fields(self, conn: Connection, custom_id: int,
                      inserts: Sequence[tuple[int, int, str, int]],
                      updates: Sequence[tuple[str, int]], deletes: Sequence[int]) -> None:
        delete_in(conn, self.fields, "virtuemart_customfield_id", deletes)
        if updates:
            conn.exec_driver_sql(
                f"UPDATE {self.fields} SET customfield_params = %s "
                f"WHERE virtuemart_customfield_id = %s", list(updates))
        if inserts:
            # Only placeholders in VALUES: PyMySQL sends one multi-row INSERT (DESIGN 6).
            conn.exec_driver_sql(
                f"INSERT INTO {self.fields} (virtuemart_product_id, virtuemart_custom_id, "
                f"customfield_value, customfield_price, customfield_params, published, "
                f"ordering) VALUES (%s, %s, NULL, NULL, %s, 1, %s)",
                [(parent, custom, params, ordering)
                 for parent, custom, params, ordering in inserts])

    def _write_children(self, conn: Connection,
                        children: Sequence[tuple[int, ChildSpec, int]]) -> None:
        if not children:
            return
        conn.exec_driver_sql(
            f"UPDATE {self.products} SET product_parent_id = %s, pordering = %s, "
            f"has_categories = 0 WHERE virtuemart_product_id = %s",
            [(parent, child.pordering, product_id) for parent, child, product_id in children])
        ids = sorted({product_id for _, _, product_id in children})
        # A child's page can be opened by its URL: a hidden parent's children are hidden too.
        conn.exec_driver_sql(
            f"UPDATE {self.products} c JOIN {self.products} p ON p.virtuemart_product_id = "
            f"c.product_parent_id SET c.published = p.published WHERE "
            f"c.virtuemart_product_id IN ({marks(ids)})", tuple(ids))
        delete_in(conn, self.product_categories, "virtuemart_product_id", ids)

    def _hide(self, conn: Connection, product_ids: Iterable[int]) -> None:
        ids = sorted(product_ids)
        if ids:
            conn.exec_driver_sql(
                f"UPDATE {self.products} SET published = 0 WHERE virtuemart_product_id IN "
                f"({marks(ids)})", tuple(ids))


def _option_ids(params: str, parent: int) -> set[int]:
    """The child product ids a stored matrix names (the parent's own entry left out)."""
    options = parse_params(params).get("options")
    if not isinstance(options, dict):
        return set()
    return {int(key) for key in options if str(key).isdigit() and int(key) != parent}
