"""Writes a VirtueMart 4.4 order into a test shop database exactly as VirtueMart's checkout
writes it, with the figures VirtueMart's PHP computes (tests/virtuemart_db.py makes the shop).

Read from the VM 4.4.0 source (administrator/components/com_virtuemart/...):
``models/orders.php`` createOrderFromCart -> _createOrder (the header, status P),
_createOrderLines (one item per cart product, status P, product_ordered reserved),
_createOrderCalcRules (a VatTax row per item; a shipment/payment row only where the method
names a tax rule), _updateOrderHist (history row P), _writeUserInfo (BT with e-mail and
customer_note, ST where the shopper gave one); the payment plugin then moves the order on
(updateStatusForOneOrder: order and item status, a second history row).
The money is ``helpers/calculationh.php`` getProductPrices/getCheckoutPrices and
``plugins/vmpsplugin.php`` setCartPrices for a shop whose products carry one VatTax rule each
(no Tax/DBTax/DATax/Marge rules, no bill rules, price config rounding to 2 digits):

- unit: S = round(base * (1 + r)), tax = S - round(S / (1 + r)) (the reverted rule);
  per line VirtueMart sums round(S) * quantity and round(tax) * quantity;
- shipment/payment: net V, tax round(V * r) at the method's rule, else (radicalShipPaymentVat,
  the default) at the rule of the biggest VAT group; gross V + tax;
- coupon (gross, negative): per VAT rule round((coupon * share) / (100 + r) * r, 2), share =
  the rule's gross goods / all gross goods; it lowers order_billTaxAmount and each rule's
  ``result`` in ``order_billTax``;
- order_total = goods + shipment + payment + coupon (gross); order_tax the items' tax only.

``place_vm_order(db, items=[VmLine(...)], guest=True, status="C", ...) -> VmOrder`` is the API;
``add_method`` makes a payment or shipment method with its language rows.
"""

from __future__ import annotations

import json
import secrets
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from tests.virtuemart_db import EUR, LANGUAGES, PREFIX

CENT = Decimal("0.01")
GERMANY = 81                       # virtuemart_country_id of DE (install_country_data.sql)
AUSTRIA = 14
# VatTax calc rules of the test shop (virtuemart_db.shop_entry maps CAO tax code 2 -> calc 1,
# code 1 -> calc 2): rate -> (virtuemart_calc_id, calc_name).
VAT_RULES = {Decimal(19): (1, "MwSt. 19 %"), Decimal(7): (2, "MwSt. 7 %")}


def php_round(value: Decimal) -> Decimal:
    """PHP round($x, 2): half away from zero."""
    return value.quantize(CENT, rounding=ROUND_HALF_UP)


@dataclass(frozen=True)
class VmLine:
    """One cart product: ``net`` is its product_price (2 places, as the price config rounds
    basePrice); ``rate`` its VatTax rule's calc_value; ``attributes`` the cart's
    customProductData (a variant child: its parent's generic-child customfield)."""

    product_id: int
    sku: str
    name: str
    net: Decimal
    rate: Decimal = Decimal(19)
    quantity: int = 1
    attributes: Mapping[str, Any] | None = None

    @property
    def sales_price(self) -> Decimal:          # salesPrice
        return php_round(self.net * (100 + self.rate) / 100)

    @property
    def tax(self) -> Decimal:                  # taxAmount: salesPrice - reverted
        return self.sales_price - php_round(self.sales_price * 100 / (100 + self.rate))


@dataclass(frozen=True)
class Method:
    """A shipment or payment of the order: its method id, net cost and, where the method
    names a tax rule (tax_id), that rule's rate; None: VirtueMart's radicalShipPaymentVat."""

    method_id: int
    net: Decimal = Decimal(0)
    rate: Decimal | None = None


@dataclass(frozen=True)
class Address:
    first_name: str = "Anna"
    last_name: str = "Müller"
    company: str | None = None
    address_1: str = "Hauptstraße 1"
    address_2: str | None = None
    zip: str = "10115"
    city: str = "Berlin"
    country_id: int = GERMANY
    phone_1: str | None = "030 1234"
    address_type_name: str = ""


@dataclass
class VmOrder:
    """What checkout wrote: ids and the shop's own figures to compare the ERP with."""

    id: int
    number: str
    status: str
    user_id: int
    total: Decimal                      # order_total
    tax: Decimal                        # order_billTaxAmount (everything's VAT)
    vat_by_rate: dict[Decimal, Decimal] = field(default_factory=dict)   # order_billTax
    item_ids: list[int] = field(default_factory=list)


