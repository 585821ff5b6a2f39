"""The contract suite's driver for osCommerce (CE Phoenix 1.1.0.6).

The shop database is built once from the upstream install SQL, as tests/conftest.py builds
it (German id 2 beside English id 1, two tax classes). Reads follow what the storefront shows
(reference/oscommerce/NOTES.md 2-3): a product is offered when ``products_status`` is 1 and
it has a description row in the session language; a category is listed when it has a
description row; names are read in the shop's first configured language.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import sqlalchemy as sa

import consumers
from consumers.binder import LINK_TABLE
from consumers.runner import Applier
from shopbridge import sample
from shopbridge.config import ShopConfig
from tests.conftest import (
    MARIADB_URL,
    PHOENIX_SQL,
    Database,
    require_reference,
    setup_phoenix,
    shop_entry,
    unique,
)
from tests.contract.shop import HIDDEN, Category, Customer, Manufacturer, Order, Product, _Hidden
from tests.integration.test_order_producer import Order as PlacedOrder
from tests.integration.test_order_producer import add_order

from .linked import LinkedShop

SHOP_NAME = "web"
FIRST_LANGUAGE = "de"          # shop_entry: languages ["de", "en"]


class OscommerceDriver(LinkedShop):
    kind = "oscommerce"

    def __init__(self) -> None:
        sql = require_reference(PHOENIX_SQL)       # skips the kind when the SQL is absent
        name = unique("sbtest_contract_phoenix")
        url = sample.create_database(MARIADB_URL, name)
        self.db = Database(name, url, sa.create_engine(url, connect_args={"charset": "utf8mb4"}))
        try:
            sample.run_sql_file(url, sql)
            setup_phoenix(self.db)
        except BaseException:
            self.close()
            raise
        self.language_id = int(self.db.scalar(
            "SELECT languages_id FROM languages WHERE code = %s", (FIRST_LANGUAGE,)))

    # -- the shop under test ---------------------------------------------------------------

    def shop_entry(self) -> dict[str, Any]:
        return shop_entry(SHOP_NAME, self.db)

    def make_applier(self, shop: ShopConfig) -> Applier:
        return consumers.make_applier(shop)

    def place_order(self) -> int:
        return add_order(self.db, PlacedOrder(email=f"{unique('kunde')}@example.de"),
                         history=False)

    # -- what the shop shows ---------------------------------------------------------------

    def product(self, sku: str) -> Product | _Hidden | None:
        rows = self.db.rows(
            "SELECT p.products_id, p.products_status, p.products_price, p.products_quantity, "
            "pd.products_name, m.manufacturers_name FROM products p "
            "LEFT JOIN products_description pd ON pd.products_id = p.products_id "
            "AND pd.language_id = %s "
            "LEFT JOIN manufacturers m ON m.manufacturers_id = p.manufacturers_id "
            "WHERE p.products_model = %s", (self.language_id, sku))
        assert len(rows) <= 1, f"SKU {sku} is in the shop {len(rows)} times"
        if not rows:
            return None
        products_id, status, price, quantity, name, manufacturer = rows[0]
        if status != 1 or name is None:
            return HIDDEN
        categories = frozenset(key for (key,) in self.db.rows(
            f"SELECT l.entity_key FROM products_to_categories pc JOIN {LINK_TABLE} l "
            f"ON l.entity_type = 'category' AND l.target_id = pc.categories_id "
            f"WHERE pc.products_id = %s", (products_id,)))
        return Product(name=name, price=Decimal(price), quantity=int(quantity),
                       categories=categories, manufacturer=manufacturer)

    def category(self, key: str) -> Category | _Hidden | None:
        row = self._linked_row(
            "category", key,
            "SELECT c.parent_id, cd.categories_name FROM categories c "
            "LEFT JOIN categories_description cd ON cd.categories_id = c.categories_id "
            "AND cd.language_id = %s WHERE c.categories_id = %s", self.language_id)
        if row is None:
            return None
        parent_id, name = row
        if name is None:
            return HIDDEN
        return Category(name=name, parent=self._category_key(parent_id))

    def manufacturer(self, key: str) -> Manufacturer | None:
        row = self._linked_row(
            "manufacturer", key,
            "SELECT m.manufacturers_name, mi.manufacturers_url FROM manufacturers m "
            "LEFT JOIN manufacturers_info mi ON mi.manufacturers_id = m.manufacturers_id "
            "AND mi.languages_id = %s WHERE m.manufacturers_id = %s", self.language_id)
        return Manufacturer(name=row[0], url=row[1] or "") if row else None

    def customer(self, email: str) -> Customer | None:
        rows = self.db.rows(
            "SELECT c.customers_firstname, c.customers_lastname, a.entry_street_address, "
            "a.entry_postcode, a.entry_city, co.countries_iso_code_3 FROM customers c "
            "LEFT JOIN address_book a ON a.address_book_id = c.customers_default_address_id "
            "LEFT JOIN countries co ON co.countries_id = a.entry_country_id "
            "WHERE c.customers_email_address = %s", (email,))
        assert len(rows) <= 1, f"{email} has {len(rows)} accounts"
        return Customer(*rows[0]) if rows else None

    def order(self, order_id: int) -> Order | None:
        status = self.db.scalar("SELECT orders_status FROM orders WHERE orders_id = %s",
                                (order_id,))
        if status is None:
            return None
        history = self.db.rows(
            "SELECT orders_status_id, comments FROM orders_status_history "
            "WHERE orders_id = %s ORDER BY orders_status_history_id", (order_id,))
        return Order(status=int(status),
                     history=tuple((int(s), comment or "") for s, comment in history))

    def close(self) -> None:
        self.db.engine.dispose()
        sample.drop_database(MARIADB_URL, self.db.name)
