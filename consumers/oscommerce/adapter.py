"""The Phoenix SQL: the only code that writes products and products_description.

``PhoenixAdapter`` is Phoenix's ``shop_applier.ProductStore``: it carries out the product plan
the catalogue core makes.

Bulk statements throughout (DESIGN 6): multi-row INSERT for new products, executemany with
INSERT ... ON DUPLICATE KEY UPDATE (which PyMySQL sends as multi-row statements) for the rest.
Every NOT NULL column without a default is filled, so the shop's strict sql_mode is no trap.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime

from sqlalchemy.engine import Connection

from shopbridge.db import (
    consecutive_autoinc_ids,
    insert_returning_ids,
    marks,
    null_default_columns,
    sql_datetime,
    update_by_key,
    without_null_columns,
)

from ..fresh import FreshIds
from ..product_plan import NewProduct
from .mapper import ProductRow
from .specials import SCHEDULE_TABLE

INSERT_CHUNK = 1000

_PRODUCT_COLUMNS = ("products_quantity", "products_model", "products_price",
                    "products_date_added", "products_weight", "products_status",
                    "products_tax_class_id", "products_gtin", "manufacturers_id",
                    "products_date_available")


_DESCRIPTION_COLUMNS = ("products_id", "language_id", "products_name", "products_description",
                        "products_seo_title", "products_seo_description",
                        "products_seo_keywords")
# The optional columns an INSERT may leave out where no row of the batch has a value, if the
# shop's schema gives them a NULL default (Phoenix's does; ``omittable`` reads it).
_DESCRIPTION_TEXTS = _DESCRIPTION_COLUMNS[3:]
OPTIONAL = {"products": ("products_date_available",), "products_description": _DESCRIPTION_TEXTS}

# products_last_modified first when it compares: MariaDB assigns left to right, so later
# assignments would already have changed the columns it looks at.
_LAST_MODIFIED = "products_last_modified = VALUES(products_last_modified), "
_LAST_MODIFIED_IF_CHANGED = (
    "products_last_modified = IF(products_model <=> VALUES(products_model) AND "
    "products_price <=> VALUES(products_price) AND "
    "products_weight <=> VALUES(products_weight) AND "
    "products_status <=> VALUES(products_status) AND "
    "products_tax_class_id <=> VALUES(products_tax_class_id) AND "
    "products_gtin <=> VALUES(products_gtin) AND manufacturers_id <=> VALUES(manufacturers_id), "
    "products_last_modified, VALUES(products_last_modified)), ")


# The tables whose rows the batch's writers replace per product (``set_categories``, the
# specials scheduler).
_REFERRING = ("products_to_categories", "specials", SCHEDULE_TABLE)


class PhoenixAdapter:
    def __init__(self, *, consecutive_ids: bool) -> None:
        # Whether multi-row INSERTs are safe (shopbridge.db.consecutive_autoinc_ids).
        self.consecutive_ids = consecutive_ids
        # The OPTIONAL columns that default to NULL in this shop (``read_schema``): none
        # until read, so every column is sent.
        self.omittable: frozenset[str] = frozenset()
        # Products this batch inserted that no row of the tables in ``_REFERRING`` names:
        # their category links and specials are written without a DELETE or locking read.
        self.fresh = FreshIds()

    def read_schema(self, conn: Connection) -> None:
        """What the shop's tables allow: consecutive ids, and which optional columns an
        INSERT may leave out (a shop that changed their defaults keeps getting them)."""
        self.consecutive_ids = consecutive_autoinc_ids(conn)
        self.omittable = frozenset().union(*(null_default_columns(conn, table, columns)
                                             for table, columns in OPTIONAL.items()))

    def insert(self, conn: Connection, new: Sequence[NewProduct[ProductRow]],
               now: datetime) -> None:
        """Insert products with their descriptions; sets each NewProduct.target_id."""
        self.insert_products(conn, new, now)
        self.upsert_descriptions(conn, [(item.target, item.row) for item in new])
        # Phoenix's admin deletes a product's rows with it, but an id handed out again after
        # the products table was emptied (TRUNCATE) may still have some.
        self.fresh.add_unreferenced(conn, [item.target for item in new],
                                    column="products_id", tables=_REFERRING)

    def update(self, conn: Connection, rows: Sequence[tuple[int, ProductRow, int]],
               now: datetime, *, unknown: bool = False) -> None:
        """Rewrite products and their descriptions (see ``update_products``)."""
        self.update_products(conn, rows, now, unknown=unknown)
        self.upsert_descriptions(conn, [(pid, row) for pid, row, _ in rows])

    def insert_products(self, conn: Connection, new: Sequence[NewProduct[ProductRow]],
                        now: datetime) -> None:
        """Insert products and set each NewProduct.target_id."""
        added = sql_datetime(now)
        columns, values = without_null_columns(
            _PRODUCT_COLUMNS, [self._values(item, added) for item in new],
            self.omittable.intersection(OPTIONAL["products"]))
        ids = insert_returning_ids(conn, "products", columns, values,
                                   consecutive=self.consecutive_ids, chunk=INSERT_CHUNK)
        for item, target_id in zip(new, ids, strict=True):
            item.target_id = target_id

    @staticmethod
    def _values(item: NewProduct[ProductRow], now: str) -> tuple[object, ...]:
        row = item.row
        return (item.quantity, row.model, row.price, now, row.weight, row.status,
                row.tax_class_id, row.gtin, row.manufacturers_id, row.date_available)

    def update_products(self, conn: Connection, rows: Sequence[tuple[int, ProductRow, int]],
                        now: datetime, *, unknown: bool = False) -> None:
        """Rewrite the mapped columns of existing products (quantity and date_added stay).

        Each row is (products_id, mapped row, quantity); the quantity is used only if the
        shop lost the row (an admin deleted it), which re-creates it. A known change sets
        ``products_last_modified``; an ``unknown`` one (a full sync, an adoption) only where
        a products column differs, so a rewrite of what the shop holds changes no row.
        """
        if not rows:
            return
        at = sql_datetime(now)
        conn.exec_driver_sql(
            "INSERT INTO products (products_id, products_quantity, products_model, "
            "products_price, products_date_added, products_last_modified, products_weight, "
            "products_status, products_tax_class_id, products_gtin, manufacturers_id, "
            "products_date_available) VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s) "
            f"ON DUPLICATE KEY UPDATE {_LAST_MODIFIED_IF_CHANGED if unknown else _LAST_MODIFIED}"
            "products_model = VALUES(products_model), "
            "products_price = VALUES(products_price), "
            "products_weight = VALUES(products_weight), "
            "products_status = VALUES(products_status), "
            "products_tax_class_id = VALUES(products_tax_class_id), "
            "products_gtin = VALUES(products_gtin), "
            "manufacturers_id = VALUES(manufacturers_id)",
            [(pid, qty, r.model, r.price, at, at, r.weight, r.status, r.tax_class_id, r.gtin,
              r.manufacturers_id, r.date_available) for pid, r, qty in rows])
        self._set_column(conn, "products_date_available",
                         [(pid, r.date_available) for pid, r, _ in rows if r.owns_date])

    def upsert_descriptions(self, conn: Connection,
                            rows: Sequence[tuple[int, ProductRow]]) -> None:
        params = [(pid, d.language_id, d.name, d.description, d.seo_title, d.seo_description,
                   d.seo_keywords) for pid, r in rows for d in r.descriptions]
        if not params:
            return
        # A text no row of the batch has is left out: NULL all the same (without_null_columns).
        columns, values = without_null_columns(
            _DESCRIPTION_COLUMNS, params, self.omittable.intersection(_DESCRIPTION_TEXTS))
        conn.exec_driver_sql(
            f"INSERT INTO products_description ({', '.join(columns)}) VALUES ({marks(columns)}) "
            "ON DUPLICATE KEY UPDATE products_name = VALUES(products_name), "
            "products_description = VALUES(products_description), "
            "products_seo_title = VALUES(products_seo_title), "
            "products_seo_description = VALUES(products_seo_description), "
            "products_seo_keywords = VALUES(products_seo_keywords)", values)

    def set_categories(self, conn: Connection, links: Mapping[int, list[int]]) -> None:
        """Make each product's category links exactly these (the ERP owns them)."""
        if not links:
            return
        fresh = self.fresh.of(conn)
        ids = [pid for pid in links if pid not in fresh]
        if ids:
            conn.exec_driver_sql(
                f"DELETE FROM products_to_categories WHERE products_id IN "
                f"({marks(ids)})", tuple(ids))
        rows = [(pid, cid) for pid, cids in links.items() for cid in cids]
        if rows:
            conn.exec_driver_sql("INSERT INTO products_to_categories (products_id, categories_id) "
                                 "VALUES (%s, %s)", rows)

    # One UPDATE per chunk, not executemany: PyMySQL sends an executemany UPDATE row by row.

    def hide(self, conn: Connection, products_ids: Sequence[int], now: datetime) -> None:
        for start in range(0, len(products_ids), INSERT_CHUNK):
            chunk = products_ids[start:start + INSERT_CHUNK]
            conn.exec_driver_sql(
                "UPDATE products SET products_status = 0, products_last_modified = %s "
                f"WHERE products_id IN ({marks(chunk)})", (now, *chunk))

    def show_if_hidden(self, conn: Connection, products_ids: Sequence[int]) -> None:
        for start in range(0, len(products_ids), INSERT_CHUNK):
            chunk = products_ids[start:start + INSERT_CHUNK]
            conn.exec_driver_sql(
                "UPDATE products SET products_status = 1 WHERE products_status = 0 AND "
                f"products_id IN ({marks(chunk)})", tuple(chunk))

    def set_quantities(self, conn: Connection, quantities: Sequence[tuple[int, int]]) -> None:
        self._set_column(conn, "products_quantity", quantities)

    @staticmethod
    def _set_column(conn: Connection, column: str, values: Sequence[tuple[int, object]]) -> None:
        """products_id -> value of ``column``, a chunk per statement."""
        update_by_key(conn, "products", "products_id", column, values, chunk=INSERT_CHUNK)

    @staticmethod
    def find_by_sku(conn: Connection, skus: Sequence[str]) -> dict[str, int]:
        """SKU -> products_id of the shop's products with exactly one product per SKU."""
        if not skus:
            return {}
        rows = conn.exec_driver_sql(
            f"SELECT products_model, MIN(products_id) FROM products WHERE products_model IN "
            f"({marks(skus)}) GROUP BY products_model HAVING COUNT(*) = 1", tuple(skus))
        return {str(sku): int(pid) for sku, pid in rows}

    @staticmethod
    def category_tree(conn: Connection) -> Iterable[tuple[int, int]]:
        """(categories_id, parent_id) of every category (0: the top level)."""
        return ((int(c), int(p)) for c, p in conn.exec_driver_sql(
            "SELECT categories_id, parent_id FROM categories"))

    @staticmethod
    def language_ids(conn: Connection) -> dict[str, int]:
        """Shop language code -> languages_id."""
        rows = conn.exec_driver_sql("SELECT code, languages_id FROM languages")
        return {code: lid for code, lid in rows}