def add_method(db: Any, kind: str, method_id: int, names: Mapping[str, str], *,
               element: str | None = None, prefix: str = PREFIX) -> None:
    """A payment or shipment method with a name per language tag; makes its language tables
    the way VirtueMart's tableupdater does (they are not in install.sql)."""
    element = element or f"standard_{kind}"
    db.execute(f"INSERT INTO {prefix}virtuemart_{kind}methods (virtuemart_{kind}method_id, "
               f"virtuemart_vendor_id, {kind}_element, published) VALUES (%s, 1, %s, 1)",
               (method_id, element))
    for tag in LANGUAGES:
        suffix = tag.lower().replace("-", "_")
        table = f"{prefix}virtuemart_{kind}methods_{suffix}"
        db.execute(
            f"CREATE TABLE IF NOT EXISTS {table} (virtuemart_{kind}method_id INT(1) UNSIGNED "
            f"NOT NULL, {kind}_name VARCHAR(180) NOT NULL DEFAULT '', {kind}_desc "
            "VARCHAR(2000) NOT NULL DEFAULT '', slug VARCHAR(192) NOT NULL DEFAULT '', "
            f"PRIMARY KEY (virtuemart_{kind}method_id), UNIQUE KEY slug (slug)) "
            "ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci")
        if tag in names:
            db.execute(f"INSERT INTO {table} (virtuemart_{kind}method_id, {kind}_name, slug) "
                       "VALUES (%s, %s, %s)", (method_id, names[tag], f"{kind}-{method_id}"))


