"""One VirtueMart shop's order producer: confirmed orders become ``order.placed`` events.

Checkout writes an order in status P (pending) and the payment plugin moves it on (U, C, ...);
``deleteOldPendingOrder`` may still delete a P order when the shopper confirms the cart again
(NOTES 7). So a P order is waited for: never published, never recorded, only counted. Every
other status is final enough to send; ``order.placed`` is keyed by ``virtuemart_order_id`` (CAO
keeps the shop's order id as an INT) and carries ``order_number``, the number the customer sees.

The feed (page, load, publish, record) is ``producers/feed.py``'s; this module supplies the
queries and turns VirtueMart's stored figures into the payload the ERP already understands
(``money.py``): gross lines, shipment and payment costs, the coupon split per VAT rate, the
VAT per rate as the shop stored it.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime
from decimal import Decimal
from typing import Any

import sqlalchemy as sa

from shopbridge.config import BrokerConfig, ShopConfig
from shopbridge.db import rows_by_name

from .. import links
from ..accounts import text
from ..feed import FeedCount, OrderFeed
from ..published import PublishedLog
from .addresses import ADDRESS_COLUMNS, address
from .money import Charges, charges, item_rates
from .tables import VmTables

log = logging.getLogger(__name__)

PAGE = 200
PUBLISHED = PublishedLog("shopbridge_order_out", "virtuemart_order_id", "o")
PENDING = "P"      # may still be deleted by deleteOldPendingOrder: never sent
# The link types whose target is a VirtueMart product: the catalogue consumer's products and
# its variant children (consumers/virtuemart/store.py CHILD_ENTITY).
PRODUCT_LINKS = ("product", "vm_variant")


def _iso(value: datetime | None) -> str | None:
    return None if value is None else value.strftime("%Y-%m-%dT%H:%M:%S")


def _dec(value: Decimal) -> str:
    """Decimal as the schemas take it (at most 6 places; VirtueMart stores 5)."""
    return str(value.quantize(Decimal("0.00001")))


def _header_sql(t: VmTables, placeholders: str) -> str:
    columns, joins = [], []
    for key in ("bt", "st"):
        columns += [f"{key}.{name} AS {key}_{name}" for name in ADDRESS_COLUMNS]
        columns += [f"{key}c.country_name AS {key}_country",
                    f"{key}c.country_2_code AS {key}_iso2", f"{key}s.state_name AS {key}_state",
                    f"{key}.virtuemart_order_userinfo_id AS {key}_id"]
        joins.append(
            f"LEFT JOIN {t.order_userinfos} {key} ON {key}.virtuemart_order_id = "
            f"o.virtuemart_order_id AND {key}.address_type = '{key.upper()}' "
            f"LEFT JOIN {t.countries} {key}c ON {key}c.virtuemart_country_id = "
            f"{key}.virtuemart_country_id "
            f"LEFT JOIN {t.states} {key}s ON {key}s.virtuemart_state_id = "
            f"{key}.virtuemart_state_id AND {key}.virtuemart_state_id <> 0")
    return (
        "SELECT o.virtuemart_order_id, o.order_number, o.virtuemart_user_id, o.order_status, "
        "o.order_total, o.order_salesPrice, o.order_tax, o.order_billTax, o.order_shipment, "
        "o.order_shipment_tax, o.order_payment, o.order_payment_tax, o.coupon_code, "
        "o.coupon_discount, o.order_language, o.created_on, o.virtuemart_paymentmethod_id, "
        "o.virtuemart_shipmentmethod_id, cur.currency_code_3, "
        f"{', '.join(columns)} FROM {t.orders} o "
        f"LEFT JOIN {t.currencies} cur ON cur.virtuemart_currency_id = o.order_currency "
        f"{' '.join(joins)} WHERE o.virtuemart_order_id IN ({placeholders}) "
        # Two BT rows (a hand-edited order) would repeat the order: the lowest id wins below.
        "ORDER BY o.virtuemart_order_id, bt.virtuemart_order_userinfo_id, "
        "st.virtuemart_order_userinfo_id")


def build_payload(shop: str, order: Mapping[str, Any], items: Sequence[Mapping[str, Any]],
                  rates: Mapping[int, Decimal], costs: Charges, erp_ids: Mapping[int, int],
                  *, payment: str, shipment: str | None) -> dict[str, Any]:
    """The order.placed payload of one order (pure: rows in, dict out, not validated).

    Args:
        rates: virtuemart_order_item_id -> the VAT rate in percent the line carried.
        costs: shipment, payment, coupon and the VAT per rate (``money.charges``).
        erp_ids: virtuemart_product_id -> the ERP article (the child's own for a variant).
        payment, shipment: the methods' names in the order's language.
    """
    registered = bool(order["virtuemart_user_id"])
    delivery = "st" if order["st_id"] is not None else "bt"
    language = (order["order_language"] or "").split("-")[0].lower() or None
    return {
        "shop": shop,
        "order_id": order["virtuemart_order_id"],
        "order_number": text(order["order_number"]),
        "placed_at": _iso(order["created_on"]),
        "currency": order["currency_code_3"] or "",
        "prices_include_tax": True,   # VirtueMart charges round(salesPrice) * quantity
        "language": language if language and len(language) == 2 else None,
        "customer": {
            "shop_customer_id": order["virtuemart_user_id"] if registered else None,
            "email": order["bt_email"] or "",
            "telephone": text(order["bt_phone_1"]),
            "guest": not registered,
            "gender": None,
            "date_of_birth": None,
        },
        "addresses": {"customer": address(order, "bt"), "billing": address(order, "bt"),
                      "delivery": address(order, delivery)},
        "payment_method": payment,
        "shipping_method": shipment,
        "items": [{
            "line": line,
            "shop_product_id": item["virtuemart_product_id"],
            "erp_id": erp_ids.get(item["virtuemart_product_id"]),
            "sku": text(item["order_item_sku"]),
            "name": item["order_item_name"],
            "quantity": item["product_quantity"],
            "price_net": _dec(item["product_item_price"] or Decimal(0)),
            "final_price_net": _dec(item["product_final_price"] - (item["product_tax"] or 0)),
            "final_price_gross": _dec(item["product_final_price"]),
            "vat": _dec((item["product_tax"] or Decimal(0)) * item["product_quantity"]),
            "tax_rate": _dec(rates.get(item["virtuemart_order_item_id"], Decimal(0))),
            "attributes": [],
        } for line, item in enumerate(items, start=1)],
        "totals": costs.totals(subtotal=order["order_salesPrice"], total=order["order_total"],
                               shipment=shipment, payment=payment,
                               coupon_code=order["coupon_code"]),
        "comment": text(order["bt_customer_note"]),
    }


class VmOrderProducer(OrderFeed):
    """Args:
        broker: broker settings.
        shop: the VirtueMart shop whose orders are read.
        engine: an engine on the shop database (default: one made from ``shop.db``).
    """

    kind = "virtuemart"
    published_log = PUBLISHED
    waiting_note = "orders wait in status P (pending: not paid or confirmed yet)"

    def __init__(self, *, broker: BrokerConfig, shop: ShopConfig,
                 engine: sa.Engine | None = None) -> None:
        super().__init__(broker=broker, shop=shop, engine=engine)
        self.t = VmTables.of(shop)

    def _count(self, conn: sa.Connection, *, published_known: bool) -> FeedCount:
        unpublished = f" AND {PUBLISHED.unpublished}" if published_known else ""
        new, waiting = conn.exec_driver_sql(
            "SELECT COALESCE(SUM(o.order_status <> %s), 0), COALESCE(SUM(o.order_status = %s), 0) "
            f"FROM {self.t.orders} o WHERE o.virtuemart_order_id >= %s{unpublished}",
            (PENDING, PENDING, self.first_id)).one()
        return FeedCount(new=int(new), waiting=int(waiting))

    def _page(self, conn: sa.Connection, after: int) -> list[int]:
        rows = conn.exec_driver_sql(
            f"SELECT o.virtuemart_order_id FROM {self.t.orders} o "
            "WHERE o.virtuemart_order_id > %s AND o.order_status <> %s "
            f"AND {PUBLISHED.unpublished} ORDER BY o.virtuemart_order_id LIMIT %s",
            (after, PENDING, PAGE))
        return [r[0] for r in rows]

    def _load(self, conn: sa.Connection, ids: Sequence[int]) -> list[tuple[int, dict[str, Any]]]:
        marks = ", ".join(["%s"] * len(ids))
        t = self.t

        def rows(sql: str, params: Iterable[Any] = ids) -> list[Mapping[str, Any]]:
            return rows_by_name(conn.exec_driver_sql(sql, tuple(params)))

        orders: dict[int, Mapping[str, Any]] = {}
        for order in rows(_header_sql(t, marks)):
            orders.setdefault(order["virtuemart_order_id"], order)
        items = rows(
            "SELECT virtuemart_order_id, virtuemart_order_item_id, virtuemart_product_id, "
            "order_item_sku, order_item_name, product_quantity, product_item_price, "
            "product_tax, product_final_price FROM "
            f"{t.order_items} WHERE virtuemart_order_id IN ({marks}) "
            "ORDER BY virtuemart_order_id, virtuemart_order_item_id")
        calcs = rows(
            "SELECT virtuemart_order_id, virtuemart_order_item_id, calc_kind, calc_value, "
            f"calc_mathop FROM {t.order_calc_rules} WHERE virtuemart_order_id IN ({marks}) "
            "ORDER BY virtuemart_order_calc_rule_id")
        names = MethodNames.read(conn, t, list(orders.values()))
        erp_ids = (links.erp_ids(conn, (i["virtuemart_product_id"] for i in items),
                                 shop=self.shop.name, entity_types=PRODUCT_LINKS)
                   if items and links.linked(conn) else {})
        by_order: dict[int, list[Mapping[str, Any]]] = {}
        for item in items:
            by_order.setdefault(item["virtuemart_order_id"], []).append(item)
        calcs_of: dict[int, list[Mapping[str, Any]]] = {}
        for calc in calcs:
            calcs_of.setdefault(calc["virtuemart_order_id"], []).append(calc)
        pages = []
        for order_id, order in orders.items():
            lines = by_order.get(order_id, [])
            rules = calcs_of.get(order_id, [])
            rates = item_rates(lines, rules)
            costs = charges(order, lines, rates, rules, bill_tax=_bill_tax(order))
            pages.append((order_id, build_payload(
                self.shop.name, order, lines, rates, costs, erp_ids,
                payment=names.payment(order), shipment=names.shipment(order))))
        return pages


def _bill_tax(order: Mapping[str, Any]) -> list[tuple[Decimal, Decimal]] | None:
    """(rate, VAT) per VAT rule of ``order_billTax`` (the checkout's ``cartData['VatTax']``):
    what the shop charged per rate, shipment, payment and coupon included; None: not stored."""
    raw = order["order_billTax"]
    if not raw:
        return None
    try:
        data = json.loads(raw)
        values = data.values() if isinstance(data, dict) else data
        return [(Decimal(str(v["calc_value"])), Decimal(str(v["result"]))) for v in values]
    except (ValueError, TypeError, KeyError, ArithmeticError):
        log.warning("order %s: order_billTax is not VirtueMart's JSON; VAT per rate is "
                    "computed from the lines", order["virtuemart_order_id"])
        return None


class MethodNames:
    """Payment and shipment method names in each order's language (else the first active
    language's, else the plugin element: a method deleted since still has a name)."""

    def __init__(self, names: Mapping[tuple[str, int, str], str],
                 elements: Mapping[tuple[str, int], str], default: str | None) -> None:
        self.names, self.elements, self.default = names, elements, default

    @classmethod
    def read(cls, conn: sa.Connection, t: VmTables,
             orders: Sequence[Mapping[str, Any]]) -> MethodNames:
        languages = t.languages(conn)
        wanted = {o["order_language"] for o in orders if o["order_language"] in languages}
        if languages:
            wanted.add(languages[0])
        names: dict[tuple[str, int, str], str] = {}
        elements: dict[tuple[str, int], str] = {}
        for kind in ("payment", "shipment"):
            ids = sorted({o[f"virtuemart_{kind}method_id"] for o in orders
                          if o[f"virtuemart_{kind}method_id"]})
            if not ids:
                continue
            marks = ", ".join(["%s"] * len(ids))
            for tag in sorted(wanted):
                table = t.methods_lang(kind, tag)
                if not t.has(conn, table):
                    continue
                for method_id, name in conn.exec_driver_sql(
                        f"SELECT virtuemart_{kind}method_id, {kind}_name FROM {table} "
                        f"WHERE virtuemart_{kind}method_id IN ({marks})", tuple(ids)):
                    if name:
                        names[kind, int(method_id), tag] = str(name)
            for method_id, element in conn.exec_driver_sql(
                    f"SELECT virtuemart_{kind}method_id, {kind}_element FROM "
                    f"{t.methods(kind)} WHERE virtuemart_{kind}method_id IN ({marks})",
                    tuple(ids)):
                elements[kind, int(method_id)] = str(element)
        return cls(names, elements, languages[0] if languages else None)

    def _name(self, kind: str, order: Mapping[str, Any]) -> str | None:
        method_id = order[f"virtuemart_{kind}method_id"]
        if not method_id:
            return None
        for tag in (order["order_language"], self.default):
            name = self.names.get((kind, int(method_id), tag or ""))
            if name:
                return name
        return self.elements.get((kind, int(method_id))) or f"{kind} method {method_id}"

    def payment(self, order: Mapping[str, Any]) -> str:
        return self._name("payment", order) or ""

    def shipment(self, order: Mapping[str, Any]) -> str | None:
        return self._name("shipment", order)
