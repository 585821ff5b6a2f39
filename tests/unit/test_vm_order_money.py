"""producers/virtuemart/money.py: VirtueMart's stored figures -> the totals the ERP books."""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Any

from producers.virtuemart.money import charges, item_rates
from producers.virtuemart.orders import _bill_tax

D = Decimal


def item(item_id: int, final: str, tax: str, quantity: int = 1) -> dict[str, Any]:
    return {"virtuemart_order_item_id": item_id, "product_final_price": D(final),
            "product_tax": D(tax), "product_quantity": quantity}


def vat_rule(item_id: int, rate: int) -> dict[str, Any]:
    return {"virtuemart_order_item_id": item_id, "calc_kind": "VatTax", "calc_value": D(rate),
            "calc_mathop": "+%"}


def order(**values: Any) -> dict[str, Any]:
    base = {"order_shipment": D(0), "order_shipment_tax": D(0), "order_payment": D(0),
            "order_payment_tax": D(0), "coupon_discount": D(0)}
    return {**base, **values}


ITEMS = [item(1, "14.88", "2.38", 2), item(2, "21.29", "1.39")]
RULES = [vat_rule(1, 19), vat_rule(2, 7)]


def test_an_items_rate_is_its_vat_rule_else_what_its_stored_tax_shows():
    assert item_rates(ITEMS, RULES) == {1: D(19), 2: D(7)}
    assert item_rates(ITEMS, RULES[:1]) == {1: D(19), 2: D(7)}     # 1.39 / 19.90


def test_shipment_without_a_rule_carries_the_biggest_groups_rate():
    """radicalShipPaymentVat: 29.76 at 19 % outweighs 21.29 at 7 %."""
    costs = charges(order(order_shipment=D("4.90"), order_shipment_tax=D("0.93")), ITEMS,
                    item_rates(ITEMS, RULES), RULES, bill_tax=None)

    assert costs.shipment is not None
    assert (costs.shipment.gross, costs.shipment.vat, costs.shipment.rate) == (
        D("5.83"), D("0.93"), D(19))


def test_a_charge_whose_tax_no_rate_explains_leaves_the_rate_to_the_erp():
    costs = charges(order(order_payment=D("2.00"), order_payment_tax=D("0.55")), ITEMS,
                    item_rates(ITEMS, RULES), RULES, bill_tax=None)

    assert costs.payment is not None and costs.payment.rate is None
    rows = costs.totals(subtotal=D("51.05"), total=D("53.60"), shipment=None,
                        payment="Nachnahme", coupon_code=None)
    assert "tax_rate" not in next(r for r in rows if r["class"] == "ot_payment")


def test_a_coupon_is_split_over_the_rates_with_the_vat_order_billtax_shows():
    """5.00 off 51.05 of goods: 29.76 / 51.05 of it at 19 %, the rest at 7 %; the VAT per
    part is the rule's stored result less the items' VAT."""
    bill = json.dumps({"1": {"calc_value": "19", "result": 4.76 - 0.46},
                       "2": {"calc_value": "7", "result": 1.39 - 0.14}})
    stored = _bill_tax({"order_billTax": bill, "virtuemart_order_id": 1})
    costs = charges(order(coupon_discount=D("-5.00")), ITEMS, item_rates(ITEMS, RULES), RULES,
                    bill_tax=stored)

    parts = {p.rate: (p.gross, p.vat) for p in costs.coupon}
    assert parts == {D(7): (D("-2.09"), D("-0.14")), D(19): (D("-2.91"), D("-0.46"))}
    assert sum(p.gross for p in costs.coupon) == D("-5.00")


def test_without_order_billtax_the_coupon_vat_is_virtuemarts_formula():
    costs = charges(order(coupon_discount=D("-5.00")), ITEMS, item_rates(ITEMS, RULES), RULES,
                    bill_tax=None)

    # round(-5.00 * 29.76 / 51.05 / 119 * 19, 2) and round(-5.00 * 21.29 / 51.05 / 107 * 7, 2)
    assert {p.rate: p.vat for p in costs.coupon} == {D(19): D("-0.47"), D(7): D("-0.14")}