def place_vm_order(db: Any, *, items: Sequence[VmLine], prefix: str = PREFIX,
                   guest: bool = True, user_id: int = 0, email: str = "anna@example.org",
                   status: str = "C", billing: Address = Address(),
                   shipping_address: Address | None = None, shipment: Method | None = None,
                   payment: Method | None = None, coupon: tuple[str, Decimal] | None = None,
                   comment: str = "", language: str = "de-DE",
                   number: str | None = None) -> VmOrder:
    """Write one order as checkout does and, unless ``status`` is P, move it on as the payment
    plugin does.

    Args:
        guest: virtuemart_user_id 0 in the order and its userinfos; else ``user_id``.
        coupon: (coupon_code, the coupon's value as a positive gross amount: percent_or_total
            'total').
        comment: the shopper's customer_note (on BT).
    """
    if not guest and not user_id:
        raise ValueError("a registered order needs user_id")
    uid = 0 if guest else user_id
    now = datetime.now(UTC).replace(tzinfo=None, microsecond=0)
    sales = sum((line.sales_price * line.quantity for line in items), Decimal(0))
    items_tax = sum((line.tax * line.quantity for line in items), Decimal(0))
    # cartData['VatTax'][calc]: taxAmount and subTotal summed per rule.
    rule_tax: dict[Decimal, Decimal] = {}
    rule_gross: dict[Decimal, Decimal] = {}
    for line in items:
        rule_tax[line.rate] = rule_tax.get(line.rate, Decimal(0)) + line.tax * line.quantity
        rule_gross[line.rate] = (rule_gross.get(line.rate, Decimal(0))
                                 + line.sales_price * line.quantity)
    biggest = max(rule_gross, key=lambda r: rule_gross[r])     # radicalShipPaymentVat

    def method_cost(method: Method | None) -> tuple[Decimal, Decimal, Decimal | None]:
        if method is None or not method.net:
            return Decimal(0), Decimal(0), None
        rate = method.rate if method.rate is not None else biggest
        return method.net, php_round(method.net * rate / 100), rate

    ship_net, ship_tax, ship_rate = method_cost(shipment)
    pay_net, pay_tax, pay_rate = method_cost(payment)
    coupon_value = -coupon[1] if coupon else Decimal(0)        # salesPriceCoupon
    result = dict(rule_tax)
    bill_tax = items_tax + ship_tax + pay_tax
    if coupon:
        for rate, gross in rule_gross.items():
            share = gross / sales if gross < sales else Decimal(1)
            discount_tax = php_round(coupon_value * share / (100 + rate) * rate)
            result[rate] += discount_tax
            bill_tax += discount_tax
    for rate, tax in ((ship_rate, ship_tax), (pay_rate, pay_tax)):
        if rate is not None:
            result[rate] = result.get(rate, Decimal(0)) + tax
    total = sales + ship_net + ship_tax + pay_net + pay_tax + coupon_value
    order_number = number or secrets.token_hex(4).upper()
    bill_json = {str(VAT_RULES[rate][0]): {
        "virtuemart_calc_id": VAT_RULES[rate][0], "calc_name": VAT_RULES[rate][1],
        "calc_value": str(rate), "result": float(amount)} for rate, amount in result.items()}
    customer_number = (f"nonreg_{billing.first_name}_{billing.last_name}_{email}" if guest
                       else f"VM{uid:07d}")[:32]

    with db.engine.begin() as conn:
        def insert(table: str, row: Mapping[str, Any]) -> int:
            result = conn.exec_driver_sql(
                f"INSERT INTO {prefix}virtuemart_{table} ({', '.join(row)}) "
                f"VALUES ({', '.join(['%s'] * len(row))})", tuple(row.values()))
            return int(result.lastrowid)

        order_id = insert("orders", {
            "virtuemart_user_id": uid, "virtuemart_vendor_id": 1,
            "order_number": order_number, "customer_number": customer_number,
            "order_pass": "p_" + secrets.token_hex(4), "order_create_invoice_pass":
            secrets.token_hex(4), "order_total": total, "order_salesPrice": sales,
            "order_billTaxAmount": bill_tax, "order_billTax": json.dumps(bill_json),
            "order_billDiscountAmount": 0, "order_discountAmount": 0,
            "order_subtotal": sum(((line.sales_price - line.tax) * line.quantity
                                   for line in items), Decimal(0)),
            "order_tax": items_tax, "order_shipment": ship_net,
            "order_shipment_tax": ship_tax, "order_payment": pay_net,
            "order_payment_tax": pay_tax,
            "coupon_discount": coupon_value, "coupon_code": coupon[0] if coupon else None,
            "order_discount": 0, "order_currency": EUR, "order_status": "P",
            "user_currency_id": EUR, "user_currency_rate": 1, "payment_currency_id": EUR,
            "payment_currency_rate": 1, "user_shoppergroups": "1" if guest else "2",
            "virtuemart_paymentmethod_id": payment.method_id if payment else None,
            "virtuemart_shipmentmethod_id": shipment.method_id if shipment else None,
            "order_language": language, "ip_address": "127.0.0.xx",
            "STsameAsBT": 0 if shipping_address else 1, "created_on": now,
            "created_by": uid, "modified_on": now, "modified_by": uid})
        item_ids = []
        for line in items:
            item_id = insert("order_items", {
                "virtuemart_order_id": order_id, "virtuemart_vendor_id": 1,
                "virtuemart_product_id": line.product_id, "order_item_sku": line.sku,
                "order_item_name": line.name, "product_quantity": line.quantity,
                "product_item_price": line.net,
                "product_priceWithoutTax": line.sales_price - line.tax,
                "product_tax": line.tax,
                "product_basePriceWithTax": line.sales_price,
                "product_discountedPriceWithoutTax": line.sales_price - line.tax,
                "product_final_price": line.sales_price, "product_subtotal_discount": 0,
                "product_subtotal_with_tax": line.sales_price * line.quantity,
                "order_status": "P",
                "product_attribute": json.dumps(line.attributes) if line.attributes else "",
                "created_on": now, "created_by": uid, "modified_on": now,
                "modified_by": uid})
            item_ids.append(item_id)
            # handleStockAfterStatusChangedPerProduct N -> P: reserved.
            conn.exec_driver_sql(
                f"UPDATE {prefix}virtuemart_products SET product_ordered = product_ordered + "
                "%s WHERE virtuemart_product_id = %s", (line.quantity, line.product_id))
            calc_id, calc_name = VAT_RULES[line.rate]
            insert("order_calc_rules", {
                "virtuemart_calc_id": calc_id, "virtuemart_order_id": order_id,
                "virtuemart_vendor_id": 1, "virtuemart_order_item_id": item_id,
                "calc_rule_name": calc_name, "calc_kind": "VatTax", "calc_mathop": "+%",
                "calc_amount": line.tax, "calc_result": result[line.rate],
                "calc_value": line.rate, "calc_currency": EUR, "calc_params": "",
                "created_on": now})
        for kind, method, tax in (("payment", payment, pay_tax), ("shipment", shipment,
                                                                 ship_tax)):
            if method is not None and method.rate is not None and method.net:
                calc_id, calc_name = VAT_RULES[method.rate]
                insert("order_calc_rules", {
                    "virtuemart_calc_id": calc_id, "virtuemart_order_id": order_id,
                    "virtuemart_vendor_id": 1, "calc_rule_name": calc_name, "calc_kind": kind,
                    "calc_mathop": "+%", "calc_amount": tax, "calc_value": method.rate,
                    "calc_currency": EUR, "calc_params": "", "created_on": now})
        insert("order_histories", {"virtuemart_order_id": order_id, "order_status_code": "P",
                                   "customer_notified": 0, "comments": "", "created_on": now,
                                   "created_by": uid, "modified_on": now})
        for address_type, address in (("BT", billing), ("ST", shipping_address)):
            if address is None:
                continue
            insert("order_userinfos", {
                "virtuemart_order_id": order_id, "virtuemart_user_id": uid,
                "address_type": address_type,
                "address_type_name": address.address_type_name if address_type == "ST"
                else None,
                "company": address.company, "last_name": address.last_name,
                "first_name": address.first_name, "phone_1": address.phone_1,
                "address_1": address.address_1, "address_2": address.address_2,
                "city": address.city, "virtuemart_country_id": address.country_id,
                "zip": address.zip, "email": email if address_type == "BT" else None,
                "agreed": 1 if address_type == "BT" else 0, "tos": 1 if address_type == "BT"
                else 0, "customer_note": comment if address_type == "BT" else "",
                "created_on": now, "created_by": uid, "modified_on": now})
    if status != "P":
        set_vm_status(db, order_id, status, prefix=prefix)
    return VmOrder(id=order_id, number=order_number, status=status, user_id=uid, total=total,
                   tax=bill_tax, vat_by_rate=result, item_ids=item_ids)


