"""Two shop kinds on one tenant (issue 11): one CAO database feeds a CE Phoenix (osCommerce)
shop and a VirtueMart shop, each with its own filter and price level. A full sync shows each
shop exactly its selection at its level. Then the VirtueMart database goes away for 20 s
(a TCP proxy stops listening and cuts every connection) while CAO's stock keeps changing:
the osCommerce shop shows every change as fast as before the outage, and afterwards the
VirtueMart shop catches up with all of them, with no product twice and nothing dead-lettered.

The producer (``produce --follow``) and the two consumers (``consume --shop``) run as child
processes, as they are deployed. The latencies (CAO commit to osCommerce row) are printed;
they are a measurement (bench/RESULTS.md), and the bound asserted on them is generous.
"""

from __future__ import annotations

import math
import random
import statistics
import time
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

import pytest

from shopbridge import brokers, sample, topology
from shopbridge import config as cfg
from tests import virtuemart_db
from tests.conftest import Database, fill_cao, shop_entry
from tests.helpers import storefront
from tests.integration.test_faults import assert_nothing_dead, write_config
from tests.services import BACK, UNAVAILABLE, Service
from tests.tcp_proxy import TcpProxy

DE = 2
ARTICLES = 240
# osCommerce sells CAO shop 1 (the even articles) at VK1; VirtueMart sells those of them
# numbered 100..199 at VK3, so every VirtueMart product is in both shops.
OSC_FILTER = {"cao_shop_id": 1}
VM_FILTER = {"cao_shop_id": 1, "sku_pattern": "A-0001*"}
OSC_LEVEL, VM_LEVEL = 1, 3
OUTAGE_S = 20.0
CHANGE_EVERY_S = (0.5, 1.0)  # random spacing: no fixed phase against the 0.5 s stock scan
BASELINE_CHANGES = 20
SHOWN_WITHIN_S = 3.0       # generous: the producer scans stock every 0.5 s
GIVE_UP_S = 15.0           # a change the osCommerce shop has not shown by then is a failure
CATCH_UP_S = 60.0          # after the outage: the consumer's longest backoff (15 s) plus a sync
VM = virtuemart_db.PREFIX + "virtuemart_"


# -- what each shop should show ----------------------------------------------------------------

def _osc_expected(cao: Database) -> dict[str, tuple[Any, ...]]:
    """The osCommerce selection by model: (German name, VK1, stock counted as available)."""
    return {sku: (name, price, max(int(stock), 0)) for sku, name, price, stock in cao.rows(
        "SELECT ARTNUM, KURZNAME, VK1, MENGE_AKT FROM artikel "
        "WHERE SHOP_ID = 1 AND SHOP_VISIBLE = 1")}


def _vm_expected(cao: Database) -> dict[str, tuple[Any, ...]]:
    """The VirtueMart selection by SKU: (German name, VK3 net, VK3 gross, stock)."""
    return {sku: (name, net, gross, max(int(stock), 0)) for sku, name, net, gross, stock in
            cao.rows("SELECT ARTNUM, KURZNAME, VK3, VK3B, MENGE_AKT FROM artikel "
                     "WHERE SHOP_ID = 1 AND SHOP_VISIBLE = 1 AND ARTNUM LIKE %s", ("A-0001%",))}


def _vm_shown(vm: Database) -> dict[str, tuple[Any, ...]]:
    """What VirtueMart's front end shows to everyone: published products with a German row
    and the group-0 price row from quantity 0 (a gross shop: the ERP's gross as the final
    price, override 1), by SKU: (name, net, gross, stock)."""
    rows = vm.rows(
        f"SELECT p.product_sku, l.product_name, pr.product_price, pr.product_override_price, "
        f"p.product_in_stock - p.product_ordered FROM {VM}products p "
        f"JOIN {VM}products_de_de l ON l.virtuemart_product_id = p.virtuemart_product_id "
        f"JOIN {VM}product_prices pr ON pr.virtuemart_product_id = p.virtuemart_product_id "
        f"AND pr.virtuemart_shoppergroup_id = 0 AND pr.price_quantity_start = 0 "
        f"AND pr.override = 1 WHERE p.published = 1")
    return {sku: (name, net, gross, int(stock)) for sku, name, net, gross, stock in rows}


def _vm_stock(vm: Database) -> dict[str, int]:
    return {sku: int(stock) for sku, stock in vm.rows(
        f"SELECT product_sku, product_in_stock - product_ordered FROM {VM}products")}


def _assert_vm_rows_once(vm: Database, skus: set[str]) -> None:
    """Each SKU is one product row with one row per language and one price row."""
    assert vm.rows(f"SELECT product_sku, COUNT(*) FROM {VM}products GROUP BY product_sku "
                   "HAVING COUNT(*) > 1") == []
    assert {r[0] for r in vm.rows(f"SELECT product_sku FROM {VM}products")} == skus
    for table in ("products_de_de", "products_en_gb", "product_prices"):
        assert vm.scalar(f"SELECT COUNT(*) FROM {VM}{table}") == len(skus), table


