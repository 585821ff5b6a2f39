"""``shopbridge check`` for the Phoenix order producer: the tables it reads orders from,
what the shop's recent orders use (payment and shipping methods, countries), and the shop's
shipping modules' tax against orders.shipping_tax_code.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sqlalchemy.engine import Connection

from shopbridge.config import ShopConfig
from shopbridge.db import TableNames, rows_by_name, translated
from shopbridge.probes import ErpOrderFacts, OrderUsage, ShopOrders

from .orders import shipping_method

ORDER_TABLES = ("orders", "orders_total", "countries")


def check(conn: Connection, shop: ShopConfig, erp: ErpOrderFacts | None, *,
          sample: int) -> ShopOrders:
    """The ``ShopSourceProbe`` of osCommerce (Phoenix)."""
    names = TableNames.read(conn)
    found = ShopOrders()
    missing = [table for table in ORDER_TABLES if table not in names]
    found.problems = [f"table {table} missing: orders cannot be read" for table in missing]
    if not missing:
        with translated(f"shop {shop.name}: database {shop.db.safe}"):
            found.usage = _read_usage(conn, shop.orders.first_order_id, sample)
    if "configuration" in names and "tax_class" in names:
        _check_shipping_modules(conn, shop, erp, found)
    return found


def _recent_orders() -> str:
    """The shop's most recent orders from first_order_id on (parameters: that id, a limit)."""
    return ("(SELECT orders_id, payment_method, billing_country, billing_country_id, "
            "delivery_country, delivery_country_id FROM orders WHERE orders_id >= %s "
            "ORDER BY orders_id DESC LIMIT %s) o")


def _read_usage(conn: Connection, first_order_id: int, sample: int) -> OrderUsage:
    usage = OrderUsage()
    rows = conn.exec_driver_sql(
        "SELECT o.payment_method, bc.countries_iso_code_2, o.billing_country, "
        f"dc.countries_iso_code_2, o.delivery_country FROM {_recent_orders()} "
        "LEFT JOIN countries bc ON bc.countries_id = o.billing_country_id "
        "LEFT JOIN countries dc ON dc.countries_id = o.delivery_country_id",
        (first_order_id, sample)).all()
    for payment, billing_iso, billing, delivery_iso, delivery in rows:
        usage.orders += 1
        usage.payments[payment or ""] += 1
        usage.countries.update({iso for iso in (billing_iso, delivery_iso) if iso})
        usage.nameless.update({name for iso, name in ((billing_iso, billing),
                                                      (delivery_iso, delivery)) if not iso})
    totals: dict[int, list[Mapping[str, Any]]] = {}
    for row in rows_by_name(conn.exec_driver_sql(
            f"SELECT t.orders_id, t.class, t.title FROM {_recent_orders()} "
            "JOIN orders_total t ON t.orders_id = o.orders_id AND t.class = %s "
            "ORDER BY t.orders_id, t.sort_order, t.orders_total_id",
            (first_order_id, sample, "ot_shipping"))):
        totals.setdefault(row["orders_id"], []).append(row)
    usage.shippings.update(title for title in map(shipping_method, totals.values()) if title)
    return usage


def _check_shipping_modules(conn: Connection, shop: ShopConfig, erp: ErpOrderFacts | None,
                            found: ShopOrders) -> None:
    """Issue 8: do the shop's shipping modules tax shipping as orders.shipping_tax_code does?

    Phoenix keeps each module's tax class in ``configuration``: MODULE_SHIPPING_INSTALLED
    lists the module files ('flat.php;item.php'), MODULE_SHIPPING_<CODE>_STATUS 'True' offers
    the module at checkout (anything else, or no row: not offered), and
    MODULE_SHIPPING_<CODE>_TAX_CLASS is its tax class; ot_shipping adds tax only when that is
    > 0, so 0, no number or no row at all means untaxed shipping.

    The importer books shipping at the tax the order itself records and falls back to
    shipping_tax_code only where the order has no tax rows, so a disagreement breaks no import:
    it is a note. Untaxed agrees with a code whose ERP rate is 0; tax class N agrees when
    tax_classes maps the configured code, or another ERP code with the same rate, to N.
    Phoenix's own rate of class N (which depends on the delivery zone) is not read.
    """
    if erp is None:                 # ERP unreadable: already a problem; no rates to compare
        return
    code = shop.orders.shipping_tax_code
    rates = dict(erp.fallback_vat) | (erp.vat_rates or {})
    rate = rates.get(code)
    if rate is None:                # the frame's shipping tax check says so
        return
    config: dict[str, str] = dict(conn.exec_driver_sql(
        "SELECT configuration_key, configuration_value FROM configuration "
        "WHERE configuration_key LIKE %s", ("MODULE_SHIPPING_%",)).all())
    titles = {int(i): t for i, t in conn.exec_driver_sql(
        "SELECT tax_class_id, tax_class_title FROM tax_class")}
    percent = f"{rate.normalize():f} %"
    agree: list[str] = []
    disabled: list[str] = []
    for module in _installed(config.get("MODULE_SHIPPING_INSTALLED")):
        key = f"MODULE_SHIPPING_{module.upper()}_"
        if config.get(key + "STATUS") != "True":
            disabled.append(module)
            continue
        raw = config.get(key + "TAX_CLASS")
        class_id = _tax_class(raw)
        if class_id == 0:
            if rate == 0:
                agree.append(module)
                continue
            what = ("no tax (tax class 0)" if raw is not None and raw.strip() == "0" else
                    f"no tax ({key}TAX_CLASS {'not set' if raw is None else repr(raw)})")
            where = ""
        else:
            if any(n == class_id and rates.get(c) == rate for c, n in shop.tax_classes.items()):
                agree.append(module)
                continue
            mapped = shop.tax_classes.get(code)
            title = titles.get(class_id, "not in table tax_class")
            what = f"tax class {class_id} ({title})"
            where = (", which has no tax_classes entry" if mapped is None else
                     f", which tax_classes maps to class {mapped}")
        found.notes.append(
            f"shipping module {module} charges {what}, but "
            f"orders.shipping_tax_code {code} is {percent} in CAO{where}: orders whose tax "
            f"rows are missing would book its shipping at {percent}")
    parts = []
    if agree:
        parts.append(f"module(s) {', '.join(agree)} agree with orders.shipping_tax_code {code} "
                     f"({percent})")
    if disabled:
        parts.append(f"module(s) {', '.join(disabled)} not offered (STATUS not 'True'), "
                     "not compared")
    if parts:
        found.ok.append(f"shipping tax: {'; '.join(parts)}")


def _installed(value: str | None) -> list[str]:
    """Module codes from MODULE_SHIPPING_INSTALLED ('flat.php;item.php' -> flat, item)."""
    return [f.strip().removesuffix(".php") for f in (value or "").split(";") if f.strip()]


def _tax_class(raw: str | None) -> int:
    """A module's TAX_CLASS as ot_shipping uses it: a class > 0 taxes, anything else does not."""
    try:
        return max(int(str(raw).strip()), 0)
    except ValueError:
        return 0