# handleStockAfterStatusChangedPerProduct from a reserving state (stock handle R: P, U, C)
# into a default state that does not reserve: (in_stock, ordered, sales) per unit. S is O
# (shipped: out of stock and reservation), X and R are A (the reservation released).
LEAVING_RESERVED = {"S": (-1, -1, 1), "X": (0, -1, 0), "R": (0, -1, 0)}


def set_vm_status(db: Any, order_id: int, status: str, *, prefix: str = PREFIX,
                  comment: str = "") -> None:
    """What updateStatusForOneOrder writes when the order moves on from a reserving state
    (the payment plugin's U, C; an administrator's S, X, R): order and item status, a history
    row, and for S, X and R the stock moves of their default stock handles."""
    now = datetime.now(UTC).replace(tzinfo=None, microsecond=0)
    with db.engine.begin() as conn:
        if status in LEAVING_RESERVED:
            in_stock, ordered, sales = LEAVING_RESERVED[status]
            conn.exec_driver_sql(
                f"UPDATE {prefix}virtuemart_products p JOIN (SELECT virtuemart_product_id, "
                f"SUM(product_quantity) AS q FROM {prefix}virtuemart_order_items "
                "WHERE virtuemart_order_id = %s GROUP BY virtuemart_product_id) i "
                "ON i.virtuemart_product_id = p.virtuemart_product_id "
                "SET p.product_in_stock = p.product_in_stock + %s * i.q, "
                "p.product_ordered = p.product_ordered + %s * i.q, "
                "p.product_sales = p.product_sales + %s * i.q",
                (order_id, in_stock, ordered, sales))
        conn.exec_driver_sql(f"UPDATE {prefix}virtuemart_orders SET order_status = %s, "
                             "modified_on = %s WHERE virtuemart_order_id = %s",
                             (status, now, order_id))
        conn.exec_driver_sql(f"UPDATE {prefix}virtuemart_order_items SET order_status = %s, "
                             "modified_on = %s WHERE virtuemart_order_id = %s",
                             (status, now, order_id))
        conn.exec_driver_sql(
            f"INSERT INTO {prefix}virtuemart_order_histories (virtuemart_order_id, "
            "order_status_code, customer_notified, comments, created_on, modified_on) "
            "VALUES (%s, %s, %s, %s, %s, %s)", (order_id, status, 1, comment, now, now))


def add_product(db: Any, sku: str, *, in_stock: int, parent_id: int = 0, params: str = "",
                prefix: str = PREFIX) -> int:
    """A bare product row (stock only: what checkout reserves and a status change moves)."""
    with db.engine.begin() as conn:
        return int(conn.exec_driver_sql(
            f"INSERT INTO {prefix}virtuemart_products (virtuemart_vendor_id, "
            "product_parent_id, product_sku, product_in_stock, product_params, published, "
            "created_on) VALUES (1, %s, %s, %s, %s, 1, UTC_TIMESTAMP())",
            (parent_id, sku, in_stock, params)).lastrowid)
