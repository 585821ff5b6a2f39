"""The oversell guard's arithmetic (B3, producers/cao/guard.py ``StockGuard.attach``): which
stock each guarded shop is sent. The ledger and the events are tested against MariaDB and
RabbitMQ in tests/integration/test_oversell_guard.py."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from producers.cao.guard import StockGuard
from shopbridge import config as cfg


def guard(**shops: dict[str, Any]) -> StockGuard:
    """Shops 'osc' (osCommerce) and 'vm' (VirtueMart), each with its oversell settings."""
    entries = [{"name": name, "url": f"mysql://shop@db/{name}", "oversell": oversell,
                **({"kind": "virtuemart", "virtuemart": {"prefix": "jos_"}}
                   if name == "vm" else {})}
               for name, oversell in shops.items()]
    settings = cfg.parse({"tenants": [{"name": "acme", "erp": {"url": "mysql://cao@db/cao"},
                                       "shops": entries}]})
    return StockGuard(broker=settings.broker, tenant=settings.tenants[0])


def sent(g: StockGuard, stock: str, **reserved: int) -> dict[str, str]:
    g.reserved = {1: {shop: Decimal(q) for shop, q in reserved.items()}} if reserved else {}
    body: dict[str, Any] = {"stock": stock}
    g.attach(1, body)
    return body.get("shop_stock", {})


def test_every_shops_open_orders_come_off_and_virtuemart_keeps_its_own_out():
    g = guard(osc={"enabled": True}, vm={"enabled": True})
    assert sent(g, "5.0000") == {}                                  # nothing open: no field
    assert sent(g, "5.0000", osc=1) == {"osc": "4.0000", "vm": "4.0000"}
    # VirtueMart deducts its own order itself (product_ordered): only osCommerce lacks it.
    assert sent(g, "5.0000", vm=2) == {"osc": "3.0000"}
    assert sent(g, "5.0000", vm=2, osc=1) == {"osc": "2.0000", "vm": "4.0000"}


def test_the_buffer_is_per_shop_and_nothing_goes_below_0():
    g = guard(osc={"enabled": True, "buffer": 2}, vm={"enabled": True})
    assert sent(g, "5.0000") == {"osc": "3.0000"}
    assert sent(g, "1.0000", osc=3) == {"osc": "0", "vm": "0"}


def test_an_unguarded_shop_gets_no_entry_and_a_tenant_without_guard_no_field():
    assert sent(guard(osc={"enabled": True}, vm={}), "5", osc=1) == {"osc": "4"}
    assert sent(guard(osc={}, vm={}), "5", osc=1) == {}


def test_a_masters_sum_lacks_its_childrens_and_its_own_open_orders():
    g = guard(osc={"enabled": True}, vm={"enabled": True})
    g.reserved = {11: {"osc": Decimal(2)}, 1: {"vm": Decimal(1)}}
    body: dict[str, Any] = {"stock": "10", "variants": [{"erp_id": 11, "stock": "3"},
                                                       {"erp_id": 12, "stock": "7"}]}
    g.attach(1, body)
    assert body["variants"][0]["shop_stock"] == {"osc": "1", "vm": "1"}
    assert "shop_stock" not in body["variants"][1]
    # osCommerce: 1 + 7, less vm's order on the master itself; VirtueMart: its own stays out.
    assert body["shop_stock"] == {"osc": "7.0000", "vm": "8.0000"}


def test_an_event_with_shop_stock_is_schema_v3_and_one_without_stays_v2():
    from producers.cao.guard import guarded_schema
    from shopbridge import events as ev
    from shopbridge import schemas

    def event(payload: dict[str, Any]) -> dict[str, Any]:
        made = ev.make_event("stock.changed", tenant="acme", source="cao:x", entity_key="1",
                             version=1, payload=payload)
        guarded_schema(made)
        schemas.validate(made)
        return made

    assert event({"erp_id": 1, "stock": "5"})["schema_version"] == 2
    assert event({"erp_id": 1, "stock": "5", "shop_stock": {"osc": "4"}})["schema_version"] == 3
    assert event({"erp_id": 1, "stock": "5", "shop_stock": {},
                  "variants": [{"erp_id": 2, "stock": "5", "shop_stock": {"vm": "0"}}]}
                 )["schema_version"] == 3


def test_a_guard_without_guarded_shops_reads_nothing():
    g = guard(osc={}, vm={})
    g.read_open(None)  # type: ignore[arg-type]   # no shop guarded: not even a query
    assert g.reserved == {}
