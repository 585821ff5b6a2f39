"""A paid guest order in a demo shop, as CE Phoenix's checkout writes it (net prices).

``shopbridge demo`` leaves one in shop-a so that ``orders import`` has something to import.
The sums follow Phoenix's net-priced checkout: each line's net unit price to the cent times
the quantity, VAT on top per rate, shipping taxed with its module's class; ``orders_total``
keeps the unrounded values (decimal(15,4)) and shows them rounded.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

import sqlalchemy as sa

from .sample import insert_rows

# The demo shop's tax classes (sample.phoenix_reference_data): tax_class_id -> rate in %.
TAX_CLASS_RATES = {1: Decimal(19), 2: Decimal(7)}
PAYMENT = "Vorkasse"
SHIPPING = "Pauschale Versandkosten (Standard)"
SHIPPING_NET = Decimal("4.90")
SHIPPING_TAX_CLASS = 1
GERMANY = 81                     # countries_id, as upstream
CUSTOMER = {"name": "Erika Mustermann", "street_address": "Heidestraße 17",
            "city": "Köln", "postcode": "51147", "country": "Deutschland",
            "country_id": GERMANY, "address_format_id": 5}
EMAIL = "erika.mustermann@example.com"
CENT, STORED = Decimal("0.01"), Decimal("0.0001")


@dataclass(frozen=True)
class PlacedOrder:
    orders_id: int
    lines: int
    total: Decimal               # what the customer pays, to the cent


def _cents(value: Decimal) -> Decimal:
    return value.quantize(CENT, rounding=ROUND_HALF_UP)


def _stored(value: Decimal) -> Decimal:
    return value.quantize(STORED, rounding=ROUND_HALF_UP)


def place_guest_order(conn: sa.Connection, *, language_id: int, quantities: tuple[int, ...] = (
        2, 1), now: datetime) -> PlacedOrder:
    """Order the shop's first products (one line per quantity) as a guest, paid in advance.

    Args:
        conn: a connection on the shop database; the products must be there (synced).
        language_id: the shop language whose product names the order lines carry.
        now: when the order was placed (date_purchased and its first status history row).
    """
    products = conn.exec_driver_sql(
        "SELECT p.products_id, p.products_model, p.products_price, p.products_tax_class_id, "
        "pd.products_name FROM products p JOIN products_description pd ON "
        "pd.products_id = p.products_id AND pd.language_id = %s WHERE p.products_status = 1 "
        "ORDER BY p.products_id LIMIT %s", (language_id, len(quantities))).mappings().all()
    vat: dict[Decimal, Decimal] = {}
    subtotal = Decimal(0)
    lines = []
    for product, quantity in zip(products, quantities, strict=False):
        rate = TAX_CLASS_RATES[int(product["products_tax_class_id"])]
        price = Decimal(product["products_price"])
        amount = _cents(price) * quantity
        subtotal += amount
        vat[rate] = vat.get(rate, Decimal(0)) + amount * rate / 100
        lines.append({"products_id": product["products_id"],
                      "products_model": product["products_model"],
                      "products_name": product["products_name"], "products_price": price,
                      "final_price": price, "products_tax": rate,
                      "products_quantity": quantity})
    shipping_rate = TAX_CLASS_RATES[SHIPPING_TAX_CLASS]
    vat[shipping_rate] = vat.get(shipping_rate, Decimal(0)) + SHIPPING_NET * shipping_rate / 100
    total = subtotal + SHIPPING_NET + sum(vat.values(), Decimal(0))
    order: dict[str, Any] = {"customers_id": 0, "customers_telephone": "",
                             "customers_email_address": EMAIL, "payment_method": PAYMENT,
                             "date_purchased": now, "orders_status": 1, "currency": "EUR",
                             "currency_value": Decimal(1)}
    for prefix in ("customers", "delivery", "billing"):
        order.update({f"{prefix}_{key}": value for key, value in CUSTOMER.items()})
    orders_id = conn.exec_driver_sql(
        f"INSERT INTO orders ({', '.join(order)}) VALUES ({', '.join(['%s'] * len(order))})",
        tuple(order.values())).lastrowid
    insert_rows(conn, "orders_products", [{"orders_id": orders_id, **line} for line in lines])
    totals = [("ot_subtotal", "Zwischensumme:", subtotal, 1),
              ("ot_shipping", f"{SHIPPING}:", SHIPPING_NET, 2),
              *((("ot_tax", f"MwSt. {rate.normalize():f} %:", amount, 3))
                for rate, amount in sorted(vat.items(), reverse=True)),
              ("ot_total", "Summe:", total, 4)]
    insert_rows(conn, "orders_total", [
        {"orders_id": orders_id, "title": title, "text": _shown(value), "value": _stored(value),
         "class": class_, "sort_order": sort} for class_, title, value, sort in totals])
    # The first status history row makes the order final: paid (NOTES 5).
    insert_rows(conn, "orders_status_history", [
        {"orders_id": orders_id, "orders_status_id": 1, "date_added": now,
         "customer_notified": 1, "comments": "Bitte zwischen 8 und 12 Uhr liefern."}])
    return PlacedOrder(int(orders_id), len(lines), _cents(total))


def _shown(value: Decimal) -> str:
    return f"{_cents(value):.2f} €".replace(".", ",")