# -- set-up ------------------------------------------------------------------------------------

@pytest.fixture
def two_shops(broker_kind: str, cao_db: Database, phoenix_db: Database, vm: Database,
              namespace: str, tmp_path: Path) -> Iterator[dict[str, Any]]:
    """CAO with ARTICLES articles, half of them in CAO shop 1; a configuration with shop
    'osc' (Phoenix) and shop 'vm' (VirtueMart, whose database is reached through a proxy);
    on either broker kind (R5 on the embedded broker too, B5)."""
    rows = sample.articles(ARTICLES, shop_ids=(1, 2))
    fill_cao(cao_db, rows, sample.translations(rows))
    with TcpProxy(vm.url.port or 3306, vm.url.host or "127.0.0.1") as proxy:
        vm_url = vm.url.set(host="127.0.0.1", port=proxy.port)
        config = tmp_path / "shopbridge.toml"
        settings = write_config(config, namespace, cao_db, [
            shop_entry("osc", phoenix_db, price_level=OSC_LEVEL, filter=OSC_FILTER),
            virtuemart_db.shop_entry("vm", vm, price_level=VM_LEVEL, filter=VM_FILTER,
                                     url=vm_url.render_as_string(hide_password=False)),
        ])
        _declare(settings)
        yield {"config": config, "settings": settings, "proxy": proxy}


def _declare(settings: cfg.Settings) -> None:
    """The queues, declared from this process, so the namespace fixture removes them."""
    tenant = settings.tenants[0]
    brokers.declare(settings.broker, [*tenant.shops, topology.Target.for_erp(tenant.name)])


def _wait_for(condition: Callable[[], bool], timeout: float, what: str,
              services: Sequence[Service]) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        gone = [s for s in services if not s.alive()]
        assert not gone, f"{gone[0].label} exited while waiting for {what}\n{gone[0].tail()}"
        assert time.monotonic() < deadline, (f"gave up waiting for {what} after {timeout:.0f} s\n"
                                             + "\n".join(s.tail() for s in services))
        time.sleep(0.2)


# -- measuring ---------------------------------------------------------------------------------

class StockClock:
    """Changes one article's stock in CAO and times how long the osCommerce shop takes to
    show it (its products row, polled every 10 ms)."""

    def __init__(self, cao: Database, osc: Database, services: Sequence[Service]) -> None:
        self.cao, self.osc, self.services = cao, osc, services
        self.made: dict[str, int] = {}     # SKU -> the last stock set in CAO
        self.count = 0
        self.spacing = random.Random(11)   # reproducible spacing

    def change(self, sku: str) -> float:
        """Set a stock never seen before; returns the seconds until the shop shows it."""
        self.count += 1
        stock = 1000 + self.count
        self.cao.execute("UPDATE artikel SET MENGE_AKT = %s WHERE ARTNUM = %s", (stock, sku))
        committed = time.monotonic()
        self.made[sku] = stock
        while self.osc.scalar("SELECT products_quantity FROM products WHERE products_model = %s",
                              (sku,)) != stock:
            waited = time.monotonic() - committed
            assert waited < GIVE_UP_S, (f"osCommerce did not show {sku}'s stock {stock} within "
                                        f"{GIVE_UP_S:.0f} s\n"
                                        + "\n".join(s.tail() for s in self.services))
            time.sleep(0.01)
        return time.monotonic() - committed

    def run(self, skus: Sequence[str], *, changes: int | None = None,
            seconds: float | None = None) -> list[float]:
        """One change every CHANGE_EVERY_S (a random spacing in that range), cycling through
        ``skus``, for ``changes`` changes or until ``seconds`` have passed; the latency of
        each."""
        latencies: list[float] = []
        started = time.monotonic()
        while (changes is None or len(latencies) < changes) and \
                (seconds is None or time.monotonic() - started < seconds):
            slot = time.monotonic()
            latencies.append(self.change(skus[len(latencies) % len(skus)]))
            pause = self.spacing.uniform(*CHANGE_EVERY_S)
            time.sleep(max(0.0, pause - (time.monotonic() - slot)))
        return latencies


def _figures(latencies: Sequence[float]) -> dict[str, float]:
    ordered = sorted(latencies)
    p99 = ordered[max(0, math.ceil(0.99 * len(ordered)) - 1)]       # nearest rank
    return {"n": len(ordered), "p50": statistics.median(ordered), "p99": p99,
            "max": ordered[-1]}


