"""The contract suite's driver for VirtueMart 4.4 (Joomla 5).

The shop database is built once from the upstream install SQL (tests/virtuemart_db.py):
German and English active, vendor currency EUR, table prefix ``sbx_``. Reads follow what the
storefront shows (reference/virtuemart/NOTES.md 9): a product is offered when ``published``
is 1 and it has a language row with a slug; its price is the group-0 row for quantity 1;
the quantity is in_stock - ordered; a category is shown when published with a language row.
Names are read in the first active language (de-DE).

A customer is the Joomla user with the e-mail and its BT address (VirtueMart's
``userinfos``), the country by its ISO code. Order statuses: an order is placed by
tests/vm_checkout.py as VirtueMart's checkout writes it (moved on to C, with the checkout's
history rows); the CAO status ids of the
subjects (1-3) become codes through the ``order_states`` option's default (1 P, 2 C, 3 S), and
``order`` reads them back through it, with the history rows written after the order was
placed.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest

import consumers
from consumers.binder import LINK_TABLE
from consumers.runner import Applier
from consumers.virtuemart.options import DEFAULT_ORDER_STATES
from shopbridge.config import ShopConfig
from tests.conftest import unique
from tests.contract.shop import HIDDEN, Category, Customer, Manufacturer, Order, Product, _Hidden
from tests.virtuemart_db import (
    PREFIX,
    create_virtuemart,
    drop_virtuemart,
    reference_problem,
    shop_entry,
)
from tests.vm_checkout import VmLine, add_product, place_vm_order

from .linked import LinkedShop

SHOP_NAME = "vm"
LANGUAGE = "de_de"
UNSUPPORTED: dict[str, str] = {}
STATUS_IDS = {code: status_id for status_id, code in DEFAULT_ORDER_STATES.items()}


class VirtuemartDriver(LinkedShop):
    kind = "virtuemart"
    unsupported = UNSUPPORTED          # event type -> why the kind does not take it yet

    def __init__(self) -> None:
        problem = reference_problem()
        if problem:
            pytest.skip(problem)
        self.db = create_virtuemart()
        self.placed: dict[int, int] = {}      # order id -> its last history row at placement

    def _t(self, base: str) -> str:
        return f"{PREFIX}virtuemart_{base}"

    def shop_entry(self) -> dict[str, Any]:
        return shop_entry(SHOP_NAME, self.db)

    def make_applier(self, shop: ShopConfig) -> Applier:
        return consumers.make_applier(shop)

    def place_order(self) -> int:
        sku = unique("S")[:64]
        product_id = add_product(self.db, sku, in_stock=10)
        order_id = place_vm_order(
            self.db, items=[VmLine(product_id, sku, "Gießkanne", Decimal("10.00"))],
            email=f"{unique('kunde')}@example.de").id
        self.placed[order_id] = int(self.db.scalar(
            f"SELECT MAX(virtuemart_order_history_id) FROM {self._t('order_histories')} "
            f"WHERE virtuemart_order_id = %s", (order_id,)))
        return order_id

    def product(self, sku: str) -> Product | _Hidden | None:
        rows = self.db.rows(
            f"SELECT p.virtuemart_product_id, p.published, p.product_in_stock - "
            f"p.product_ordered, l.product_name, l.slug FROM {self._t('products')} p "
            f"LEFT JOIN {self._t('products_' + LANGUAGE)} l "
            f"ON l.virtuemart_product_id = p.virtuemart_product_id "
            f"WHERE p.product_sku = %s", (sku,))
        assert len(rows) <= 1, f"SKU {sku} is in the shop {len(rows)} times"
        if not rows:
            return None
        pid, published, quantity, name, slug = rows[0]
        if published != 1 or not name or not slug:
            return HIDDEN
        price = self.db.scalar(
            f"SELECT product_price FROM {self._t('product_prices')} WHERE "
            f"virtuemart_product_id = %s AND (virtuemart_shoppergroup_id = 0 OR "
            f"virtuemart_shoppergroup_id IS NULL) AND price_quantity_start <= 1 "
            f"ORDER BY price_quantity_start LIMIT 1", (pid,))
        categories = frozenset(key for (key,) in self.db.rows(
            f"SELECT l.entity_key FROM {self._t('product_categories')} pc JOIN {LINK_TABLE} l "
            f"ON l.entity_type = 'category' AND l.target_id = pc.virtuemart_category_id "
            f"WHERE pc.virtuemart_product_id = %s", (pid,)))
        manufacturer = self.db.scalar(
            f"SELECT ml.mf_name FROM {self._t('product_manufacturers')} pm "
            f"JOIN {self._t('manufacturers_' + LANGUAGE)} ml "
            f"ON ml.virtuemart_manufacturer_id = pm.virtuemart_manufacturer_id "
            f"WHERE pm.virtuemart_product_id = %s", (pid,))
        return Product(name=name, price=Decimal(price).normalize() if price is not None
                       else Decimal(-1), quantity=int(quantity), categories=categories,
                       manufacturer=manufacturer)

    def category(self, key: str) -> Category | _Hidden | None:
        row = self._linked_row(
            "category", key,
            f"SELECT c.category_parent_id, c.published, l.category_name, l.slug "
            f"FROM {self._t('categories')} c LEFT JOIN {self._t('categories_' + LANGUAGE)} l "
            f"ON l.virtuemart_category_id = c.virtuemart_category_id "
            f"WHERE c.virtuemart_category_id = %s")
        if row is None:
            return None
        parent_id, published, name, slug = row
        if published != 1 or not name or not slug:
            return HIDDEN
        return Category(name=name, parent=self._category_key(parent_id))

    def manufacturer(self, key: str) -> Manufacturer | None:
        row = self._linked_row(
            "manufacturer", key,
            f"SELECT l.mf_name, l.mf_url FROM {self._t('manufacturers')} m "
            f"JOIN {self._t('manufacturers_' + LANGUAGE)} l "
            f"ON l.virtuemart_manufacturer_id = m.virtuemart_manufacturer_id "
            f"WHERE m.virtuemart_manufacturer_id = %s")
        return Manufacturer(name=row[0], url=row[1] or "") if row else None

    def customer(self, email: str) -> Customer | None:
        rows = self.db.rows(
            f"SELECT i.first_name, i.last_name, i.address_1, i.zip, i.city, c.country_3_code "
            f"FROM {PREFIX}users u LEFT JOIN {self._t('userinfos')} i "
            f"ON i.virtuemart_user_id = u.id AND i.address_type = 'BT' "
            f"LEFT JOIN {self._t('countries')} c "
            f"ON c.virtuemart_country_id = i.virtuemart_country_id WHERE u.email = %s",
            (email,))
        assert len(rows) <= 1, f"{email} has {len(rows)} accounts or bill-to addresses"
        return Customer(*rows[0]) if rows else None

    def order(self, order_id: int) -> Order | None:
        code = self.db.scalar(f"SELECT order_status FROM {self._t('orders')} "
                              f"WHERE virtuemart_order_id = %s", (order_id,))
        if code is None:
            return None
        history = self.db.rows(
            f"SELECT order_status_code, comments FROM {self._t('order_histories')} "
            f"WHERE virtuemart_order_id = %s AND virtuemart_order_history_id > %s "
            f"ORDER BY virtuemart_order_history_id", (order_id, self.placed.get(order_id, 0)))
        return Order(status=STATUS_IDS[code], history=tuple(
            (STATUS_IDS[c], (comment or "").replace("<br />\n", "\n")) for c, comment in history))

    def close(self) -> None:
        drop_virtuemart(self.db)
