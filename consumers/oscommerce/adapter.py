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

from shopbridge.db import insert_returning_ids, marks, update_by_key

from ..product_plan import NewProduct
from .mapper import ProductRow

INSERT_CHUNK = 1000

_PRODUCT_COLUMNS = ("products_quantity", "products_model", "products_price",
                    "products_date_added", "products_weight", "products_status",
                    "products_tax_class_id", "products_gtin", "manufacturers_id",
                    "products_date_available")


class PhoenixAdapter:
    def __init__(self, *, consecutive_ids: bool) -> None:
        # Whether multi-row INSERTs are safe (shopbridge.db.consecutive_autoinc_ids).
        self.consecutive_ids = consecutive_ids

    def insert(self, conn: Connection, new: Sequence[NewProduct[ProductRow]],
               now: datetime) -> None:
        """Insert products with their descriptions; sets each NewProduct.target_id."""
        self.insert_products(conn, new, now)
        self.upsert_descriptions(conn, [(item.target, item.row) for item in new])

    def update(self, conn: Connection, rows: Sequence[tuple[int, ProductRow, int]],
               now: datetime) -> None:
        """Rewrite products and their descriptions (see ``update_products``)."""
        self.update_products(conn, rows, now)
        self.upsert_descriptions(conn, [(pid, row) for pid, row, _ in rows])

    def insert_products(self, conn: Connection, new: Sequence[NewProduct[ProductRow]],
                        now: datetime) -> None:
        """Insert products and set each NewProduct.target_id."""
        ids = insert_returning_ids(conn, "products", _PRODUCT_COLUMNS,
                                   [self._values(item, now) for item in new],
                                   consecutive=self.consecutive_ids, chunk=INSERT_CHUNK)
        for item, target_id in zip(new, ids, strict=True):
            item.target_id = target_id

    @staticmethod
    def _values(item: NewProduct[ProductRow], now: datetime) -> tuple[object, ...]:
        row = item.row
        return (item.quantity, row.model, row.price, now, row.weight, row.status,
                row.tax_class_id, row.gtin, row.manufacturers_id, row.date_available)

    def update_products(self, conn: Connection, rows: Sequence[tuple[int, ProductRow, int]],
                        now: datetime) -> None:
        """Rewrite the mapped columns of existing products (quantity and date_added stay).

        Each row is (products_id, mapped row, quantity); the quantity is used only if the
        shop lost the row (an admin deleted it), which re-creates it.
        """
        if not rows:
            return
        conn.exec_driver_sql(
            "INSERT INTO products (products_id, products_quantity, products_model, "
            "products_price, products_date_added, products_last_modified, products_weight, "
            "products_status, products_tax_class_id, products_gtin, manufacturers_id, "
            "products_date_available) VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s) "
            # products_last_modified first: later assignments would already have changed the
            # columns it compares; a rewrite that changes nothing changes no row (P3, P4).
            "ON DUPLICATE KEY UPDATE products_last_modified = IF("
            "products_model <=> VALUES(products_model) AND "
            "products_price <=> VALUES(products_price) AND "
            "products_weight <=> VALUES(products_weight) AND "
            "products_status <=> VALUES(products_status) AND "
            "products_tax_class_id <=> VALUES(products_tax_class_id) AND "
            "products_gtin <=> VALUES(products_gtin) AND "
            "manufacturers_id <=> VALUES(manufacturers_id), products_last_modified, "
            "VALUES(products_last_modified)), "
            "products_model = VALUES(products_model), "
            "products_price = VALUES(products_price), "
            "products_weight = VALUES(products_weight), "
            "products_status = VALUES(products_status), "
            "products_tax_class_id = VALUES(products_tax_class_id), "
            "products_gtin = VALUES(products_gtin), "
            "manufacturers_id = VALUES(manufacturers_id)",
            [(pid, qty, r.model, r.price, now, now, r.weight, r.status, r.tax_class_id, r.gtin,
              r.manufacturers_id, r.date_available) for pid, r, qty in rows])
        self._set_column(conn, "products_date_available",
                         [(pid, r.date_available) for pid, r, _ in rows if r.owns_date])

    def upsert_descriptions(self, conn: Connection,
                            rows: Sequence[tuple[int, ProductRow]]) -> None:
        params = [(pid, d.language_id, d.name, d.description, d.seo_title, d.seo_description,
                   d.seo_keywords) for pid, r in rows for d in r.descriptions]
        if not params:
            return
        conn.exec_driver_sql(
            "INSERT INTO products_description (products_id, language_id, products_name, "
            "products_description, products_seo_title, products_seo_description, "
            "products_seo_keywords) VALUES (%s, %s, %s, %s, %s, %s, %s) "
            "ON DUPLICATE KEY UPDATE products_name = VALUES(products_name), "
            "products_description = VALUES(products_description), "
            "products_seo_title = VALUES(products_seo_title), "
            "products_seo_description = VALUES(products_seo_description), "
            "products_seo_keywords = VALUES(products_seo_keywords)", params)

    def set_categories(self, conn: Connection, links: Mapping[int, list[int]]) -> None:
        """Make each product's category links exactly these (the ERP owns them)."""
        if not links:
            return
        ids = list(links)
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
