"""One shop's order producer: final CE Phoenix orders become ``order.placed`` events for the ERP.

An order is final once it has an ``orders_status_history`` row (NOTES 5). PayPal Standard and
similar modules insert the order *before* payment, with a non-public "Preparing" status and no
history row, and the shop deletes it if the customer abandons; such an order is waited for:
never published, never recorded, only counted. Phoenix 1.1 writes the history row after the
order's products, totals and attributes (checkout segments insert_order, then insert_history),
so a final order is also complete.

Final orders are fed to the ERP page by page (``producers/feed.py``): each page is published
and only then recorded in ``shopbridge_order_out``, so a crash re-publishes rather than loses
(as the CAO producer does); the ERP side deduplicates by ``entity_key`` (``<shop>:<orders_id>``).

A line that ordered a variant (options the pipeline created from the ERP's dimensions) names
the master's article in ``erp_id`` and the child's in ``variant`` (``variants.py``), read
from the consumer's link table in a few queries per page.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping, Sequence
from datetime import date, datetime
from decimal import Decimal
from typing import Any

import sqlalchemy as sa

from shopbridge.config import BrokerConfig, ShopConfig
from shopbridge.db import rows_by_name

from .. import links
from ..feed import FeedCount, FeedReport, OrderFeed
from ..links import LINK_TABLE
from ..published import PublishedLog
from .variants import VariantResolver

log = logging.getLogger(__name__)

PAGE = 200                    # orders per page (one read transaction, one publish, one INSERT)
PUBLISHED = PublishedLog("shopbridge_order_out", "orders_id", "o")


_FINAL = ("EXISTS (SELECT 1 FROM orders_status_history h "
          "WHERE h.orders_id = o.orders_id)")

# The three address blocks of an order: (payload key, column prefix, countries alias).
_ADDRESSES = (("customer", "customers", "cc"), ("billing", "billing", "bc"),
              ("delivery", "delivery", "dc"))
_ADDRESS_FIELDS = ("name", "company", "street_address", "suburb", "postcode", "city", "state",
                   "country")


def _header_sql(placeholders: str) -> str:
    columns, joins = [], []
    for key, prefix, alias in _ADDRESSES:
        columns += [f"o.{prefix}_{name} AS {key}_{name}" for name in _ADDRESS_FIELDS]
        columns.append(f"{alias}.countries_iso_code_2 AS {key}_iso2")
        joins.append(f"LEFT JOIN countries {alias} ON {alias}.countries_id = o.{prefix}_country_id")
    return (
        "SELECT o.orders_id, o.customers_id, cu.customers_id AS registered_id, "
        "cu.customers_gender, cu.customers_dob, o.customers_email_address, "
        "o.customers_telephone, o.payment_method, o.date_purchased, o.orders_status, "
        f"o.currency, o.currency_value, {', '.join(columns)} FROM orders o "
        # customers_id 0 is a guest checkout, whatever the customers table holds.
        "LEFT JOIN customers cu ON cu.customers_id = o.customers_id AND o.customers_id <> 0 "
        f"{' '.join(joins)} WHERE o.orders_id IN ({placeholders}) ORDER BY o.orders_id")


# The package's names for them: new = final (has a status-history row), not yet published;
# waiting = no status-history row yet (unpaid "preparing" orders).
OrderCount = FeedCount
OrderCycleReport = FeedReport


def _text(value: str | None) -> str | None:
    """Optional text: the shop stores '' for "not given"."""
    return value if value else None


def _money(value: Decimal | None) -> str | None:
    return None if value is None else str(value)


def _iso(value: datetime | None) -> str | None:
    return None if value is None else value.strftime("%Y-%m-%dT%H:%M:%S")


def prices_include_tax(conn: sa.Connection) -> bool:
    """The shop's DISPLAY_PRICE_WITH_TAX: checkout rounds each unit's gross price where 'true'
    (Phoenix cart_order_builder / currencies::calculate_price), the net price otherwise."""
    value = conn.exec_driver_sql(
        "SELECT configuration_value FROM configuration WHERE configuration_key = %s",
        ("DISPLAY_PRICE_WITH_TAX",)).scalar()
    return str(value or "").strip().lower() == "true"


def shipping_method(totals: Sequence[Mapping[str, Any]]) -> str | None:
    """The ot_shipping title ("Flat Rate (Best Way):") without its trailing colon."""
    for row in totals:
        if row["class"] == "ot_shipping" and row["title"]:
            title = row["title"].rstrip()
            return _text(title.removesuffix(":").rstrip())
    return None


def _address(order: Mapping[str, Any], key: str) -> dict[str, Any]:
    return {
        "name": order[f"{key}_name"],
        "company": _text(order[f"{key}_company"]),
        "street": order[f"{key}_street_address"],
        "suburb": _text(order[f"{key}_suburb"]),
        "postcode": order[f"{key}_postcode"],
        "city": order[f"{key}_city"],
        "state": _text(order[f"{key}_state"]),
        "country": order[f"{key}_country"],
        "country_iso2": _text(order[f"{key}_iso2"]),
    }


def build_payload(shop: str, order: Mapping[str, Any], items: Sequence[Mapping[str, Any]],
                  attributes: Mapping[int, Sequence[Mapping[str, Any]]],
                  totals: Sequence[Mapping[str, Any]], first_history: Mapping[str, Any],
                  erp_ids: Mapping[int, int], *, prices_include_tax: bool,
                  variants: Mapping[int, Mapping[str, Any]] | None = None) -> dict[str, Any]:
    """The order.placed payload of one order (pure: rows in, dict out, not validated).

    Args:
        prices_include_tax: the shop's DISPLAY_PRICE_WITH_TAX: how checkout rounded the lines.
        variants: orders_products_id -> ``items[].variant`` of lines that ordered one.
    """
    variants = variants or {}
    registered = order["registered_id"] is not None
    dob = order["customers_dob"]
    comment = first_history.get("comments")
    return {
        "shop": shop,
        "order_id": order["orders_id"],
        # date_purchased is nullable in the DDL; checkout always sets it, the history row's
        # NOT NULL date_added stands in for the odd hand-made order.
        "placed_at": _iso(order["date_purchased"] or first_history.get("date_added")),
        "currency": order["currency"],
        **({"currency_value": _money(order["currency_value"])}
           if order["currency_value"] is not None else {}),
        "prices_include_tax": prices_include_tax,
        "status_id": order["orders_status"],
        "language": None,  # Phoenix does not store the checkout language with the order
        "customer": {
            "shop_customer_id": order["customers_id"] if registered else None,
            "email": order["customers_email_address"],
            "telephone": _text(order["customers_telephone"]),
            "guest": not registered,
            "gender": _text(order["customers_gender"]) if registered else None,
            "date_of_birth": dob.isoformat() if registered and isinstance(dob, date) else None,
        },
        "addresses": {key: _address(order, key) for key, _, _ in _ADDRESSES},
        "payment_method": order["payment_method"],
        "shipping_method": shipping_method(totals),
        "items": [{
            "line": line,
            "shop_product_id": item["products_id"],
            "erp_id": erp_ids.get(item["products_id"]),
            "sku": _text(item["products_model"]),
            "name": item["products_name"],
            "quantity": item["products_quantity"],
            "price_net": _money(item["products_price"]),
            "final_price_net": _money(item["final_price"]),
            "tax_rate": _money(item["products_tax"]),
            "attributes": [{
                "option": a["products_options"],
                "value": a["products_options_values"],
                "price_net": _money(a["options_values_price"]),
                "prefix": (a["price_prefix"] or "").strip(),
            } for a in attributes.get(item["orders_products_id"], ())],
            **({"variant": variants[item["orders_products_id"]]}
               if item["orders_products_id"] in variants else {}),
        } for line, item in enumerate(items, start=1)],
        "totals": [{
            "class": t["class"], "title": t["title"], "value": _money(t["value"]),
            "sort_order": t["sort_order"],
        } for t in totals],
        # The first history row is the one checkout writes, with the customer's comment.
        "comment": comment if comment and comment.strip() else None,
    }


class PhoenixOrderProducer(OrderFeed):
    """Args:
        broker: broker settings.
        shop: the shop whose orders are read.
        engine: an engine on the shop database (default: one made from ``shop.db``).
    """

    kind = "oscommerce"
    published_log = PUBLISHED
    waiting_note = "orders wait for their first status-history row"

    def __init__(self, *, broker: BrokerConfig, shop: ShopConfig,
                 engine: sa.Engine | None = None) -> None:
        super().__init__(broker=broker, shop=shop, engine=engine)
        self.variants = VariantResolver(link_table=LINK_TABLE, shop=shop.name)

    def _count(self, conn: sa.Connection, *, published_known: bool) -> OrderCount:
        unpublished = f" AND {PUBLISHED.unpublished}" if published_known else ""
        first = self.first_id
        new = conn.exec_driver_sql(
            f"SELECT COUNT(*) FROM orders o WHERE o.orders_id >= %s AND {_FINAL}{unpublished}",
            (first,)).scalar_one()
        waiting = conn.exec_driver_sql(
            f"SELECT COUNT(*) FROM orders o WHERE o.orders_id >= %s AND NOT {_FINAL}"
            f"{unpublished}", (first,)).scalar_one()
        return OrderCount(new=int(new), waiting=int(waiting))

    def _page(self, conn: sa.Connection, after: int) -> list[int]:
        rows = conn.exec_driver_sql(
            f"SELECT o.orders_id FROM orders o WHERE o.orders_id > %s AND {_FINAL} "
            f"AND {PUBLISHED.unpublished} ORDER BY o.orders_id LIMIT %s", (after, PAGE))
        return [r[0] for r in rows]

    def _load(self, conn: sa.Connection, ids: Sequence[int]) -> list[tuple[int, dict[str, Any]]]:
        """(orders_id, payload) of ``ids``, read in one transaction (one consistent snapshot)."""
        marks = ", ".join(["%s"] * len(ids))

        def rows(sql: str, params: Iterable[Any] = ids) -> list[Mapping[str, Any]]:
            return rows_by_name(conn.exec_driver_sql(sql, tuple(params)))

        orders = rows(_header_sql(marks))
        items = rows(
            "SELECT orders_id, orders_products_id, products_id, products_model, products_name, "
            "products_price, final_price, products_tax, products_quantity FROM orders_products "
            f"WHERE orders_id IN ({marks}) ORDER BY orders_id, orders_products_id")
        attributes = rows(
            "SELECT orders_products_id, products_options, products_options_values, "
            "options_values_price, price_prefix FROM orders_products_attributes "
            f"WHERE orders_id IN ({marks}) ORDER BY orders_products_attributes_id")
        totals = rows(
            "SELECT orders_id, class, title, value, sort_order FROM orders_total "
            f"WHERE orders_id IN ({marks}) ORDER BY orders_id, sort_order, orders_total_id")
        # The lowest id is the row checkout wrote: date_added has only second precision.
        history = rows(
            "SELECT h.orders_id, h.comments, h.date_added FROM orders_status_history h "
            "JOIN (SELECT MIN(orders_status_history_id) AS first_id FROM orders_status_history "
            f"WHERE orders_id IN ({marks}) GROUP BY orders_id) f "
            "ON f.first_id = h.orders_status_history_id")
        linked = bool(items) and links.linked(conn)
        erp_ids = links.erp_ids(conn, (i["products_id"] for i in items),
                                shop=self.shop.name) if linked else {}
        gross = prices_include_tax(conn)

        by_order: dict[int, list[Mapping[str, Any]]] = {}
        for item in items:
            by_order.setdefault(item["orders_id"], []).append(item)
        by_line: dict[int, list[Mapping[str, Any]]] = {}
        for attribute in attributes:
            by_line.setdefault(attribute["orders_products_id"], []).append(attribute)
        variants = self.variants.resolve(conn, items, by_line) if linked and by_line else {}
        totals_of: dict[int, list[Mapping[str, Any]]] = {}
        for total in totals:
            totals_of.setdefault(total["orders_id"], []).append(total)
        first = {h["orders_id"]: h for h in history}
        return [(o["orders_id"], build_payload(
            self.shop.name, o, by_order.get(o["orders_id"], []), by_line,
            totals_of.get(o["orders_id"], []), first.get(o["orders_id"], {}), erp_ids,
            prices_include_tax=gross, variants=variants))
            for o in orders]