def _report(label: str, latencies: Sequence[float]) -> str:
    f = _figures(latencies)
    return (f"{label}: {f['n']} stock changes, CAO commit -> osCommerce row: "
            f"p50 {f['p50'] * 1000:.0f} ms, p99 {f['p99'] * 1000:.0f} ms, "
            f"max {f['max'] * 1000:.0f} ms")


def _summary(service: Service) -> str:
    lines = [line for line in service.out.read_text(errors="replace").splitlines()
             if "dead-lettered" in line]
    assert len(lines) == 1, service.tail()
    return lines[0]


# -- the test ----------------------------------------------------------------------------------

@pytest.mark.slow
def test_a_virtuemart_outage_does_not_delay_the_oscommerce_shop(
        cao_db: Database, phoenix_db: Database, vm: Database, two_shops: dict[str, Any],
        start: Callable[..., Service]) -> None:
    config, proxy = two_shops["config"], two_shops["proxy"]
    services = [start(config, "produce", "--follow", "--stock-interval", "0.5", label="produce"),
                start(config, "consume", "--shop", "osc", label="consume-osc"),
                start(config, "consume", "--shop", "vm", label="consume-vm")]
    producer, osc_consumer, vm_consumer = services

    # A full sync: each shop shows exactly its selection, at its own price level.
    _wait_for(lambda: storefront(phoenix_db, DE) == _osc_expected(cao_db)
              and _vm_shown(vm) == _vm_expected(cao_db), 90, "the first sync", services)
    osc_selection, vm_selection = set(_osc_expected(cao_db)), set(_vm_expected(cao_db))
    assert (len(osc_selection), len(vm_selection)) == (ARTICLES // 2, 50)
    assert {r[0] for r in phoenix_db.rows("SELECT products_model FROM products")} == osc_selection
    _assert_vm_rows_once(vm, vm_selection)
    some = "A-000150"
    assert _osc_expected(cao_db)[some][1] != _vm_expected(cao_db)[some][1]   # VK1 vs VK3

    # The articles whose stock changes: in both shops, and in the osCommerce shop only.
    both = sorted(vm_selection)[:5]
    osc_only = sorted(osc_selection - vm_selection)[:5]
    changing = [sku for pair in zip(both, osc_only, strict=True) for sku in pair]
    clock = StockClock(cao_db, phoenix_db, services)
    baseline = clock.run(changing, changes=BASELINE_CHANGES)
    _wait_for(lambda: all(_vm_stock(vm)[sku] == clock.made[sku] for sku in clock.made
                          if sku in vm_selection), 30, "VirtueMart before the outage", services)
    vm_before = _vm_stock(vm)

    # The VirtueMart database goes away for OUTAGE_S while the stock keeps changing.
    proxy.close()
    during = clock.run(changing, seconds=OUTAGE_S)
    assert _vm_stock(vm) == vm_before, "a change reached VirtueMart through a closed proxy"
    assert [s for s in services if not s.alive()] == []
    proxy.reopen()
    reopened = time.monotonic()

    # VirtueMart catches up with the latest stock of every changed article; nothing is lost,
    # doubled or dead-lettered.
    _wait_for(lambda: _vm_shown(vm) == _vm_expected(cao_db), CATCH_UP_S,
              "VirtueMart to catch up", services)
    caught_up_s = time.monotonic() - reopened
    _wait_for(lambda: bool(vm_consumer.lines(BACK)), 10, "the VM consumer's 'back' line",
              services)
    assert storefront(phoenix_db, DE) == _osc_expected(cao_db)
    _assert_vm_rows_once(vm, vm_selection)
    assert [s.stop() for s in services] == [0, 0, 0]
    away, back = vm_consumer.lines(UNAVAILABLE), vm_consumer.lines(BACK)
    assert len(away) == 1 and "shop 'vm'" in away[0], vm_consumer.tail()
    assert len(back) == 1 and "shop 'vm'" in back[0], vm_consumer.tail()
    for service in (producer, osc_consumer):
        assert service.lines(UNAVAILABLE) == [], service.tail()
    for service in services:
        assert "Traceback" not in service.log() and " ERROR " not in service.log(), \
            service.tail()
    for consumer in (vm_consumer, osc_consumer):
        assert ", 0 to retry, 0 dead-lettered" in _summary(consumer), consumer.tail()
    assert_nothing_dead(two_shops["settings"], "osc", "vm")

    print("\n" + _report("before the outage", baseline))
    print(_report(f"VirtueMart database away {OUTAGE_S:.0f} s", during))
    print(f"VirtueMart caught up {caught_up_s:.1f} s after its database was back; "
          f"{back[0].split(' INFO ', 1)[-1]}; {_summary(vm_consumer)}")
    assert len(during) >= OUTAGE_S / CHANGE_EVERY_S[1]
    assert _figures(during)["max"] < SHOWN_WITHIN_S, _report("during the outage", during)
