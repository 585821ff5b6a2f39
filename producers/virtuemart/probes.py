"""``shopbridge check`` for the VirtueMart order producer: the tables it reads orders from,
and what the shop's recent orders use (payment and shipment method names as the producer
sends them, countries) for the frame to compare with the shop's orders mappings."""

from __future__ import annotations

from sqlalchemy.engine import Connection

from shopbridge.config import ShopConfig
from shopbridge.db import TableNames, rows_by_name, translated
from shopbridge.errors import ConfigError
from shopbridge.probes import ErpOrderFacts, OrderUsage, ShopOrders

from .orders import PENDING, MethodNames
from .tables import ACCOUNT_TABLES, ORDER_TABLES, VmTables


def check(conn: Connection, shop: ShopConfig, erp: ErpOrderFacts | None, *,
          sample: int) -> ShopOrders:
    """The ``ShopSourceProbe`` of VirtueMart."""
    found = ShopOrders()
    try:
        t = VmTables.of(shop)
    except ConfigError as err:
        found.problems.append(str(err))
        return found
    names = TableNames.read(conn)
    missing = [t.name(base) for base in ORDER_TABLES if t.name(base) not in names]
    if len(missing) == len(ORDER_TABLES):
        return found        # no VirtueMart under this prefix: the shop's check names it
    found.problems = [f"table {table} missing: orders cannot be read" for table in missing]
    found.problems += [f"table {table} missing: accounts cannot be read"
                       for table in (*(t.name(b) for b in ACCOUNT_TABLES), t.users)
                       if table not in names and table not in missing]
    if not missing:
        with translated(f"shop {shop.name}: database {shop.db.safe}"):
            found.usage = _read_usage(conn, t, shop.orders.first_order_id, sample)
    return found


def _read_usage(conn: Connection, t: VmTables, first_order_id: int, sample: int) -> OrderUsage:
    """The most recent ``sample`` orders the producer would send (not P)."""
    usage = OrderUsage()
    orders = rows_by_name(conn.exec_driver_sql(
        "SELECT virtuemart_order_id, order_language, virtuemart_paymentmethod_id, "
        f"virtuemart_shipmentmethod_id FROM {t.orders} WHERE virtuemart_order_id >= %s "
        "AND order_status <> %s ORDER BY virtuemart_order_id DESC LIMIT %s",
        (first_order_id, PENDING, sample)))
    if not orders:
        return usage
    methods = MethodNames.read(conn, t, orders)
    for order in orders:
        usage.orders += 1
        usage.payments[methods.payment(order)] += 1
        shipment = methods.shipment(order)
        if shipment:
            usage.shippings[shipment] += 1
    ids = [o["virtuemart_order_id"] for o in orders]
    for iso, name in conn.exec_driver_sql(
            f"SELECT c.country_2_code, c.country_name FROM {t.order_userinfos} u "
            f"LEFT JOIN {t.countries} c ON c.virtuemart_country_id = u.virtuemart_country_id "
            f"WHERE u.virtuemart_order_id IN ({', '.join(['%s'] * len(ids))})", tuple(ids)):
        if iso:
            usage.countries[iso] += 1
        else:
            usage.nameless[name or "(no country)"] += 1
    return usage
