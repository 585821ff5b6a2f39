"""A minimal VirtueMart order, as far as the status writer (consumers/virtuemart/statuses.py)
reads it: the order row, its items, the BT address with the e-mail, the checkout's history
row, and the reservation checkout makes (``product_ordered`` += quantity for a reserving
state, handleStockAfterStatusChangedPerProduct from "N").

Note for integration: tests/vm_checkout.py (another branch) writes full-fidelity orders as
VirtueMart's checkout does (totals, calc rules, addresses); this stub should become a call
of it once both are merged.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from decimal import Decimal

from tests.conftest import Database, unique
from tests.virtuemart_db import PREFIX

P = PREFIX + "virtuemart_"
RESERVING = {"P", "U", "C", "F"}       # the default states with stock handle R


@dataclass(frozen=True)
class Line:
    product_id: int
    quantity: int = 1
    sku: str = "S-1"
    price: Decimal = Decimal("11.90")


@dataclass(frozen=True)
class VmOrder:
    email: str = "erika@example.de"
    first_name: str = "Erika"
    last_name: str = "Mustermann"
    language: str = "de-DE"
    status: str = "C"
    lines: Sequence[Line] = field(default_factory=tuple)


def add_vm_order(db: Database, order: VmOrder) -> int:
    """Writes ``order``; returns its virtuemart_order_id."""
    total = sum((line.price * line.quantity for line in order.lines), Decimal(0))
    with db.engine.begin() as conn:
        order_id = int(conn.exec_driver_sql(
            f"INSERT INTO {P}orders (virtuemart_vendor_id, order_number, order_pass, "
            f"order_total, order_salesPrice, order_subtotal, order_status, order_currency, "
            f"order_language, created_on, modified_on) "
            f"VALUES (1, %s, %s, %s, %s, %s, %s, 47, %s, UTC_TIMESTAMP(), UTC_TIMESTAMP())",
            (unique("ORD")[:64], "p_" + unique("x")[:30], total, total, total, order.status,
             order.language)).lastrowid)
        for line in order.lines:
            conn.exec_driver_sql(
                f"INSERT INTO {P}order_items (virtuemart_order_id, virtuemart_vendor_id, "
                f"virtuemart_product_id, order_item_sku, order_item_name, product_quantity, "
                f"product_final_price, product_subtotal_with_tax, order_status, created_on) "
                f"VALUES (%s, 1, %s, %s, %s, %s, %s, %s, %s, UTC_TIMESTAMP())",
                (order_id, line.product_id, line.sku, line.sku, line.quantity, line.price,
                 line.price * line.quantity, order.status))
            if order.status in RESERVING:
                conn.exec_driver_sql(
                    f"UPDATE {P}products SET product_ordered = product_ordered + %s "
                    f"WHERE virtuemart_product_id = %s", (line.quantity, line.product_id))
        conn.exec_driver_sql(
            f"INSERT INTO {P}order_userinfos (virtuemart_order_id, address_type, first_name, "
            f"last_name, address_1, city, zip, virtuemart_country_id, email, created_on) "
            f"VALUES (%s, 'BT', %s, %s, 'Hauptstr. 1', 'Berlin', '10115', 81, %s, "
            f"UTC_TIMESTAMP())", (order_id, order.first_name, order.last_name, order.email))
        conn.exec_driver_sql(
            f"INSERT INTO {P}order_histories (virtuemart_order_id, order_status_code, "
            f"customer_notified, comments, created_on) VALUES (%s, %s, 0, '', UTC_TIMESTAMP())",
            (order_id, order.status))
    return order_id


def add_product(db: Database, sku: str, *, in_stock: int, parent_id: int = 0,
                params: str = "") -> int:
    """A bare product row (stock only: what the status writer moves)."""
    with db.engine.begin() as conn:
        return int(conn.exec_driver_sql(
            f"INSERT INTO {P}products (virtuemart_vendor_id, product_parent_id, product_sku, "
            f"product_in_stock, product_params, published, created_on) "
            f"VALUES (1, %s, %s, %s, %s, 1, UTC_TIMESTAMP())",
            (parent_id, sku, in_stock, params)).lastrowid)
